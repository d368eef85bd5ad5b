/* SPDX-License-Identifier: MIT */
/*
 * The stacks of a blocked loop in the proc backend (no BPF), taken only while a loop thread
 * stays busy past the block threshold:
 *
 * - where perf_event_paranoid lets us (collect/perf_sampler.h), a cpu-clock event on that one
 *   thread at blocked_hz, opened when the loop has been busy half the threshold (so that the
 *   alert raised at the threshold already names what blocks) and closed when the busy span
 *   ends: it stops nothing. Nothing waits for its first sample: if none has come
 *   UVS_PROC_BLOCK_FIRST_WAIT_MS after the open, a later check takes a grab instead;
 * - else (also when the event cannot be opened: perf_event_mlock_kb's locked memory for its
 *   ring ran out; said once), and whenever the blocked thread is asleep (off the CPU, as in
 *   Atomics.wait: a cpu-clock event has nothing to sample then), a ptrace grab of that one thread
 *   (collect/thread_stack.h) at most every UVS_PROC_BLOCK_GRAB_NS and UVS_PROC_BLOCK_GRABS
 *   times per block, the first one as soon as the block is seen.
 *
 * Each sample is named by the same resolver as the BPF path (collect/stack_resolver.h) and
 * handed to the session through sink.sample with the labels the BPF path gives (busy loop, or
 * off the CPU), so the loop_blocked alert's `stacks` come out the same. A thread that is not
 * blocked is never stopped, save once a thread found running at several looks whose role no
 * syscall read told (uvs_proc_block_stacks_role: a Worker spinning since before attach). A grab stops only that thread, from PTRACE_INTERRUPT to
 * PTRACE_DETACH; the pauses are kept and said (uvs_proc_block_stacks_summary, each with -v).
 * UVSCOPE_PROC_STACKS=ptrace takes every stack by ptrace (tests, the bench).
 */
#ifndef UVSCOPE_PROC_BLOCK_STACKS_H
#define UVSCOPE_PROC_BLOCK_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/collector.h"
#include "core/alerts.h"
#include "target/process.h"

#define UVS_PROC_BLOCK_GRAB_NS (50 * 1000000ULL) /* between two grabs of one blocked thread */
#define UVS_PROC_BLOCK_GRABS 20                  /* per block: 1 s of grabs at most */
#define UVS_PROC_BLOCK_PAUSES 1024               /* pauses kept for the median and the max */
#define UVS_PROC_BLOCK_FIRST_WAIT_MS 20          /* a new event's first sample is due by then */

struct uvs_perf_sampler;
struct uvs_stack_resolver;
struct uvs_thread_stack;

struct uvs_proc_block_follow {
	int tid;
	uint64_t busy_since;   /* the block being grabbed (its busy span's start) */
	uint64_t last;         /* the last grab's time */
	unsigned grabs;        /* in this block */
	struct uvs_loop_busy loop;     /* as last seen blocked: the samples' labels */
	struct uvs_perf_sampler *perf; /* open while it is blocked, when perf is used */
	bool perf_tried;               /* in this busy span: opened once, or failed to */
	uint64_t first_due;            /* perf's first sample due by then (monotonic ns) */
	uint64_t perf_samples;         /* handed over by perf in this block */
	bool seen;                     /* in the last check's list */
};

struct uvs_proc_block_stacks {
	bool available;
	char why[256];          /* when not */
	const struct uvs_target *t;
	struct uvs_collect_sink sink;
	uint64_t block_ns;
	uint64_t perf_period_ns;      /* 0: perf is not used (not allowed, or ptrace asked for) */
	char perf_why[256];           /* why not */
	struct uvs_stack_resolver *resolver;
	struct uvs_thread_stack *ts;  /* about 20 KiB: allocated */
	struct uvs_proc_block_follow follow[UVS_MAX_LOOPS];
	size_t nfollow;
	uint64_t grabs, failed, pause_max, perf_samples;
	uint64_t place_grabs, place_failed; /* grabs of threads to place them (..._role) */
	bool eperm_warned;            /* a grab refused (another tracer) was said once */
	uint64_t perf_failed;         /* events that could not be opened (then grabs) */
	bool perf_warned;             /* the first such failure was said */
	uint64_t pauses[UVS_PROC_BLOCK_PAUSES];
	size_t npauses, next_pause;
};

/* Sets up naming; available false with why set when stacks cannot be taken. */
void uvs_proc_block_stacks_attach(struct uvs_proc_block_stacks *b, const struct uvs_target *t,
				  uint64_t block_ns, uint32_t blocked_hz,
				  const struct uvs_collect_sink *sink);

/* The loops as the last check saw them (now: CLOCK_MONOTONIC): grabs the blocked ones due. */
void uvs_proc_block_stacks_check(struct uvs_proc_block_stacks *b, const struct uvs_loop_busy *l,
				 size_t n, uint64_t now);

/*
 * The role of thread tid that no read in a syscall could place (out of any wait at several
 * looks: a Worker spinning in JavaScript since before attach), from one ptrace grab of it, its
 * stack walked and unwound as a sample's. Stops that thread once, for the grab; the pause is
 * kept with the blocked loops' (uvs_proc_block_stacks_summary). 0 and *role (a Worker, a pool
 * thread or a libuv loop where the stack passes through one; UVS_ROLE_OTHER proves nothing),
 * -ENOTSUP when stacks are unavailable, -EAGAIN when it cannot stop now, or the grab's -errno.
 */
int uvs_proc_block_stacks_role(struct uvs_proc_block_stacks *b, int tid, enum uvs_role *role);

/* How stacks are taken and named, for the attach record ("" when unavailable). */
void uvs_proc_block_stacks_describe(const struct uvs_proc_block_stacks *b, char *buf, size_t cap);

/* "N grabs, pause median X us, max Y us" of the session so far ("" with none). */
void uvs_proc_block_stacks_summary(const struct uvs_proc_block_stacks *b, char *buf, size_t cap);

/* A GC may have moved objects: once per window. */
void uvs_proc_block_stacks_new_epoch(struct uvs_proc_block_stacks *b);

void uvs_proc_block_stacks_free(struct uvs_proc_block_stacks *b);

#endif
