/* SPDX-License-Identifier: MIT */
/*
 * One --on-alert command started for one alert, with nothing of the agent's: the alert as JSON
 * on its stdin (a sealed memfd), UVSCOPE_* variables in its environment, stdout to the agent's
 * stderr (stdout may be JSON lines), its own process group (so a timeout ends what it started),
 * no capabilities, no_new_privs, the default signal mask, and no fd of the agent's (the BPF
 * programs and maps, the target's files) past exec.
 */
#ifndef UVSCOPE_ACTION_CHILD_H
#define UVSCOPE_ACTION_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "core/snapshot.h"

/*
 * The executable argv[0] names: itself when it holds a '/', else the first executable regular
 * file of that name in $PATH (default /usr/local/bin:/usr/bin:/bin). Returns 0 or -errno.
 */
int uvs_action_resolve(const char *argv0, char *path, size_t cap);

/*
 * Starts path with argv for alert a. On success *pid is the child (leading its own process
 * group) and *errfd the read end of a pipe that holds the errno of a failed exec (EOF once the
 * exec succeeded). Returns 0 or -errno (nothing was started).
 */
int uvs_action_spawn(const char *path, char *const argv[], const struct uvs_alert *a, pid_t *pid,
		     int *errfd);

#endif
