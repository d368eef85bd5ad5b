/* SPDX-License-Identifier: MIT */
/*
 * The libuv thread pool from its statics in the target's memory (the proc backend: no probe):
 * `nthreads`, `idle_threads`, `slow_io_work_running` and the queue `wq` (walked, bounded,
 * each link checked), read at every block check for the window's most-queued and saturation,
 * and at each window for the figures of now. Per-kind figures, submissions and completions
 * need the probes: they are unavailable here.
 */
#ifndef UVSCOPE_POOL_STATICS_H
#define UVSCOPE_POOL_STATICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "target/memory.h"
#include "target/process.h"

/* The most queue entries walked per reading: a longer queue reads as this many. */
#define UVS_POOL_QUEUE_WALK_MAX 4096

/* Where libuv's threadpool.c statics are in the target (runtime addresses). */
struct uvs_pool_addrs {
	uint64_t nthreads, idle_threads, slow_io_work_running;
	uint64_t wq, slow_io_pending_wq, run_slow_work_message, exit_message;
};

/* One reading of the pool. */
struct uvs_pool_reading_now {
	uint32_t nthreads;
	uint32_t idle_threads;
	uint32_t slow_running;
	uint64_t queued;      /* work items in wq and slow_io_pending_wq */
	bool queue_capped;    /* the walk stopped at UVS_POOL_QUEUE_WALK_MAX */
};

struct uvs_pool_statics {
	bool available;
	char why[300];
	struct uvs_mem_reader mem;
	struct uvs_pool_addrs at;
	/*
	 * nthreads, idle_threads, slow_io_work_running and slow_io_pending_wq's first link lie
	 * within span_len bytes from span_at (threadpool.c's statics, side by side in .bss: 116
	 * bytes on Node 20): one read of them all. 0: too far apart, read one by one.
	 */
	uint64_t span_at;
	size_t span_len;
	struct uvs_pool_reading_now last;
	bool have_last;
	/*
	 * The readings of the window (one per block check): queued at most, and how often more
	 * were queued than threads waited (saturated).
	 */
	uint64_t samples, samples_queued, queued_max;
	uint64_t all_samples, all_samples_queued, all_queued_max;
};

/*
 * Sets span_at and span_len from `at`: the span of nthreads, idle_threads,
 * slow_io_work_running and slow_io_pending_wq's first link when they lie within 256 bytes,
 * else none (0; also when an address wraps past 2^64). Called by uvs_pool_statics_attach.
 */
void uvs_pool_statics_set_span(struct uvs_pool_statics *p);

/*
 * Counts the entries of a libuv circular queue (struct uv__queue {next, prev}) at head, not
 * counting the sentinel nodes skip1 and skip2 (libuv's messages), walking at most max links
 * and checking that each node's prev is the one before. 0 with *count (and *capped when max
 * was reached), or -EAGAIN when the links do not hold (the queue changed under the walk), or
 * the read's -errno.
 */
int uvs_pool_queue_count(const struct uvs_mem_reader *r, uint64_t head, uint64_t skip1,
			 uint64_t skip2, size_t max, uint64_t *count, bool *capped);

/* Finds the statics in t's libuv object; on failure p->available is false and p->why says why. */
void uvs_pool_statics_attach(struct uvs_pool_statics *p, const struct uvs_target *t);

/*
 * Whether the pool is idle now: 1 when both queues are empty and then every thread waits for
 * work (or the pool never started), 0 when not, or -errno. The queues are read first: a job in
 * flight at the first read is either queued then (seen) or served by a thread that is not idle
 * until its job has ended, so an idle answer means every job submitted before the call began
 * has ended (what the pool's probes need to know when they come back, collect/pool.c).
 */
int uvs_pool_statics_idle(const struct uvs_pool_statics *p);

/*
 * The pool's size and its threads waiting for work now (libuv's nthreads and idle_threads), no
 * queue walk: 0, or -errno (-ENODATA for figures that cannot be libuv's).
 */
int uvs_pool_statics_threads(const struct uvs_pool_statics *p, uint32_t *nthreads,
			     uint32_t *idle);

/*
 * Whether dns (slow I/O) waits at libuv's cap now while a thread idles: slow work pending,
 * slow_io_work_running at the cap ((nthreads + 1) / 2), and a thread waiting for work; the
 * wait libuv's rule makes, which no count of jobs in flight against threads shows. 1 or 0,
 * or -errno. Four reads of libuv's statics, no queue walk.
 */
int uvs_pool_statics_capped(const struct uvs_pool_statics *p);

/* Reads the pool now: 0, or -errno (the window keeps the last good reading). */
int uvs_pool_statics_read(struct uvs_pool_statics *p, struct uvs_pool_reading_now *out);

/* One reading at a block check, for the window's most-queued and saturation. */
void uvs_pool_statics_sample(struct uvs_pool_statics *p);

/* The window's figures (size, queued, running now; most queued, saturation from samples). */
void uvs_pool_statics_window(struct uvs_pool_statics *p, struct uvs_pool_snapshot *out);

/* The session's: the last reading, and most queued and saturation over every sample. */
void uvs_pool_statics_totals(const struct uvs_pool_statics *p, struct uvs_pool_snapshot *out);

#endif
