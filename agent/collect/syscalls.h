/* SPDX-License-Identifier: MIT */
/*
 * The target's system calls (bpf/syscalls.bpf.c): attaching the tracepoints, reading the
 * cumulative per-(thread, syscall) statistics each window (the math is collect/syscall_window.c),
 * slow syscalls on loop threads as they come, and the fd open/close counters. Formats nothing.
 */
#ifndef UVSCOPE_SYSCALLS_H_AGENT
#define UVSCOPE_SYSCALLS_H_AGENT

#include <stdbool.h>
#include <stdint.h>

#include "collect/collector.h"
#include "collect/loop.h"
#include "collect/syscall_window.h"
#include "core/snapshot.h"
#include "target/process.h"
#include "uvscope/syscalls.h"

struct syscalls_bpf;

struct uvs_syscalls {
	struct syscalls_bpf *skel;
	bool attached;
	char why[320];            /* why syscalls are not measured, when they are not */
	uint64_t slow_ns;
	struct uvs_target *target;
	const struct uvs_collect_sink *sink;
	struct uvs_sys_window math;
	struct uvs_sys_stats *scratch;
	struct uvs_slow_call slow[UVS_MAX_SLOW_CALLS];
	size_t nslow;
	uint64_t window_slow;
	uint64_t session_slow;
	struct uvs_sys_counters prev; /* the counters at the last window */
};

/*
 * Loads and attaches the syscall tracepoints for the target. The object shares the loop
 * object's map of loop threads (slow syscalls are reported for those only), so `loops` must be
 * attached first. Returns 0, or -errno with s->why set; syscalls are then not measured.
 */
int uvs_syscalls_attach(struct uvs_syscalls *s, struct uvs_target *t, const struct uvs_loops *loops,
			const struct uvs_collect_sink *sink, uint64_t slow_ns, bool track_fds);

/* Detaches and frees; safe on a zeroed struct. */
void uvs_syscalls_quiesce(struct uvs_syscalls *s);
void uvs_syscalls_detach(struct uvs_syscalls *s);

/* The slow-syscall ring buffer's map fd, and the callback that takes its records. */
int uvs_syscalls_events_fd(const struct uvs_syscalls *s);
int uvs_syscalls_on_slow(void *ctx, void *data, size_t len);

/* Reads the process-wide counters (fd opens and closes by type). Returns 0 or -errno. */
int uvs_syscalls_counters(const struct uvs_syscalls *s, struct uvs_sys_counters *out);

/*
 * Fills *out with the window since the last call (after uvs_target_refresh_threads), and the
 * syscall losses into *agent; frees the entries of threads that exited.
 */
void uvs_syscalls_window(struct uvs_syscalls *s, struct uvs_syscalls_snapshot *out,
			 struct uvs_agent_snapshot *agent);

/* The session so far (no new window is taken). */
void uvs_syscalls_totals(struct uvs_syscalls *s, struct uvs_syscalls_snapshot *out,
			 struct uvs_agent_snapshot *agent);

/* Where a thread of this role counts its syscalls. */
enum uvs_sys_role uvs_sys_role_of(enum uvs_role role, bool known);

#endif
