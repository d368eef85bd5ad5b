/* SPDX-License-Identifier: MIT */
/*
 * The frame-pointer walk of bpf/stacks.bpf.c (walk_user), done by the agent on a copy of a
 * thread's user stack: for the stacks taken without BPF (a ptrace grab, a perf_event_open
 * sample with its user stack). The result is the same raw sample the BPF walk gives (frames
 * with pc, fp and the slots at fp-8 and fp-16, where V8 keeps a JavaScript frame's context and
 * function), so one resolver (collect/stack_resolver.h) names both.
 *
 * Words are read from the copy when they lie in it, else from the target's memory through the
 * reader (the frames above the copy: the outer ones of a deep stack). Everything read is the
 * target's and untrusted: the same checks as BPF's bound the walk (aligned, growing, gaps of
 * less than 8 MiB, at most UVS_USER_FRAMES_MAX frames).
 */
#ifndef UVSCOPE_FP_WALK_H
#define UVSCOPE_FP_WALK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "target/memory.h"
#include "uvscope/stacks.h"

/* The user stack as copied: len bytes that were at base in the target. */
struct uvs_stack_copy {
	uint64_t base;
	const uint8_t *bytes;
	size_t len;
};

/*
 * Walks from s->ip, s->sp, s->bp into s->user, s->nuser and s->walk_end. mem may be NULL (only
 * the copy is read: a walk that leaves it ends UVS_WALK_BROKEN). Sets no other field.
 */
void uvs_fp_walk(struct uvs_stack_sample *s, const struct uvs_stack_copy *copy,
		 const struct uvs_mem_reader *mem);

#endif
