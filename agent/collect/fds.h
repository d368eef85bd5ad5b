/* SPDX-License-Identifier: MIT */
/*
 * The target's file descriptors per window: by type from this window's /proc/PID/fd read, or,
 * with syscall tracing, a /proc baseline moved by the syscalls that open and close fds (read
 * again when they could not be followed, and every rescan period); growth since the last
 * window; RLIMIT_NOFILE from /proc/PID/limits. Pure but for the limits read.
 */
#ifndef UVSCOPE_FDS_H
#define UVSCOPE_FDS_H

#include <stdint.h>
#include <sys/types.h>

#include "collect/fd_table.h"
#include "collect/fd_tracker.h"
#include "core/snapshot.h"
#include "uvscope/syscalls.h"

struct uvs_fds {
	struct uvs_fd_tracker tracker;
	bool seen;           /* a window has been taken */
	uint64_t prev_open;  /* at the last window, for growth */
};

void uvs_fds_init(struct uvs_fds *f, uint64_t rescan_ns);

/*
 * Whether this window's fd figures need /proc/PID/fd: always without syscall counters
 * (counters NULL), else when the tracker says so.
 */
bool uvs_fds_need_table(const struct uvs_fds *f, const struct uvs_sys_counters *counters,
			uint64_t now_mono);

/*
 * Takes a table read just after `counters` as the baseline the syscalls move (at attach, and
 * at each rescan). Returns the drift (counted minus found; 0 the first time).
 */
int64_t uvs_fds_rebase(struct uvs_fds *f, const struct uvs_sys_counters *counters,
		       const struct uvs_fd_table *table, uint64_t now_mono);

/*
 * Fills out with the window's fds: from `table` (read this window, or NULL when it was not
 * needed) and the syscall counters (NULL without syscall tracing); limit is RLIMIT_NOFILE.
 */
void uvs_fds_window(struct uvs_fds *f, const struct uvs_sys_counters *counters,
		    const struct uvs_fd_table *table, uint64_t limit, uint64_t now_mono,
		    struct uvs_fd_snapshot *out);

/* The soft RLIMIT_NOFILE of pid (UINT64_MAX: unlimited), 0 when unreadable. */
uint64_t uvs_fds_limit(pid_t pid);

/* The type of one fd from its /proc link text and its file mode (from stat). */
enum uvs_fd_type uvs_fd_classify(const char *link, mode_t mode);

/* The soft and hard "Max open files" of /proc/PID/limits text; -ENOENT when absent. */
int uvs_parse_limits_nofile(const char *text, uint64_t *soft, uint64_t *hard);

#endif
