// SPDX-License-Identifier: MIT
#include "cli/alert_rules.h"
#include "core/rules_file.h"

int uvs_cli_alert_rules(struct uvs_cli *cli, struct uvs_alert_config *c, FILE *err)
{
	char why[512];

	uvs_alert_config_default(c);
	if (cli->rules_file && uvs_rules_load(cli->rules_file, c, why, sizeof(why))) {
		fprintf(err, "uvscope: bad rules file: %s\n", why);
		return UVS_CLI_USAGE;
	}
	if (cli->block_ms_given)
		c->rule[UVS_ALERT_LOOP_BLOCKED].threshold = (double)cli->block_ns;
	else
		cli->block_ns = uvs_alert_config_block_ns(c);
	return UVS_CLI_OK;
}
