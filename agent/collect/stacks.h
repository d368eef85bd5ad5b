/* SPDX-License-Identifier: MIT */
/*
 * The stack stream: the sampler (collect/sampler.c) with its samples named
 * (collect/stack_resolver.c) and handed to the session, and the blocked-loop follow-up: a loop
 * busy past the threshold is sampled at the blocked rate until it returns, and while it sleeps
 * (Atomics.wait, a slow sync read) its stack is read off the CPU at that rate.
 */
#ifndef UVSCOPE_STACKS_STREAM_H
#define UVSCOPE_STACKS_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/collector.h"
#include "collect/loop.h"
#include "collect/sampler.h"
#include "collect/stack_resolver.h"

#define UVS_STACKS_FOLLOW_MAX UVS_MAX_LOOPS

struct uvs_stacks_follow {
	pid_t tid;
	bool blocked;
	uint64_t last_off_cpu; /* CLOCK_MONOTONIC of the last off-CPU read */
	uint64_t last_look;    /* of the last look at it (a block check) */
	uint64_t off_cpu_weight_ns; /* what the last off-CPU read stands for: the time since the
				       look before, as reads come at block checks, not at the rate */
};

struct uvs_stacks {
	bool attached;
	char why[320];                 /* why there are no stacks, when there are none */
	struct uvs_sampler *sampler;
	struct uvs_stack_resolver *resolver;
	struct uvs_target *target; /* its threads are placed by their samples too */
	struct uvs_collect_sink sink;
	uint64_t period_ns, blocked_period_ns;
	bool off_cpu_all;
	uint64_t last_off_cpu_all;
	struct uvs_stacks_follow follow[UVS_STACKS_FOLLOW_MAX];
	size_t nfollow;
	uint64_t prev_samples, prev_lost; /* BPF's counters at the last window */
};

/*
 * Starts sampling target t at its slot of host sh (after the loop object: the sampler reuses
 * the maps it made). The first target loads the object; the others share it. On failure st->why
 * says why.
 */
void uvs_stacks_attach(struct uvs_stacks *st, struct uvs_bpf_shared *sh, int slot,
		       struct uvs_target *t, const struct uvs_collect_options *o,
		       const struct uvs_collect_sink *sink);
void uvs_stacks_quiesce(struct uvs_stacks *st);
void uvs_stacks_detach(struct uvs_stacks *st);

/* The agent's ring of samples, for uvs_bpf_shared_add_ring, and its callback (ctx: the host). */
int uvs_stacks_ring_fd(const struct uvs_stacks *st);
int uvs_stacks_on_record(void *ctx, void *data, size_t len);

/*
 * Called at every block check with the loops now: loops busy for block_ns or more are sampled
 * at the blocked rate, and read off the CPU when they sleep; the others go back to normal.
 */
void uvs_stacks_follow_loops(struct uvs_stacks *st, const struct uvs_loop_busy *loops, size_t n,
			     uint64_t now_mono, uint64_t block_ns);

/*
 * Samples at new rates from now on (the overhead guard): hz for every thread, blocked_hz for a
 * loop while it is blocked. With several targets, the per-CPU events (every target's normal
 * rate) run at the slowest hz any of them asked for, not at the last one asked
 * (collect/sampler.h). 0, or -errno when an event refused its new period.
 */
int uvs_stacks_set_rates(struct uvs_stacks *st, uint32_t hz, uint32_t blocked_hz);

/* Once per window: new threads get sampled, cached names are checked again, counters. */
void uvs_stacks_window(struct uvs_stacks *st, struct uvs_agent_snapshot *agent);
/* A garbage collection may have moved V8 objects: names cached by address are dropped. */
void uvs_stacks_gc_seen(struct uvs_stacks *st);

#endif
