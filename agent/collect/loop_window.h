/* SPDX-License-Identifier: MIT */
/*
 * Window math of one loop thread: from the cumulative BPF statistics read now, those read at
 * the last window, and the span running right now, the figures of the window (deltas,
 * utilization, percentiles, blocked now) and of the whole session. Pure: no maps, no clock.
 */
#ifndef UVSCOPE_LOOP_WINDOW_H
#define UVSCOPE_LOOP_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/loop_memory.h"
#include "core/snapshot.h"
#include "uvscope/loop.h"

/* What we remember of one loop thread between windows. */
struct uvs_loop_last;

struct uvs_loop_track {
	int tid;
	enum uvs_role role;
	bool role_known;
	bool exited;          /* the thread is gone; its final figures are in `prev` */
	uint64_t exit_seq;    /* the order it was seen exit in: a full table drops the first */
	char comm[16];        /* its name as last read (kept for the summary after it exits) */
	bool unmeasured;      /* nothing of it is measured (uvs_loop_unmeasured): not shown */
	uint64_t prev_busy;   /* busy_ns at the last window, counting the running span */
	uint64_t prev_idle;
	/*
	 * A busy span still running at a window's end, the longest such (ended spans are in
	 * BPF's own max), and whether the last window ended in a block: what the totals say of a
	 * loop blocked until the end.
	 */
	uint64_t run_busy_max;
	bool last_blocked_now;
	uint64_t last_blocked_for_ns;
	struct uvs_loop_stats prev; /* cumulative BPF statistics at the last window */
	/*
	 * The part before attach of the wait a loop was in at attach (the main loop, a Worker whose
	 * loop was found on its stack), or before the window a Worker placed later is first shown
	 * in: BPF counts that wait whole when it ends (libuv's idle time grows by all of it), and
	 * the loop's figures start there, so it is taken off the idle time once.
	 */
	uint64_t idle_before_attach;
	/* The busy_since the agent seeded for a thread busy when it was found (at attach, or a
	 * Worker placed later): a span from exactly there began before uvscope saw it. */
	uint64_t seeded_busy_ns;
	/* Followed from libuv's metrics while the wait hooks are out (collect/loop_memory.h). */
	struct uvs_loop_mem mem;
	/*
	 * Its reading as the programs stopped counting (uvs_loops_take_last), for the last
	 * window: read later, libuv's stamps may have gone on to a new wait, and the busy span
	 * and the wait before it, which BPF no longer folds, would be lost. NULL until then.
	 */
	struct uvs_loop_last *last;
};


/* One reading of a loop thread: its statistics and, while it lives, its state. */
struct uvs_loop_reading {
	const struct uvs_loop_stats *stats;
	bool alive;             /* the state entry exists (the thread has not exited) */
	bool in_wait;
	uint8_t metrics;        /* enum uvs_loop_metrics: whether its loop keeps libuv's metrics */
	uint64_t busy_since;    /* CLOCK_MONOTONIC, 0 = unknown */
	uint64_t wait_start;
	/*
	 * Not waiting, its waits folded in at uv__io_poll's entry: the idle time of a wait that
	 * ended since the last entry (libuv added it), which BPF adds to the statistics only at
	 * the next entry. Counted now, so a window ending between the two has it.
	 */
	uint64_t ended_idle_ns;
};

/* A loop's last reading (struct uvs_loop_track's last). */
struct uvs_loop_last {
	int err; /* read_loop's */
	struct uvs_loop_reading r;
	struct uvs_loop_stats stats; /* r.stats points here */
};

/*
 * Whether nothing of a loop is measured: a loop without libuv's idle-time metrics (Node's own
 * internal loop thread, which runs delayed platform tasks) whose waits are read from those
 * metrics at uv__io_poll's entry, the default mode's one probe, has no figure at all. It is
 * left out of the windows and the summary rather than shown as a loop that never ran (-v says
 * why). Where its waits are hooked (entry hooks, `trace`, Node 18) it has figures and is shown.
 */
bool uvs_loop_unmeasured(const struct uvs_loop_reading *r);

/*
 * A loop's cumulative idle time (BPF's, a wait in progress included) as its windows count it:
 * without the part of its first wait before attach (idle_before_attach). Every reading that
 * windows take a difference of goes through here, or a window loses that part.
 */
uint64_t uvs_loop_idle_shown(const struct uvs_loop_track *l, uint64_t idle);

/*
 * Fills out with the window since the track's last one, as of now_mono, and moves the track
 * on. comm is the thread's name; phases says whether phase figures are measured.
 */
void uvs_loop_window(struct uvs_loop_track *l, const struct uvs_loop_reading *r, uint64_t now_mono,
		     uint64_t block_ns, bool phases, const char *comm,
		     struct uvs_loop_snapshot *out);

/* The session's figures of one loop, as of its last window. */
void uvs_loop_totals(const struct uvs_loop_track *l, bool phases, const char *comm,
		     struct uvs_loop_snapshot *out);

#endif
