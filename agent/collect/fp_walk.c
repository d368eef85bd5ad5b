// SPDX-License-Identifier: MIT
#include "collect/fp_walk.h"

#include <errno.h>
#include <string.h>

/* The largest plausible gap between two frames, as in BPF: beyond it a "frame pointer" is data. */
#define MAX_FRAME_GAP (8u << 20)

/* n bytes at addr: from the copy when all of them are in it, else from the target. */
static int read_words(const struct uvs_stack_copy *c, const struct uvs_mem_reader *mem,
		      uint64_t addr, void *out, size_t n)
{
	if (c && c->bytes && addr >= c->base && addr - c->base <= c->len &&
	    c->len - (addr - c->base) >= n) {
		memcpy(out, c->bytes + (addr - c->base), n);
		return 0;
	}
	if (!mem)
		return -EFAULT;
	return uvs_mem_read_exact(mem, addr, out, n);
}

void uvs_fp_walk(struct uvs_stack_sample *s, const struct uvs_stack_copy *copy,
		 const struct uvs_mem_reader *mem)
{
	uint64_t pc = s->ip, fp = s->bp;
	uint16_t n = 0;

	s->walk_end = UVS_WALK_TRUNCATED;
	for (int i = 0; i < UVS_USER_FRAMES_MAX; i++) {
		struct uvs_raw_frame *f = &s->user[i];
		uint64_t slots[2], link[2];

		f->pc = pc;
		f->fp = fp;
		f->slot_m8 = 0;
		f->slot_m16 = 0;
		n = (uint16_t)(i + 1);
		if (fp == 0) {
			/*
			 * A saved frame pointer of 0 ends the chain; a live %rbp of 0 proves
			 * nothing (code without frame pointers uses it for data).
			 */
			s->walk_end = i ? UVS_WALK_COMPLETE : UVS_WALK_BROKEN;
			break;
		}
		if ((fp & 7) || fp < s->sp || fp > UINT64_MAX - 16 ||
		    read_words(copy, mem, fp, link, sizeof(link))) {
			s->walk_end = UVS_WALK_BROKEN;
			break;
		}
		if (fp >= 16 && !read_words(copy, mem, fp - 16, slots, sizeof(slots))) {
			f->slot_m16 = slots[0];
			f->slot_m8 = slots[1];
		}
		if (link[0] != 0 && (link[0] <= fp || link[0] - fp > MAX_FRAME_GAP)) {
			s->walk_end = UVS_WALK_BROKEN;
			break;
		}
		pc = link[1];
		fp = link[0];
	}
	s->nuser = n;
}
