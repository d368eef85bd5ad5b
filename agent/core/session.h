/* SPDX-License-Identifier: MIT */
/*
 * One attach session: the agent's own event loop. It waits on the ring buffer, an interval
 * timer, a fast block-check timer, signals, the target's pidfd and (in top) the keyboard,
 * and hands snapshots and alerts to the output the user chose.
 */
#ifndef UVSCOPE_SESSION_H
#define UVSCOPE_SESSION_H

#include "cli/options.h"

/* Runs top or watch as the options say; returns the process exit status. */
int uvs_session_run(const struct uvs_cli *cli);

#endif
