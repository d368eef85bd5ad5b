/* SPDX-License-Identifier: MIT */
/*
 * Open fds kept current between /proc/PID/fd scans: a scan is the baseline, and the BPF
 * counters of fds opened and closed since (by type) move it. A rescan replaces the baseline
 * when the syscalls could not say exactly what changed (close_range, fds received over a
 * socket, io_uring), and in any case every `rescan_ns`; it also measures the drift.
 */
#ifndef UVSCOPE_FD_TRACKER_H
#define UVSCOPE_FD_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "uvscope/syscalls.h"

struct uvs_fd_tracker {
	bool have_base;
	uint64_t base[UVS_FD_TYPES];   /* by type at the last scan */
	uint64_t limit;                /* RLIMIT_NOFILE at the last scan */
	struct uvs_sys_counters mark;  /* the BPF counters just before that scan */
	uint64_t scanned_mono;         /* when */
	uint64_t rescan_ns;            /* rescan at least this often */
};

/* The fds by type now: the baseline moved by the opens and closes counted since. */
void uvs_fd_tracker_estimate(const struct uvs_fd_tracker *t, const struct uvs_sys_counters *now,
			     uint64_t out[UVS_FD_TYPES]);

/* Whether the next window should read /proc/PID/fd again rather than trust the counters. */
bool uvs_fd_tracker_needs_scan(const struct uvs_fd_tracker *t, const struct uvs_sys_counters *now,
			       uint64_t now_mono);

/*
 * Takes a scan (made just after reading `before`) as the new baseline. Returns the drift:
 * what the counters said minus what the scan found, all types together (0 for the first).
 */
int64_t uvs_fd_tracker_rebase(struct uvs_fd_tracker *t, const struct uvs_sys_counters *before,
			      const struct uvs_fd_snapshot *scan, uint64_t now_mono);

#endif
