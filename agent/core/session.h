/* SPDX-License-Identifier: MIT */
/*
 * One attach session, from start to end: open the target, attach a collector, drop privileges,
 * then run the agent's event loop (collector events, an interval timer, a fast block-check
 * timer, signals, the target's pidfd and, in top, the keyboard), hand every window, alert and
 * record to the outputs through the alert engine, and detach with a summary.
 */
#ifndef UVSCOPE_SESSION_H
#define UVSCOPE_SESSION_H

#include "cli/options.h"
#include "core/rules.h"

/*
 * flame with --backend auto, BPF refused at attach (the privilege check passed): nothing was
 * sampled, the caller runs flame in the proc backend (core/flame_proc.h) instead.
 */
#define UVS_SESSION_FLAME_PROC 100

/*
 * Runs top, watch, flame, trace or serve as the options say, judging alerts by `rules`; returns the
 * process exit status (UVS_EXIT_ALERT when --exit-on-alert ended it), or UVS_SESSION_FLAME_PROC.
 */
int uvs_session_run(const struct uvs_cli *cli, const struct uvs_alert_config *rules);

#endif
