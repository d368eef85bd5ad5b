/* SPDX-License-Identifier: MIT */
/*
 * Stack sampling of one target (bpf/stacks.bpf.c): a cpu-clock perf event per CPU whose
 * program keeps the watched processes' samples (a per-thread event would cost the target a
 * timer reprogramming at each of its context switches), a faster event of its own for a thread
 * whose loop is blocked, and a task iterator that reads one sleeping thread's stack when
 * asked. Where per-CPU events are refused it falls back to an event per thread. Samples arrive
 * raw (include/uvscope/stacks.h) through a callback; naming them is collect/stack_resolver.c's
 * job.
 *
 * One object serves every target of the agent (collect/bpf_shared.h): the first target loads
 * it and opens the per-CPU events, which stay until the host destroys the object when the
 * agent ends; the one ring carries every target's records, each with its tgid, and
 * uvs_sampler_on_record hands a record to its target's sampler. A target's own part is its
 * slot (its counters, and a switch its samples pass), its per-thread events (the blocked loops',
 * or every thread's where per-CPU events are refused) and its boosted tids.
 *
 * Rates: the per-thread events run at their target's rates; the per-CPU events run at the
 * slowest normal rate any sampling target asked for (uvs_sampler_set_periods, the overhead
 * guard's), recomputed when a target changes its rate or stops: a guard that lowers its
 * target's rate lowers the others' too, never raises anyone's above what it asked.
 * uvs_sampler_period_ns says the period a target's normal samples are really taken at.
 */
#ifndef UVSCOPE_SAMPLER_H
#define UVSCOPE_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collect/bpf_shared.h"
#include "target/process.h"
#include "uvscope/stacks.h"

/* One raw sample and, when the frame-pointer walk broke, the copy of the user stack. */
typedef void (*uvs_sample_fn)(void *ctx, const struct uvs_stack_sample *s, const uint8_t *copy,
			      size_t copy_len);

struct uvs_sampler;

struct uvs_sampler_options {
	uint64_t period_ns;       /* one sample per this much CPU time of a thread (99 Hz) */
	uint64_t boost_period_ns; /* the same for a thread whose loop is blocked (999 Hz) */
	/* An event per thread, not per CPU (UVSCOPE_SAMPLE_PER_THREAD): the first target decides. */
	bool per_thread;
	uvs_sample_fn on_sample;
	void *ctx;
};

/*
 * Samples target t at its slot of host sh: loads the object and opens the per-CPU events when
 * it is the first (after the loop object: it reuses the shared maps), else takes them from sh;
 * opens t's per-thread events where there are no per-CPU ones. t's samples count once the
 * collector publishes it. 0, or -errno with why set.
 */
int uvs_sampler_open(struct uvs_sampler **out, struct uvs_bpf_shared *sh, int slot,
		     const struct uvs_target *t, const struct uvs_sampler_options *o, char *why,
		     size_t cap);
/* Stops, and forgets the target (its records still in the ring are dropped); the object stays. */
void uvs_sampler_free(struct uvs_sampler *s);
/*
 * Takes no more samples of this target (its slot's switch, its events, its boosted tids); the
 * ring keeps what was sampled, and the per-CPU events stay for the other targets.
 */
void uvs_sampler_stop(struct uvs_sampler *s);

/* Opens events for threads that appeared and closes those of threads that exited. */
void uvs_sampler_sync_threads(struct uvs_sampler *s, const struct uvs_target *t);

/* Samples tid at the blocked rate (on) or the normal one (off). 0, or -errno. */
int uvs_sampler_boost(struct uvs_sampler *s, pid_t tid, bool on);

/*
 * Changes both sampling periods for every thread of this target, now and for threads opened
 * later (the overhead guard); the per-CPU events follow the slowest target (see above). 0, or
 * the first -errno an event refused (the others are changed anyway).
 */
int uvs_sampler_set_periods(struct uvs_sampler *s, uint64_t period_ns, uint64_t boost_period_ns);

/* The period this target's threads are sampled at when not boosted (what a sample weighs). */
uint64_t uvs_sampler_period_ns(const struct uvs_sampler *s);

/* Reads the stack of tid now, as an off-CPU sample (meant for a sleeping thread). */
int uvs_sampler_read_off_cpu(struct uvs_sampler *s, pid_t tid);

/*
 * The ring buffer's fd (the agent's one ring, for uvs_bpf_shared_add_ring) and its record
 * callback, whose ctx is the host (struct uvs_bpf_shared *): a record goes to its tgid's
 * sampler, and is dropped when that process is not watched (any more). A sampler's instance
 * in the host (uvs_bpf_shared_inst_of, UVS_OBJ_STACKS) is its struct uvs_sampler_options.
 */
int uvs_sampler_ring_fd(const struct uvs_sampler *s);
int uvs_sampler_on_record(void *ctx, void *data, size_t len);
/* 0 when data holds a whole record (the sample and its stack copy), else -EINVAL. */
int uvs_sampler_record_check(const void *data, size_t len);

/* BPF's counters of this target, summed over CPUs. */
void uvs_sampler_stats(const struct uvs_sampler *s, struct uvs_stack_stats *out);

/* How samples are taken, for the attach line: "per-CPU events", or per-thread ones and why. */
const char *uvs_sampler_how(const struct uvs_sampler *s);

#endif
