/* SPDX-License-Identifier: MIT */
/*
 * Stack sampling without BPF: a cpu-clock perf event per thread of the target, opened with
 * perf_event_open as `perf record -g --call-graph fp --user-regs --user-stack` would
 * (PERF_SAMPLE_TID, TIME, IP, CALLCHAIN, REGS_USER with ip/sp/bp, STACK_USER), read through
 * each event's mmap ring. Nothing is stopped: the kernel copies the registers and the top of
 * the user stack at the sample, and the agent walks the frame pointers in that copy
 * (collect/fp_walk.h; the JS function slot at fp-16 comes from the copy, or, above it, from
 * the target's memory read as the ring is drained), giving the raw sample the BPF path gives.
 *
 * Allowed where perf_event_paranoid <= 2 for a process that may ptrace the target (the
 * kernel's check for a per-thread event), with exclude_kernel when paranoid > 1 and the
 * process lacks CAP_PERFMON (it cannot see kernel frames then). Threads are found in
 * /proc/PID/task at the open and at every uvs_perf_sampler_sync_threads (once per interval):
 * new ones get an event, ended ones lose theirs.
 */
#ifndef UVSCOPE_PERF_SAMPLER_H
#define UVSCOPE_PERF_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "uvscope/stacks.h"

struct uvs_perf_sampler;

/* One sample, named by the caller (uvs_stack_resolve); valid during the call only. */
typedef void (*uvs_perf_sample_fn)(void *ctx, const struct uvs_stack_sample *raw,
				   const uint8_t *copy, size_t copy_len);

struct uvs_perf_sampler_options {
	uint64_t period_ns; /* CPU time between two samples of a thread */
	uvs_perf_sample_fn on_sample;
	void *ctx;
	pid_t only_tid;     /* 0: every thread of pid; else that one thread only (a blocked loop) */
};

struct uvs_perf_sampler_stats {
	uint64_t samples;   /* records turned into samples */
	uint64_t lost;      /* samples the kernel dropped (PERF_RECORD_LOST: the ring was full) */
	uint64_t bad;       /* records that did not parse (counted, skipped) */
	uint64_t threads;   /* threads with an event now */
	uint64_t unsampled; /* threads listed at the last sync that could not get one */
	int unsampled_err;  /* why (-errno) the first of them could not: -EPERM or -ENOMEM when
			       the locked memory for rings ran out (perf_event_mlock_kb) */
};

/*
 * May this process sample another it may ptrace with perf_event_open? 0, or -EACCES with why
 * saying the paranoid level (read from /proc/sys/kernel/perf_event_paranoid) and what it needs.
 * *kernel_frames says whether kernel frames may be asked for.
 */
int uvs_perf_sampler_allowed(bool *kernel_frames, char *why, size_t cap);

/*
 * Opens an event and its ring per thread of pid: NULL with errno and why set when not one
 * thread could get one (the others are counted in the stats).
 */
struct uvs_perf_sampler *uvs_perf_sampler_open(pid_t pid, const struct uvs_perf_sampler_options *o,
					       char *why, size_t cap);
void uvs_perf_sampler_free(struct uvs_perf_sampler *s);

/*
 * Re-lists /proc/PID/task: events for new threads, none for ended ones. 0, or -errno when
 * /proc/PID/task cannot be read; threads that cannot get an event are counted in the stats.
 */
int uvs_perf_sampler_sync_threads(struct uvs_perf_sampler *s);

/*
 * Waits at most timeout_ms for samples (poll on the rings' fds), then drains every ring,
 * calling on_sample for each. Returns the samples handed over, or -errno (-ESRCH: the process
 * is gone).
 */
int uvs_perf_sampler_poll(struct uvs_perf_sampler *s, int timeout_ms);

void uvs_perf_sampler_stats(const struct uvs_perf_sampler *s, struct uvs_perf_sampler_stats *out);

#endif
