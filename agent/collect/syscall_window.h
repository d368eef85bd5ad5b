/* SPDX-License-Identifier: MIT */
/*
 * Window math of the syscall statistics: BPF keeps cumulative figures per (thread, syscall);
 * this keeps the figures of each pair at the last window in a hash table, adds each pair's
 * change to rows per (thread role, syscall) for the window and for the session, and frees a
 * pair's slot when its thread has exited, so a long session with many short-lived threads never
 * runs out of slots. Pure: no maps, no /proc.
 */
#ifndef UVSCOPE_SYSCALL_WINDOW_H
#define UVSCOPE_SYSCALL_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "uvscope/syscalls.h"

/* Twice the BPF map's capacity, a power of two: the table never fills while it mirrors BPF. */
#define UVS_SYS_SLOTS (2 * UVS_SYS_MAX_KEYS)
/* Rows per (role, syscall): 3 roles x ~460 syscalls at most. */
#define UVS_SYS_MAX_ROWS 1536

struct uvs_sys_slot {
	bool used;
	struct uvs_sys_key key;
	struct uvs_sys_stats *prev; /* the pair's figures at the last window */
};

/* A (role, syscall) row being summed. */
struct uvs_sys_acc {
	uint32_t nr;
	enum uvs_sys_role role;
	uint64_t count;
	uint64_t errors;
	uint64_t total_ns;
	uint64_t max_ns;
	struct uvs_hist latency;
};

struct uvs_sys_rows {
	size_t n;
	uint64_t dropped;           /* changes that found no row (never, in practice) */
	struct uvs_sys_acc *rows;   /* UVS_SYS_MAX_ROWS */
};

struct uvs_sys_window {
	size_t nused;
	struct uvs_sys_slot *slots; /* UVS_SYS_SLOTS */
	struct uvs_sys_rows window, session;
	uint64_t unfit_window;      /* pairs that found no slot in this window */
	uint64_t unfit_session;
};

int uvs_sys_window_init(struct uvs_sys_window *w);
void uvs_sys_window_free(struct uvs_sys_window *w);

/* Starts a new window: its rows are emptied. */
void uvs_sys_window_begin(struct uvs_sys_window *w);

/*
 * One pair's cumulative figures read now, its thread's role, and whether the thread still
 * lives: adds the change since the last window to the window's and the session's rows. For a
 * thread that is gone the pair's slot is freed (its BPF entry should go too: a new thread with
 * the same id starts from zero).
 */
void uvs_sys_window_add(struct uvs_sys_window *w, const struct uvs_sys_key *k,
			const struct uvs_sys_stats *now, enum uvs_sys_role role, bool alive);

/* Fills out's rows and totals with the window's (or the session's) figures, most time first. */
void uvs_sys_window_fill(const struct uvs_sys_window *w, bool session,
			 struct uvs_syscalls_snapshot *out);

#endif
