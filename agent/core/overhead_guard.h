/* SPDX-License-Identifier: MIT */
/*
 * The overhead guard: what uvscope costs the target, kept under a budget while it runs.
 *
 * Each window the collector counts uvscope's probe hits on the target: runs of its uprobes and
 * return probes in the target's threads (the epoll call sites, the phase boundaries, the pool
 * and GC functions), and its stack samples, which count as UVS_GUARD_SAMPLE_HITS hits each for
 * what their stack walk costs. When the rate stays over the budget (hits per second) for
 * UVS_GUARD_DOWN_WINDOWS windows in a row, the guard takes one step: the first of these, in
 * order, that is not taken yet and would save at least a tenth of the rate: the exact-phase
 * uprobes out (7 hits per loop iteration), then stack sampling at a tenth of its rates, then
 * the pool's per-job probes out (2-4 hits per job; the pool's size and queue are then read
 * from libuv's statics, collect/pool.h), then the loops' wait hooks out (one hit per wait: the
 * loop figures then come from libuv's own metrics, read from the target's memory,
 * collect/loop_memory.h). When, for UVS_GUARD_UP_WINDOWS windows in a row, the rate the target
 * would pay with the last step undone (predicted from the window's loop iterations or samples)
 * is under half the budget, it undoes that step. Undoing only what is predicted to stay well
 * under the budget is what keeps it from flapping: a load that made it step down keeps it down.
 *
 * The pool's probes cost per job, and while they are out no job is seen: what undoing that
 * step would cost is predicted from the pool hits per loop iteration measured in the windows
 * that led to it (a server's jobs come with its requests, and so do its iterations, which the
 * loop hooks, or libuv's loop count, still count), times the window's iterations.
 *
 * What is not stepped, and why: the epoll hooks where libuv's metrics cannot stand in for them
 * (libuv 1.44 keeps no loop count; two hooks per wait; the syscall hooks, shared by the host)
 * and the GC probes (two hits per collection, a few collections a second).
 *
 * Pure: a function of the windows it is shown. The session applies what it decides.
 */
#ifndef UVSCOPE_OVERHEAD_GUARD_H
#define UVSCOPE_OVERHEAD_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"

#define UVS_GUARD_DOWN_WINDOWS 3
#define UVS_GUARD_UP_WINDOWS 10
/* Stack sampling at the low step: a tenth of each rate, at least 1 Hz. */
#define UVS_GUARD_SAMPLE_DIVISOR 10
/* A step is taken only if it saves at least 1/UVS_GUARD_MIN_SAVING of the rate. */
#define UVS_GUARD_MIN_SAVING 10
/*
 * A uprobe hit costs the target 0.55-0.9 us of CPU on the test machine (bench/hit_cost.mjs,
 * README, "The overhead guard"); a stack sample's walk 10-26 us (scripts/sample-cost.sh, by
 * kernel.bpf_stats_enabled). So a sample counts as 20 hits.
 */
#define UVS_GUARD_SAMPLE_HITS 20
/* What one hit costs the target, as the range said to the operator (guard records' text). */
#define UVS_GUARD_HIT_COST_MIN_NS 500
#define UVS_GUARD_HIT_COST_MAX_NS 900
/* Probe hits per second: at 0.55-0.9 us each, under 1% of one CPU. */
#define UVS_GUARD_DEFAULT_BUDGET 10000
/*
 * The budget is also relative to the target's own work: at most this share (parts per million)
 * of the CPU time the target used in the window, a hit counted at UVS_GUARD_CONTEXT_HIT_NS.
 * That is what a hit costs a server between its requests, caches cold, where a loop hit in a
 * tight loop costs 0.6-0.8 us: the plain HTTP bench server paid 2.2-2.5 us of CPU per request
 * for one hit per request, the crypto server 2.9% for 9,600 hits a second at 2,000 requests
 * (2.5 us each), 2026-12-06 (bench/README.md). 2.5%: under the goal of 3% per
 * request by the error of that per-hit figure (at 3% the crypto server settled at +3.1%).
 */
#define UVS_GUARD_DEFAULT_OVERHEAD_PPM 25000
#define UVS_GUARD_CONTEXT_HIT_NS 2500
/*
 * Below this many hits a second (about 0.25% of one CPU) the relative budget does not apply: a
 * process that does little is left with every probe, whatever share that is of its little.
 */
#define UVS_GUARD_RELATIVE_FLOOR 1000

/* The steps, in the order they are taken (and undone in reverse). */
enum uvs_guard_step {
	UVS_GUARD_PHASES_OFF = 0, /* the exact-phase uprobes out */
	UVS_GUARD_SAMPLING_LOW,   /* stack sampling at a tenth of its rates */
	UVS_GUARD_POOL_JOBS_OFF,  /* the pool's per-job uprobes out, its gauge from libuv's statics */
	/*
	 * The loops' wait hooks out, the loop figures from libuv's metrics in the target's memory
	 * (no per-iteration busy histogram meanwhile). Last: it costs the most to the figures.
	 */
	UVS_GUARD_LOOP_HOOKS_OFF,
	UVS_GUARD_STEPS,
};

struct uvs_guard_config {
	bool enabled;                      /* false: count and account, never step */
	uint64_t budget;                   /* probe hits per second */
	/*
	 * And at most this share of the target's CPU time (parts per million), at
	 * UVS_GUARD_CONTEXT_HIT_NS a hit, but never under UVS_GUARD_RELATIVE_FLOOR hits per
	 * second; 0: no relative budget.
	 */
	uint32_t max_overhead_ppm;
	bool phases;                       /* exact phases were attached */
	uint32_t phase_hits_per_iteration; /* what they cost per loop iteration */
	uint32_t sample_hz, blocked_hz;    /* the sampling rates asked for; 0: not sampling */
	bool pool;                         /* the pool's probes were attached and can come out
					    * and back (libuv's statics found, privileges kept) */
	/*
	 * The loops' wait hooks can be taken out (the collector reads libuv's loop metrics in
	 * their stead), and how many hits they cost per wait (the least per loop iteration).
	 */
	bool loop_hooks;
	uint32_t loop_hook_hits_per_wait;
};

/* What the collector must measure with at a level. */
struct uvs_guard_settings {
	bool phases;                    /* exact phases in */
	uint32_t sample_hz, blocked_hz; /* 0: not sampling */
	bool pool_probes;               /* the pool's per-job probes in (when they were attached) */
	bool loop_hooks;                /* the loops' wait hooks in (false: libuv's metrics) */
};

/* What one window showed. */
struct uvs_guard_window {
	uint64_t window_ns;
	uint64_t hits;       /* uprobe and return-probe hits on the target */
	uint64_t pool_hits;  /* of which the pool's probes' */
	uint64_t gc_hits;    /* of which the GC probes' (the rest: the loop hooks) */
	uint64_t iterations; /* loop iterations, every loop */
	uint64_t samples;    /* stack samples */
	uint64_t target_cpu_ns; /* CPU time the target used in the window; 0: unknown */
};

enum uvs_guard_action {
	UVS_GUARD_NONE = 0,
	UVS_GUARD_DOWN,      /* a step taken */
	UVS_GUARD_UP,        /* a step undone */
	UVS_GUARD_EXHAUSTED, /* over the budget with every step taken: said once per episode */
};

struct uvs_guard_decision {
	enum uvs_guard_action action;
	enum uvs_guard_step step; /* DOWN, UP: the step */
	size_t level;             /* steps in force after it */
	uint64_t rate;            /* probe hits per second in the window that decided (a sample
				   * counting as UVS_GUARD_SAMPLE_HITS) */
	uint64_t predicted;       /* UP: the rate predicted with the step undone */
	uint64_t budget;          /* the window's budget: the configured one, or less when the
				   * target's CPU time makes the relative one lower */
	/* rate by source (they add up to it): loop hooks, pool, GC, samples (weighted) */
	uint64_t rate_loop, rate_pool, rate_gc, rate_samples;
	unsigned int windows;     /* windows in a row that led to it */
};

struct uvs_guard {
	struct uvs_guard_config cfg;
	size_t nsteps;                          /* the steps that can be taken here, in order */
	enum uvs_guard_step steps[UVS_GUARD_STEPS];
	size_t level;                           /* steps in force, in the order taken: */
	enum uvs_guard_step taken[UVS_GUARD_STEPS];
	unsigned int mask;                      /* the same as bits (1 << step) */
	/*
	 * The steps in force before the last decision. A change is applied just after a window
	 * ends, so the next window holds a few milliseconds of the old settings before the new.
	 */
	unsigned int prev_mask;
	size_t floor;                           /* taken[0 .. floor-1] can no longer be undone */
	unsigned int over;                      /* windows in a row over the budget */
	unsigned int calm;                      /* windows in a row calm enough to step up */
	bool exhausted_said;
	/* The session so far. */
	uint64_t hits;
	uint64_t samples;
	uint64_t ns;
	uint64_t steps_down, steps_up;
	uint64_t step_ns[UVS_GUARD_STEPS];      /* time each step was in force */
	/*
	 * Pool hits and loop iterations of the windows over the budget in a row, the pool's
	 * probes in for all of each; frozen into pool_per_iteration when the pool step is taken.
	 */
	uint64_t over_pool_hits, over_iterations;
	double pool_per_iteration;              /* pool hits per loop iteration before the step */
	/*
	 * The wait hooks' hits per loop iteration, in thousandths, as measured in the window that
	 * took them out (an idle-ish iteration passes the wait twice: Node's metrics make libuv
	 * poll with a zero timeout before a real wait): what putting them back would cost.
	 */
	uint64_t loop_hits_milli;
};

/* Starts at level 0 (everything as asked). */
void uvs_guard_init(struct uvs_guard *g, const struct uvs_guard_config *c);

/* The settings of the current level. */
void uvs_guard_settings(const struct uvs_guard *g, struct uvs_guard_settings *out);

/* Whether step s is in force now. */
bool uvs_guard_in_force(const struct uvs_guard *g, enum uvs_guard_step s);

/*
 * Accounts one window at the current level, then decides; a DOWN or UP moves the level, which
 * the caller applies (uvs_guard_settings). A window of zero length decides nothing.
 */
void uvs_guard_window(struct uvs_guard *g, const struct uvs_guard_window *w,
		      struct uvs_guard_decision *d);

/* The window's budget (hits per second): see struct uvs_guard_config's max_overhead_ppm. */
uint64_t uvs_guard_budget(const struct uvs_guard *g, const struct uvs_guard_window *w);

/* Accounts one window and decides nothing (the last window: nothing would apply it). */
void uvs_guard_account(struct uvs_guard *g, const struct uvs_guard_window *w);

/*
 * The level change just decided could not be applied: back to the level before, and a step that
 * could not be undone stays for the rest of the session (it is not tried again).
 */
void uvs_guard_failed(struct uvs_guard *g, const struct uvs_guard_decision *d);

/* What a window's snapshot shows the guard. */
void uvs_guard_window_of(const struct uvs_snapshot *s, struct uvs_guard_window *out);

/*
 * The guard in a snapshot: for an interval (totals false) what was in force in the window,
 * before its decision (a step counts as in force if it was for any part of the window); for
 * the summary (totals true), what is in force at the end, and the session.
 */
void uvs_guard_snapshot(const struct uvs_guard *g, bool totals, struct uvs_guard_snapshot *out);

/*
 * The record of a decision that did something (not UVS_GUARD_NONE), with the settings in force
 * after it. error: why applying it failed (then it is a FAILED record), else NULL.
 */
void uvs_guard_record(const struct uvs_guard *g, const struct uvs_guard_decision *d,
		      uint64_t ts_ns, const char *error, struct uvs_guard_record *out);

/* "phases_off", "sampling_low", "pool_jobs_off", "loop_hooks_off": a step's JSON name. */
const char *uvs_guard_step_name(enum uvs_guard_step s);

/* hits per second over window_ns (0 for an empty window). */
uint64_t uvs_guard_rate(uint64_t hits, uint64_t window_ns);

/* The guard's measure of a window: probe hits per second, a stack sample counting as several. */
uint64_t uvs_guard_load(const struct uvs_guard_window *w);

#endif
