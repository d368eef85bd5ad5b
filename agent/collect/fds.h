/* SPDX-License-Identifier: MIT */
/*
 * The target's file descriptors by type, from /proc/PID/fd, and its RLIMIT_NOFILE from
 * /proc/PID/limits.
 */
#ifndef UVSCOPE_FDS_H
#define UVSCOPE_FDS_H

#include <stdint.h>
#include <sys/types.h>

#include "core/snapshot.h"

/* Counts the open fds of pid by type into *out (limit included). Returns 0 or -errno. */
int uvs_fds_scan(pid_t pid, struct uvs_fd_snapshot *out);

/* The soft RLIMIT_NOFILE of pid (UINT64_MAX: unlimited), 0 when unreadable. */
uint64_t uvs_fds_limit(pid_t pid);

/* The type of one fd from its /proc link text and its file mode (from stat). */
enum uvs_fd_type uvs_fd_classify(const char *link, mode_t mode);

/* The soft and hard "Max open files" of /proc/PID/limits text; -ENOENT when absent. */
int uvs_parse_limits_nofile(const char *text, uint64_t *soft, uint64_t *hard);

#endif
