/* SPDX-License-Identifier: MIT */
/*
 * Collection: reads the BPF maps and turns cumulative per-thread counters into snapshots
 * (one per interval, and one for the whole session), and watches for loops that are blocked
 * right now. It formats nothing.
 */
#ifndef UVSCOPE_COLLECTOR_H
#define UVSCOPE_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/loop_probes.h"
#include "core/snapshot.h"
#include "target/process.h"

/* What we remember of one loop thread between snapshots. */
struct uvs_loop_track {
	pid_t tid;
	enum uvs_role role;
	bool role_known;
	bool exited;          /* the thread is gone; its final figures are in `prev` */
	bool reported_exit;   /* its last interval has been emitted */
	uint64_t prev_busy;   /* busy_ns at the last snapshot, counting the running span */
	uint64_t prev_idle;
	uint64_t alerted_since; /* busy_since of the block already alerted as ongoing */
	struct uvs_loop_stats prev; /* cumulative BPF statistics at the last snapshot */
};

struct uvs_collector {
	struct uvs_target *target;
	const struct uvs_probes *probes;
	uint64_t block_ns;
	uint64_t start_mono;  /* CLOCK_MONOTONIC at attach */
	uint64_t last_mono;   /* at the last interval snapshot */
	struct uvs_bpf_counters prev_counters;
	size_t nloops;
	struct uvs_loop_track *loops[UVS_MAX_LOOPS];
	struct uvs_loop_stats *scratch; /* one map value, read per loop */
	bool warned_full;               /* said once that there are more loops than we show */
};

/* Monotonic clock in ns: the clock bpf_ktime_get_ns() uses. */
uint64_t uvs_now_mono(void);
/* Wall clock in ns, for timestamps in outputs. */
uint64_t uvs_now_real(void);
/* A CLOCK_MONOTONIC time from BPF (bpf_ktime_get_ns) on the wall clock. */
uint64_t uvs_mono_to_real(uint64_t mono_ns);

int uvs_collector_init(struct uvs_collector *c, struct uvs_target *t, const struct uvs_probes *p,
		       uint64_t block_ns);
void uvs_collector_free(struct uvs_collector *c);

/*
 * Marks loop threads that are busy right now (outside epoll, not a fresh thread) as busy
 * since attach, so a loop that was already blocked when we came is still reported.
 */
void uvs_collector_seed(struct uvs_collector *c);

/* Fills *s with the figures of the window since the previous call. */
int uvs_collector_interval(struct uvs_collector *c, struct uvs_snapshot *s);

/* Fills *s with the whole session's figures (call after a last interval). */
void uvs_collector_summary(struct uvs_collector *c, struct uvs_snapshot *s);

/*
 * Looks for loops blocked past the threshold right now and writes at most `cap` ongoing
 * alerts, one per block (a block is alerted once). Returns how many were written.
 */
size_t uvs_collector_check_blocks(struct uvs_collector *c, struct uvs_alert *out, size_t cap);

/* Turns a BLOCK_END ring-buffer event into an "ended" alert. */
void uvs_collector_block_ended(struct uvs_collector *c, const struct uvs_event *e,
			       struct uvs_alert *out);

/* Called for LOOP_SEEN: start tracking the thread and learn its role while it waits. */
void uvs_collector_loop_seen(struct uvs_collector *c, pid_t tid);

#endif
