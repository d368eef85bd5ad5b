/* SPDX-License-Identifier: MIT */
/*
 * The target's system calls (bpf/syscalls.bpf.c): attaching the tracepoints, reading the
 * cumulative per-(thread, syscall) statistics each window (the math is collect/syscall_window.c),
 * slow syscalls on loop threads as they come, and the fd open/close counters. Formats nothing.
 *
 * One object serves every target of the agent (collect/bpf_shared.h): the first target loads
 * it, and the sys_enter / sys_exit tracepoints, which run in every process on the host, are
 * attached while at least one target holds them (the first in attaches them, the last out, at
 * its quiesce or detach, takes them away). A target's own part is its slot: its statistics map
 * (created at attach, dropped at detach) and its counters.
 */
#ifndef UVSCOPE_SYSCALLS_H_AGENT
#define UVSCOPE_SYSCALLS_H_AGENT

#include <stdbool.h>
#include <stdint.h>

#include "collect/bpf_shared.h"
#include "collect/collector.h"
#include "collect/syscall_window.h"
#include "core/snapshot.h"
#include "target/process.h"
#include "uvscope/syscalls.h"

struct uvs_held_object;

struct uvs_syscalls {
	struct uvs_held_object *host; /* the object every target shares (in sh) */
	struct uvs_bpf_shared *sh;
	int slot;                 /* the target's, where its statistics and counters are */
	int stats_fd;             /* the target's statistics map, -1 when none */
	bool holds_links;         /* it keeps the host-wide tracepoints attached */
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
 * Measures the syscalls of target t at its slot of sh: loads the object when it is the first
 * target (slow_ns and track_fds are then set for every target), makes the target's statistics
 * map, and holds the tracepoints. The object shares the loop object's map of loop threads (slow
 * syscalls are reported for those only), so the loop object must be loaded first. The programs
 * count t once the collector publishes it. Returns 0, or -errno with s->why set; syscalls are
 * then not measured.
 */
int uvs_syscalls_attach(struct uvs_syscalls *s, struct uvs_bpf_shared *sh, int slot,
			struct uvs_target *t, const struct uvs_collect_sink *sink, uint64_t slow_ns,
			bool track_fds);

/*
 * quiesce lets go of the tracepoints (the last target to do so detaches them: other processes
 * stop paying); the figures can still be read. detach drops the target's part (its statistics
 * map, its instance in sh) and frees; the object stays with sh. Both safe on a zeroed struct.
 */
void uvs_syscalls_quiesce(struct uvs_syscalls *s);
void uvs_syscalls_detach(struct uvs_syscalls *s);

/*
 * The slow-syscall ring buffer's map fd (one ring for every target), and the callback that
 * takes its records: ctx is the struct uvs_bpf_shared; a record goes to its target's instance.
 */
int uvs_syscalls_events_fd(const struct uvs_syscalls *s);
int uvs_syscalls_on_slow(void *ctx, void *data, size_t len);

/*
 * One slow-syscall record: its process into *tgid and the call into *out (role unknown, time
 * on the wall clock). 0, or -EINVAL when it is too short.
 */
int uvs_slow_syscall_from_event(const void *data, size_t len, pid_t *tgid,
				struct uvs_slow_call *out);

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
