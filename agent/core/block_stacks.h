/* SPDX-License-Identifier: MIT */
/*
 * The recent samples of each loop thread, kept so that a blocked-loop alert can say which
 * stacks held the loop: when a block is seen, the samples since the loop left its wait are
 * counted by stack. Also the recent GC pauses per thread, for "how much of the block was GC".
 * Bounded: UVS_BLOCK_RING samples per loop thread (about 2 s at the blocked rate), each with
 * room for its own depth, at most UVS_BLOCK_FRAMES frames (the innermost ones).
 */
#ifndef UVSCOPE_BLOCK_STACKS_H
#define UVSCOPE_BLOCK_STACKS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/profile.h"
#include "core/snapshot.h"

#define UVS_BLOCK_RING 2048
#define UVS_BLOCK_FRAMES 128

struct uvs_block_stacks;

struct uvs_block_stacks *uvs_block_stacks_new(void);
void uvs_block_stacks_free(struct uvs_block_stacks *b);

/* Keeps s if it is a loop thread's busy or off-CPU sample. */
void uvs_block_stacks_add(struct uvs_block_stacks *b, const struct uvs_sample *s);
/* Keeps a GC pause of a thread. */
void uvs_block_stacks_gc(struct uvs_block_stacks *b, const struct uvs_gc_record *g);

/*
 * The stacks of tid's samples in [since, until] (CLOCK_MONOTONIC), most frequent first, into
 * *out; its frame pointers stay valid until the next call. Returns out->samples.
 */
uint64_t uvs_block_stacks_top(struct uvs_block_stacks *b, int tid, uint64_t since, uint64_t until,
			      struct uvs_alert_stacks *out);
/* Time tid spent in GC within [since, until]. */
uint64_t uvs_block_stacks_gc_ns(const struct uvs_block_stacks *b, int tid, uint64_t since,
				uint64_t until);

#endif
