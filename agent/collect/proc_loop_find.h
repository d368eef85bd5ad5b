/* SPDX-License-Identifier: MIT */
/*
 * Where libuv keeps a loop's metrics in the target, and how a loop is recognised in the
 * target's memory: the layouts of uv__loop_internal_fields_t per libuv version, a uv_loop_t
 * validated from its own links, a Worker's loop found on its thread's stack, and one
 * consistent reading of the metrics. Everything read is untrusted and goes through a
 * uvs_mem_reader, so unit tests and the fuzzer feed it made-up memory.
 */
#ifndef UVSCOPE_PROC_LOOP_FIND_H
#define UVSCOPE_PROC_LOOP_FIND_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/proc_loop_math.h"
#include "target/memory.h"

/* Where the metrics are in uv__loop_internal_fields_t (from each official build's DWARF). */
struct uvs_lm_layout {
	bool known;
	bool has_count;      /* uv_metrics_t.loop_count is there (libuv >= 1.45) */
	uint32_t count_off;
	uint32_t entry_off;  /* provider_entry_time */
	uint32_t idle_off;   /* provider_idle_time */
	uint32_t lock_off;   /* the uv_mutex_t libuv updates both under (UVS_UV_LFIELDS_METRICS_LOCK) */
};

/* The layout of libuv version hex (0x012e00 = 1.46.0); known false for one we do not know. */
struct uvs_lm_layout uvs_lm_layout_for(uint32_t libuv_hex);

/*
 * Whether a uv_loop_t at addr is a loop waiting on epoll fd epfd (or any fd when epfd < 0)
 * whose idle-time metrics are on: its backend_fd, its handle queue's links back to it, and its
 * internal fields' flags. *lfields gets its internal fields. 0, or -ENODATA / the read's -errno.
 */
int uvs_lm_validate_loop(const struct uvs_mem_reader *r, uint64_t addr, int epfd,
			 uint64_t *lfields);

/*
 * How far up a Worker thread's stack its loop is looked for, from the stack pointer of its
 * epoll wait: Worker::Run's frame, which holds it, is a few KiB above (uv_run, uv__io_poll).
 */
#define UVS_LM_WORKER_STACK_SCAN (128u * 1024u)

/*
 * A uv_loop_t on the stack of a thread waiting on epfd, searched from its stack pointer sp
 * upwards for at most max_bytes (Node keeps a Worker's loop in its thread's stack frame of
 * Worker::Run). 0 with *loop and *lfields, -ENOENT when none validates.
 */
int uvs_lm_find_on_stack(const struct uvs_mem_reader *r, uint64_t sp, uint32_t max_bytes, int epfd,
			 uint64_t *loop, uint64_t *lfields);

/*
 * Whether the uv_loop_t at addr still is the loop followed: its internal fields at lfields and
 * its backend fd epfd (uv_loop_close clears both; a Worker's stack is reused after it exits).
 */
bool uvs_lm_still_loop(const struct uvs_mem_reader *r, uint64_t addr, uint64_t lfields, int epfd);

/*
 * Whether reading r can follow reading p of the same loop: the idle time cannot grow by more
 * than the time between them, nor the loop count by more than an iteration per 100 ns. Memory
 * reused by something else reads as anything; this catches what the validation let through.
 */
bool uvs_lm_plausible(const struct uvs_lm_reading *p, const struct uvs_lm_reading *r);

/*
 * Reads the metrics at lfields into *out (now: the caller's clock at the read), again until
 * two reads agree on the wait (stamp and idle time, which libuv updates under a lock we cannot
 * take) with the lock free; the loop count is the later read's. Checks them against now: a
 * stamp or an idle time past now is not a loop's. 0, or -ENODATA / -EAGAIN / -errno.
 */
int uvs_lm_read(const struct uvs_mem_reader *r, const struct uvs_lm_layout *layout,
		uint64_t lfields, uint64_t now, struct uvs_lm_reading *out);

#endif
