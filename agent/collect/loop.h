/* SPDX-License-Identifier: MIT */
/*
 * The event loops of the target (bpf/loop.bpf.c): which threads run one, their cumulative BPF
 * statistics read each window (the math is collect/loop_window.c), the state that shows a loop
 * blocked while it still is, and the ring-buffer events (a block that ended, a loop seen for the
 * first time, a thread that exited). Formats nothing.
 */
#ifndef UVSCOPE_COLLECT_LOOP_H
#define UVSCOPE_COLLECT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/collector.h"
#include "collect/loop_probes.h"
#include "collect/loop_window.h"
#include "core/alerts.h"
#include "core/snapshot.h"
#include "target/process.h"

struct uvs_loops {
	struct uvs_loop_probes probes;
	struct uvs_bpf_shared *sh;
	struct uvs_target *target;
	const struct uvs_collect_sink *sink;
	uint64_t block_ns;
	uint64_t start_mono;  /* CLOCK_MONOTONIC at attach */
	uint64_t last_mono;   /* at the last window */
	/*
	 * When the programs stopped following the target (quiesce), 0 while they follow it: the
	 * state BPF kept is as of then, so a span still running is not counted past it.
	 */
	uint64_t end_mono;
	struct uvs_bpf_counters prev_counters;
	size_t nloops;
	struct uvs_loop_track *loops[UVS_MAX_LOOPS];
	struct uvs_loop_stats *scratch; /* one map value, read per loop */
	bool warned_full;               /* said once that there are more loops than we show */
	uint64_t exits;                 /* loop threads seen exit (their exit_seq) */
	uint64_t evicted;               /* exited loops dropped from the full table */
	size_t left_out;                /* live loop threads not in the table at the last look */
	unsigned int phase_changes;     /* probes.phase_changes at the last window */
	/* libuv's metrics in the target, read while the wait hooks are out (collect/loop_memory.h). */
	struct uvs_mem_reader mem;
	struct uvs_lm_layout layout;
};

/*
 * Loads (for the first target of the agent) and attaches the loop object for target t, at its
 * slot, filling the loop's part of its configuration. 0, or -errno with `why`.
 */
int uvs_loops_attach(struct uvs_loops *l, struct uvs_bpf_shared *sh, int slot,
		     struct uvs_target_cfg *cfg, struct uvs_target *t,
		     const struct uvs_loop_probe_options *o, const struct uvs_collect_sink *sink,
		     char *why, size_t cap);

/*
 * Once the programs count the target (it is published): marks loop threads that are busy
 * right now as busy since attach (a loop already blocked when we came is still reported), and
 * the main loop waiting now as waiting. After the programs, so that a wait that ends before
 * does not leave a stale mark; BPF's own state wins where it saw the thread first.
 */
void uvs_loops_start(struct uvs_loops *l);

/* The programs stop following the target now (it is about to be unpublished). */
void uvs_loops_mark_end(struct uvs_loops *l);

/*
 * Once the programs no longer count the process (unpublished): each loop's reading now, kept
 * for the last window (struct uvs_loop_track's last).
 */
void uvs_loops_take_last(struct uvs_loops *l);

/* Detaches and frees; safe on a zeroed struct. */
void uvs_loops_quiesce(struct uvs_loops *l);
void uvs_loops_detach(struct uvs_loops *l);

/*
 * The map of loop threads the loop object keeps: the pool and syscall objects read it too
 * (they are loaded after this one and reuse this map; see collect/bpf_collector.c).
 */
int uvs_loops_state_map_fd(const struct uvs_loops *l);


/* The ring buffer map, and its callback (ctx: the host, collect/bpf_shared.h). */
int uvs_loops_events_fd(const struct uvs_loops *l);
int uvs_loops_on_event(void *ctx, void *data, size_t len);

/*
 * The timeline ring buffer (trace only), and its callback (ctx: the host): each
 * record goes to the sink as a UVS_RECORD_ITERATION or UVS_RECORD_PHASE.
 */
int uvs_loops_trace_fd(const struct uvs_loops *l);
int uvs_loops_on_trace(void *ctx, void *data, size_t len);

/*
 * One BPF timeline record as the sink gets it (its pid: the record's process): 0, or -EINVAL
 * for a short or unknown one.
 */
int uvs_loops_trace_record(const void *data, size_t len, struct uvs_record *out);

/* The loop threads and whether each is busy now (for blocks in progress). */
size_t uvs_loops_now(struct uvs_loops *l, struct uvs_loop_busy *out, size_t cap,
		     uint64_t *now_mono);

/*
 * Whether the wait hooks can be taken out with libuv's metrics standing in for them: one hook
 * per wait, and a libuv that counts its iterations (1.45+). Else false with why.
 */
bool uvs_loops_waits_removable(const struct uvs_loops *l, char *why, size_t cap);

/*
 * Takes the wait hooks out (on false), every loop whose metrics BPF located followed from them
 * from now on (a loop whose metrics are not located is left out of the windows meanwhile), or
 * puts them back (on true), BPF's state of each loop set to what the metrics last said so that
 * a span in progress keeps its start. 0, or -errno with `why` (nothing changed).
 */
int uvs_loops_set_waits(struct uvs_loops *l, bool on, char *why, size_t cap);

/* Fills s's loops, window, time stamps and the loop object's counters in s->agent. */
void uvs_loops_window(struct uvs_loops *l, struct uvs_snapshot *s);

/* The same for the whole session, as of the last window. */
void uvs_loops_totals(struct uvs_loops *l, struct uvs_snapshot *s);

#endif
