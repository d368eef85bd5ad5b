/* SPDX-License-Identifier: MIT */
/* The alert rules a command runs with: the defaults, the --rules file, then the command line. */
#ifndef UVSCOPE_CLI_ALERT_RULES_H
#define UVSCOPE_CLI_ALERT_RULES_H

#include <stdio.h>

#include "cli/options.h"
#include "core/rules.h"

/*
 * Fills *c from the defaults and cli->rules_file; --block-ms wins over the file's loop_blocked
 * threshold, and cli->block_ns becomes the threshold in force (the collector's). Returns
 * UVS_CLI_OK, or UVS_CLI_USAGE after saying on err what is wrong with the file: uvscope must
 * not start on a rules file it cannot read.
 */
int uvs_cli_alert_rules(struct uvs_cli *cli, struct uvs_alert_config *c, FILE *err);

#endif
