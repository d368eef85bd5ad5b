/* SPDX-License-Identifier: MIT */
/*
 * The loop figures of the proc backend from libuv's own metrics, read now and then from the
 * target (collect/proc_loop.c): no probe sees a wait begin or end, so the busy spans are
 * reconstructed from successive readings of the idle time, the entry stamp of the wait in
 * progress and (libuv >= 1.45) the loop count. Pure: no clock, no /proc, no memory reads.
 *
 * What libuv keeps (uv__loop_metrics_t, with UV_METRICS_IDLE_TIME, which Node turns on for
 * every main and Worker loop): provider_entry_time is uv_hrtime() (CLOCK_MONOTONIC) stamped
 * just before every epoll wait with a non-zero timeout and cleared when the wait's idle time is
 * added to provider_idle_time. So a loop is idle exactly while the stamp is set, and busy
 * (ELU's "active") otherwise, zero-timeout polls included; performance.eventLoopUtilization()
 * reads idle = provider_idle_time + (now - stamp while set), and so does this.
 */
#ifndef UVSCOPE_PROC_LOOP_MATH_H
#define UVSCOPE_PROC_LOOP_MATH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/snapshot.h"

/* One reading of a loop's metrics. */
struct uvs_lm_reading {
	uint64_t now;        /* CLOCK_MONOTONIC when read */
	uint64_t idle_ns;    /* provider_idle_time */
	uint64_t entry_ns;   /* provider_entry_time: 0 when not in a wait */
	uint64_t loop_count; /* uv_metrics_t.loop_count (libuv >= 1.45), else 0 */
};

/* A busy span that ended, as well as the readings place it. */
struct uvs_lm_span {
	uint64_t start;      /* CLOCK_MONOTONIC */
	uint64_t end;
	bool exact;          /* both ends are libuv's own stamps, not bounds */
};

/* What is kept of one loop between readings and between windows. */
struct uvs_lm_track {
	bool seen;
	struct uvs_lm_reading last;
	bool busy;             /* in a busy span at the last reading */
	uint64_t busy_since;   /* its start (a lower bound when not exact) */
	bool since_exact;
	/*
	 * Waits that a signal interrupted: libuv stamps such a wait's start again and adds only
	 * the part after that to its idle time (ELU counts the part before as busy). The parts
	 * before, seen as a stamp that moved on within one wait, are idle all the same.
	 */
	uint64_t restamped_ns;
	/* Cumulative, since the first reading. */
	uint64_t start_mono, start_idle, start_count;
	uint64_t blocks, blocked_ns;
	/* At the last window. */
	bool window_taken;
	uint64_t win_mono, win_idle, win_count, win_blocks, win_blocked_ns;
};

/* ELU's idle time as of the reading: the idle so far plus the wait in progress. */
uint64_t uvs_lm_idle_now(const struct uvs_lm_reading *r);

/* The loop's idle time as of the track's last reading: ELU's, and the restamped parts. */
uint64_t uvs_lm_track_idle(const struct uvs_lm_track *t);

/*
 * Moves the track on to reading r. Returns true with *ended set when a busy span of at least
 * block_ns ended since the last reading (counted in the track's blocks). A reading that goes
 * back in time or whose idle time shrank (the loop's memory was reused) starts the track over.
 */
bool uvs_lm_step(struct uvs_lm_track *t, const struct uvs_lm_reading *r, uint64_t block_ns,
		 struct uvs_lm_span *ended);

/* The loop is busy now (per the last reading), since *since (CLOCK_MONOTONIC). */
bool uvs_lm_busy(const struct uvs_lm_track *t, uint64_t *since);

/*
 * Fills the figures of out the track knows (iterations when has_count, busy, idle,
 * utilization, blocks, blocked now) for the window since the last call, as of the last
 * reading, and starts the next window. Leaves tid, role and comm alone.
 */
void uvs_lm_window(struct uvs_lm_track *t, bool has_count, uint64_t block_ns,
		   struct uvs_loop_snapshot *out);

/* The same since the first reading, as of the last window. */
void uvs_lm_totals(const struct uvs_lm_track *t, bool has_count, struct uvs_loop_snapshot *out);

/*
 * Without libuv's metrics (a stripped build): the loop thread's state sampled from
 * /proc/PID/task/TID/syscall, inside its epoll wait (idle) or not (busy). Each sample stands
 * for the time since the one before; a busy span runs from its first busy sample to the first
 * wait sample after it, so its ends are each off by at most one sample period.
 */
struct uvs_ls_track {
	bool seen;
	bool busy;
	uint64_t last;         /* the last sample, CLOCK_MONOTONIC */
	uint64_t busy_since;
	uint64_t busy_ns, idle_ns, blocks, blocked_ns; /* since the first sample */
	uint64_t start_mono;
	uint64_t win_mono, win_busy, win_idle, win_blocks, win_blocked_ns; /* at the last window */
};

/* One sample at now; true with *ended set when a busy span of at least block_ns ended. */
bool uvs_ls_step(struct uvs_ls_track *t, uint64_t now, bool in_wait, uint64_t block_ns,
		 struct uvs_lm_span *ended);

/* The window's figures since the last call (busy, idle, utilization, blocks: sampled). */
void uvs_ls_window(struct uvs_ls_track *t, uint64_t block_ns, struct uvs_loop_snapshot *out);

/* The same since the first sample, as of the last window. */
void uvs_ls_totals(const struct uvs_ls_track *t, struct uvs_loop_snapshot *out);

#endif
