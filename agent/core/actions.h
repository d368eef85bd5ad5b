/* SPDX-License-Identifier: MIT */
/*
 * --on-alert: runs a command for each alert that fires or resolves, never blocking the agent.
 * At most UVS_ACTIONS_MAX run at once; an alert that comes while they all run is not acted on,
 * and counted. A command still running at the timeout gets SIGTERM (its whole process group),
 * and SIGKILL UVS_ACTIONS_GRACE_NS later. Children are reaped from a signalfd for SIGCHLD that
 * the caller's event loop watches; deadlines are checked when the caller ticks.
 */
#ifndef UVSCOPE_ACTIONS_H
#define UVSCOPE_ACTIONS_H

#include <stdint.h>

#include "core/snapshot.h"

#define UVS_ACTIONS_MAX 4
#define UVS_ACTIONS_GRACE_NS 2000000000ULL

struct uvs_actions;

struct uvs_actions_stats {
	uint64_t started;   /* commands started */
	uint64_t succeeded; /* ... that exited with status 0 */
	uint64_t failed;    /* ... that exited otherwise, or could not be executed */
	uint64_t timed_out; /* ... that were still running at the timeout (killed) */
	uint64_t busy;      /* alerts not acted on: UVS_ACTIONS_MAX commands were running */
	uint64_t not_run;   /* alerts not acted on: the command could not be found or started */
};

/*
 * Splits cmd into words (util/words.h) and checks that it can be found. Blocks SIGCHLD (read
 * from uvs_actions_fd instead). NULL with the reason in why when cmd does not split, or
 * when out of memory; a command not found now is said once (it may appear later).
 */
struct uvs_actions *uvs_actions_new(const char *cmd, uint64_t timeout_ns, char *why, size_t cap);

/* Readable when a command may have ended: then call uvs_actions_reap. */
int uvs_actions_fd(const struct uvs_actions *a);

/* Starts the command for alert a (or counts why not). now_mono: CLOCK_MONOTONIC, ns. */
void uvs_actions_run(struct uvs_actions *a, const struct uvs_alert *alert, uint64_t now_mono);

/* Collects the commands that ended and says how those that failed ended. */
void uvs_actions_reap(struct uvs_actions *a);

/* Signals the commands past their timeout (SIGTERM) or past the grace after it (SIGKILL). */
void uvs_actions_tick(struct uvs_actions *a, uint64_t now_mono);

/* Commands running now. */
unsigned int uvs_actions_running(const struct uvs_actions *a);

/* At the end: waits for the running commands, each at most until its timeout and grace. */
void uvs_actions_drain(struct uvs_actions *a);

void uvs_actions_stats(const struct uvs_actions *a, struct uvs_actions_stats *out);

/* Frees a (NULL is fine); commands still running are left to finish on their own. */
void uvs_actions_free(struct uvs_actions *a);

#endif
