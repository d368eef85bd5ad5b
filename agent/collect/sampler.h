/* SPDX-License-Identifier: MIT */
/*
 * Stack sampling of one target (bpf/stacks.bpf.c): a cpu-clock perf event per CPU whose
 * program keeps the target's samples (a per-thread event would cost the target a timer
 * reprogramming at each of its context switches), a faster event of its own for a thread
 * whose loop is blocked, and a task iterator that reads one sleeping thread's stack when
 * asked. Where per-CPU events are refused it falls back to an event per thread. Samples arrive raw
 * (include/uvscope/stacks.h) through a callback; naming them is collect/stack_resolver.c's job.
 */
#ifndef UVSCOPE_SAMPLER_H
#define UVSCOPE_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "target/process.h"
#include "uvscope/stacks.h"

/* One raw sample and, when the frame-pointer walk broke, the copy of the user stack. */
typedef void (*uvs_sample_fn)(void *ctx, const struct uvs_stack_sample *s, const uint8_t *copy,
			      size_t copy_len);

struct uvs_sampler;

struct uvs_sampler_options {
	uint64_t period_ns;       /* one sample per this much CPU time of a thread (99 Hz) */
	uint64_t boost_period_ns; /* the same for a thread whose loop is blocked (999 Hz) */
	int loop_state_fd;        /* the loop object's map of loop threads */
	bool per_thread;          /* an event per thread, not per CPU (UVSCOPE_SAMPLE_PER_THREAD) */
	uvs_sample_fn on_sample;
	void *ctx;
};

/* Loads the program and opens its events (per CPU, else per thread of t). 0, or -errno with why set. */
int uvs_sampler_open(struct uvs_sampler **out, const struct uvs_target *t,
		     const struct uvs_sampler_options *o, char *why, size_t cap);
void uvs_sampler_free(struct uvs_sampler *s);
/* Closes every thread's event and opens no more; the ring keeps what was sampled. */
void uvs_sampler_stop(struct uvs_sampler *s);

/* Opens events for threads that appeared and closes those of threads that exited. */
void uvs_sampler_sync_threads(struct uvs_sampler *s, const struct uvs_target *t);

/* Samples tid at the blocked rate (on) or the normal one (off). 0, or -errno. */
int uvs_sampler_boost(struct uvs_sampler *s, pid_t tid, bool on);

/*
 * Changes both sampling periods for every thread, now and for threads opened later (the
 * overhead guard). 0, or the first -errno an event refused (the others are changed anyway).
 */
int uvs_sampler_set_periods(struct uvs_sampler *s, uint64_t period_ns, uint64_t boost_period_ns);

/* Reads the stack of tid now, as an off-CPU sample (meant for a sleeping thread). */
int uvs_sampler_read_off_cpu(struct uvs_sampler *s, pid_t tid);

/* The ring buffer's fd (for ring_buffer__add) and its record callback. */
int uvs_sampler_ring_fd(const struct uvs_sampler *s);
int uvs_sampler_on_record(void *ctx, void *data, size_t len);

/* BPF's counters summed over CPUs. */
void uvs_sampler_stats(const struct uvs_sampler *s, struct uvs_stack_stats *out);

/* How samples are taken, for the attach line: "per-CPU events", or per-thread ones and why. */
const char *uvs_sampler_how(const struct uvs_sampler *s);

#endif
