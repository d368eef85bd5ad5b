/* SPDX-License-Identifier: MIT */
/*
 * One loop followed from libuv's own metrics while the overhead guard has its wait hooks out
 * (UVS_GUARD_LOOP_HOOKS_OFF): the readings and the span math of the proc backend
 * (collect/proc_loop_find.h, collect/proc_loop_math.h) on the loop's internal fields, which the
 * wait's return hook learnt. Around the step the window is made of two parts, one measured each
 * way; a part is kept here until the window that takes it. Reads the target's memory, keeps no
 * map: collect/loop.c hands BPF's state over at each end.
 */
#ifndef UVSCOPE_LOOP_MEMORY_H
#define UVSCOPE_LOOP_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/proc_loop_find.h"
#include "collect/proc_loop_math.h"
#include "core/snapshot.h"
#include "target/memory.h"

struct uvs_loop_mem {
	bool on;                /* followed from the metrics now */
	uint64_t lfields;       /* its uv__loop_internal_fields_t in the target */
	struct uvs_lm_track track;
	/* Part of the window being measured, taken the other way (before or after the step). */
	bool has_part;
	struct uvs_loop_snapshot part;
	/* What the metrics measured, since attach (added to BPF's in the totals). */
	uint64_t busy_ns, idle_ns, iterations, blocks, blocked_ns;
	/*
	 * For the totals, what neither side's figures hold once and only once: the span (or wait)
	 * in progress when the hooks went out, up to then, which BPF measured but counts only
	 * when it ends (carried); the one in progress when they came back, up to then, which the
	 * metrics counted and BPF counts again when it ends (overlap).
	 */
	uint64_t carried_busy_ns, carried_idle_ns;
	uint64_t overlap_busy_ns, overlap_idle_ns;
	/*
	 * libuv's loop count when the metrics handed back: the hooks take a few milliseconds to
	 * go in, and the iterations meanwhile are counted from it in the next window.
	 */
	bool count_pending;
	uint64_t count_at_end;
};

/*
 * Starts following the loop at lfields from a first reading. busy_since: when BPF, as the hooks
 * went, had it busy since then (its start, CLOCK_MONOTONIC), else 0: a span in progress keeps
 * its start. 0, or the reading's -errno (then it is not followed).
 */
int uvs_loop_mem_begin(struct uvs_loop_mem *m, const struct uvs_mem_reader *r,
		       const struct uvs_lm_layout *layout, uint64_t lfields, uint64_t busy_since,
		       uint64_t now);

/*
 * Reads the metrics now (at each block check). Returns 1 with *ended set when a block ended
 * since the last reading, 0, or -errno when the reading failed or cannot follow the last.
 */
int uvs_loop_mem_check(struct uvs_loop_mem *m, const struct uvs_mem_reader *r,
		       const struct uvs_lm_layout *layout, uint64_t block_ns, uint64_t now,
		       struct uvs_lm_span *ended);

/* Busy now (as of the last reading), since *since. */
bool uvs_loop_mem_busy(const struct uvs_loop_mem *m, uint64_t *since);

/*
 * The window since the last one as the metrics give it, as of the last reading, into out's
 * loop figures (tid, role and comm are left alone), with the part kept before it added.
 */
void uvs_loop_mem_window(struct uvs_loop_mem *m, uint64_t block_ns, struct uvs_loop_snapshot *out);

/*
 * The hooks are back: the metrics' share of the window so far becomes the part the next
 * window adds to BPF's, and following stops. Call after a last check.
 */
void uvs_loop_mem_end(struct uvs_loop_mem *m, uint64_t block_ns);

/*
 * Adds part (busy, idle, iterations, blocks) to a window measured the other way: the per-
 * iteration busy distribution of such a window is not known (no_busy_dist).
 */
void uvs_loop_mem_add_part(struct uvs_loop_snapshot *into, const struct uvs_loop_snapshot *part);

/*
 * The window after the hooks came back: its iterations as libuv counted them since (none
 * missed while the hooks went in), when more than BPF's (out's), and the difference added to
 * the totals. Once.
 */
void uvs_loop_mem_recount(struct uvs_loop_mem *m, const struct uvs_mem_reader *r,
			  const struct uvs_lm_layout *layout, uint64_t now,
			  struct uvs_loop_snapshot *out);

/* Adds what the metrics measured to the session's figures of the loop. */
void uvs_loop_mem_totals(const struct uvs_loop_mem *m, struct uvs_loop_snapshot *out);

#endif
