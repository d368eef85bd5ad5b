/* SPDX-License-Identifier: MIT */
/*
 * Window math of V8's garbage collections: from each thread's cumulative BPF figures, the
 * figures of the window per loop (loops[].gc) and of the session. Collections are counted per
 * thread and placed in a loop by thread id: a Worker collects garbage while it starts, before
 * its loop first waits, and those collections are held until the loop shows up. Pure: no
 * maps, no clock, no /proc.
 */
#ifndef UVSCOPE_GC_WINDOW_H
#define UVSCOPE_GC_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "core/snapshot.h"
#include "uvscope/gc.h"

/* What the agent remembers of one thread's collections. */
struct uvs_gc_track {
	int tid;
	bool gone;                     /* the thread exited: these are its final figures */
	struct uvs_gc_snapshot last;   /* cumulative at the last reading (max: since attach) */
	struct uvs_gc_snapshot placed; /* cumulative when its figures last went into a loop */
	uint64_t pending_max;          /* longest collection of the windows not yet placed */
};

#define UVS_GC_TRACKS 1024

struct uvs_gc_history {
	size_t n;
	uint64_t unfit; /* readings of threads that found no free track (all held by live ones) */
	struct uvs_gc_track tracks[UVS_GC_TRACKS];
};

/*
 * The cumulative figures of a BPF entry, and the longest collection of the window of epoch
 * `closed` (the epoch the agent just closed; 0 when that window saw none).
 */
void uvs_gc_thread_figures(const struct uvs_gc_thread *th, uint64_t closed,
			   struct uvs_gc_snapshot *cumulative, uint64_t *window_max);

/* Records one reading of thread tid; gone: the thread has exited, this was its last. */
void uvs_gc_history_read(struct uvs_gc_history *h, int tid,
			 const struct uvs_gc_snapshot *cumulative, uint64_t window_max, bool gone);

/*
 * Fills loops[].gc of s (every loop: has_gc set, zero when its thread collected nothing) with
 * what each loop's thread collected since its figures were last placed.
 */
void uvs_gc_history_place(struct uvs_gc_history *h, struct uvs_snapshot *s);

/* Fills loops[].gc of s with each loop's figures since attach, as of the last reading. */
void uvs_gc_history_totals(const struct uvs_gc_history *h, struct uvs_snapshot *s);

#endif
