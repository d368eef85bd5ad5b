/* SPDX-License-Identifier: MIT */
/*
 * The target's system calls (bpf/syscalls.bpf.c): attaching the tracepoints, turning the
 * cumulative per-(thread, syscall) statistics into per-window rows by thread role, collecting
 * slow syscalls on loop threads, and reading the fd open/close counters. Formats nothing.
 */
#ifndef UVSCOPE_SYSCALLS_H_AGENT
#define UVSCOPE_SYSCALLS_H_AGENT

#include <stdbool.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "target/process.h"
#include "uvscope/syscalls.h"

struct syscalls_bpf;
struct uvs_sys_slot;
struct uvs_sys_acc;

/* A thread's role as last seen, kept for threads that exit before their last window. */
struct uvs_sys_role_seen {
	pid_t tid;
	enum uvs_sys_role role;
};

#define UVS_SYS_ROLE_CACHE 1024

struct uvs_syscalls {
	struct syscalls_bpf *skel;
	bool attached;
	char why[320];           /* why syscalls are not measured, when they are not */
	uint64_t slow_ns;
	struct uvs_sys_slot *slots;  /* the statistics at the last window, per BPF map key */
	size_t nslots;
	struct uvs_sys_acc *window;  /* this window's rows */
	size_t nwindow;
	struct uvs_sys_acc *session; /* the session's rows */
	size_t nsession;
	uint64_t window_dropped, session_dropped;
	struct uvs_sys_stats *scratch;
	struct uvs_slow_call slow[UVS_MAX_SLOW_CALLS];
	size_t nslow;
	uint64_t window_slow;
	uint64_t session_slow;
	uint64_t prev_lost;
	struct uvs_sys_role_seen roles[UVS_SYS_ROLE_CACHE];
	size_t nroles;
	struct uvs_target *target; /* for the roles of slow calls' threads */
};

/*
 * Loads and attaches the syscall tracepoints for the target. loop_state_fd is the loop
 * object's map of loop threads (slow syscalls are reported for those only). Returns 0, or
 * -errno with s->why set; syscalls are then simply not measured.
 */
int uvs_syscalls_attach(struct uvs_syscalls *s, struct uvs_target *t, int loop_state_fd,
			uint64_t slow_ns, bool track_fds);

/* Detaches and frees; safe on a zeroed struct. */
void uvs_syscalls_detach(struct uvs_syscalls *s);

/* The slow-syscall ring buffer's map fd, and the callback that takes its records. */
int uvs_syscalls_events_fd(const struct uvs_syscalls *s);
int uvs_syscalls_on_slow(void *ctx, void *data, size_t len);

/* Reads the process-wide counters (fd opens and closes by type). Returns 0 or -errno. */
int uvs_syscalls_counters(const struct uvs_syscalls *s, struct uvs_sys_counters *out);

/*
 * Fills *out with the window since the last call (after uvs_target_refresh_threads), or, with
 * `session`, with the whole session so far (no new window is taken).
 */
void uvs_syscalls_window(struct uvs_syscalls *s, struct uvs_syscalls_snapshot *out, bool session);

/* Where a thread of this role counts its syscalls. */
enum uvs_sys_role uvs_sys_role_of(enum uvs_role role, bool known);

#endif
