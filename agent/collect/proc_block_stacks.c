// SPDX-License-Identifier: MIT
#include "collect/proc_block_stacks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/stack_resolver.h"
#include "collect/thread_stack.h"
#include "target/procfs.h"
#include "util/log.h"

void uvs_proc_block_stacks_attach(struct uvs_proc_block_stacks *b, const struct uvs_target *t,
				  uint64_t block_ns, const struct uvs_collect_sink *sink)
{
	b->t = t;
	b->sink = *sink;
	b->block_ns = block_ns;
	b->ts = malloc(sizeof(*b->ts));
	b->resolver = b->ts ? uvs_stack_resolver_new(t) : NULL;
	if (!b->resolver) {
		snprintf(b->why, sizeof(b->why), "cannot set up stack naming: %s", strerror(errno));
		free(b->ts);
		b->ts = NULL;
		return;
	}
	b->available = true;
}

static struct uvs_proc_block_follow *follow(struct uvs_proc_block_stacks *b, int tid)
{
	for (size_t i = 0; i < b->nfollow; i++)
		if (b->follow[i].tid == tid)
			return &b->follow[i];
	/* A slot of a thread that left: the list holds the loops seen blocked, bounded. */
	if (b->nfollow == UVS_MAX_LOOPS)
		b->nfollow = 0;
	b->follow[b->nfollow] = (struct uvs_proc_block_follow){ .tid = tid };
	return &b->follow[b->nfollow++];
}

static void note_pause(struct uvs_proc_block_stacks *b, int tid, const struct uvs_thread_stack *ts)
{
	b->pauses[b->next_pause] = ts->pause_ns;
	b->next_pause = (b->next_pause + 1) % UVS_PROC_BLOCK_PAUSES;
	if (b->npauses < UVS_PROC_BLOCK_PAUSES)
		b->npauses++;
	if (ts->pause_ns > b->pause_max)
		b->pause_max = ts->pause_ns;
	uvs_debug("blocked loop %d: ptrace grab stopped it %.1f us (stop seen after %.1f us, "
		  "stack read in %.1f us)", tid, ts->pause_ns / 1e3, ts->stop_ns / 1e3,
		  ts->take_ns / 1e3);
}

/* The grab named and handed over with the labels the BPF path gives a blocked loop's sample. */
static void hand_over(struct uvs_proc_block_stacks *b, const struct uvs_loop_busy *l)
{
	struct uvs_frame frames[UVS_RESOLVED_FRAMES_MAX];
	const struct uvs_stack_sample *raw = &b->ts->s;
	struct uvs_sample s = { 0 };
	int phase;

	if (!b->sink.sample)
		return;
	s.nframes = uvs_stack_resolve(b->resolver, raw, b->ts->copy, b->ts->copy_len, frames,
				      UVS_RESOLVED_FRAMES_MAX, &phase);
	if (!s.nframes)
		return;
	s.frames = frames;
	s.ts_ns = raw->ts_ns;
	s.weight_ns = UVS_PROC_BLOCK_GRAB_NS;
	s.labels.tid = l->tid;
	s.labels.role = l->role;
	s.labels.phase = phase;
	if (raw->kind == UVS_SAMPLE_OFF_CPU) {
		s.labels.state = UVS_STATE_OFF_CPU;
	} else if (raw->loop == UVS_SAMPLE_LOOP_BUSY) {
		s.labels.state = UVS_STATE_LOOP_BUSY;
		s.busy_since_ns = l->busy_since_ns;
	} else {
		/* Stopped in its poll wait: the block ended just before; not one of its stacks. */
		return;
	}
	b->sink.sample(b->sink.ctx, &s);
}

static void grab(struct uvs_proc_block_stacks *b, const struct uvs_loop_busy *l)
{
	struct uvs_thread_stack_options o = { .loop = UVS_SAMPLE_LOOP_BUSY,
					      .busy_since = l->busy_since_ns };
	char state = uvs_thread_state(b->t->pid, l->tid), why[256];
	int err;

	/* In uninterruptible sleep it could not stop now: the grab would refuse it anyway. */
	if (state == 'D' || !state)
		return;
	err = uvs_thread_stack_grab(b->t->pid, l->tid, &o, b->ts, why, sizeof(why));
	b->grabs++;
	if (b->ts->pause_ns)
		note_pause(b, l->tid, b->ts);
	if (err) {
		b->failed++;
		if (err == -EPERM)
			uvs_warn("blocked loop %d: no stacks: %s", l->tid, why);
		else
			uvs_debug("blocked loop %d: %s", l->tid, why);
		return;
	}
	hand_over(b, l);
}

void uvs_proc_block_stacks_check(struct uvs_proc_block_stacks *b, const struct uvs_loop_busy *l,
				 size_t n, uint64_t now)
{
	if (!b->available)
		return;
	for (size_t i = 0; i < n; i++) {
		struct uvs_proc_block_follow *f;

		/* Only a thread blocked now (busy past the threshold) is ever stopped. */
		if (!l[i].busy || !l[i].busy_since_ns || now < l[i].busy_since_ns ||
		    now - l[i].busy_since_ns < b->block_ns)
			continue;
		f = follow(b, l[i].tid);
		if (f->busy_since != l[i].busy_since_ns) {
			f->busy_since = l[i].busy_since_ns;
			f->grabs = 0;
		}
		if (f->grabs >= UVS_PROC_BLOCK_GRABS ||
		    (f->grabs && now - f->last < UVS_PROC_BLOCK_GRAB_NS))
			continue;
		f->grabs++;
		f->last = now;
		grab(b, &l[i]);
	}
}

void uvs_proc_block_stacks_describe(const struct uvs_proc_block_stacks *b, char *buf, size_t cap)
{
	char named[200];

	if (!b->available) {
		buf[0] = '\0';
		return;
	}
	uvs_stack_resolver_describe(b->resolver, named, sizeof(named));
	snprintf(buf, cap, "of blocked loops only, by ptrace grabs of the blocked thread every "
		 "%" PRIu64 " ms (at most %d per block; each stops that one thread, the pause is "
		 "measured), %s", (uint64_t)(UVS_PROC_BLOCK_GRAB_NS / 1000000ULL),
		 UVS_PROC_BLOCK_GRABS, named);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

void uvs_proc_block_stacks_summary(const struct uvs_proc_block_stacks *b, char *buf, size_t cap)
{
	uint64_t sorted[UVS_PROC_BLOCK_PAUSES];

	buf[0] = '\0';
	if (!b->npauses)
		return;
	memcpy(sorted, b->pauses, b->npauses * sizeof(sorted[0]));
	qsort(sorted, b->npauses, sizeof(sorted[0]), cmp_u64);
	snprintf(buf, cap, "%" PRIu64 " ptrace grabs of blocked loops (%" PRIu64 " failed), each "
		 "stopped the thread: median %.1f us, max %.1f us", b->grabs, b->failed,
		 sorted[b->npauses / 2] / 1e3, b->pause_max / 1e3);
}

void uvs_proc_block_stacks_new_epoch(struct uvs_proc_block_stacks *b)
{
	if (b->available)
		uvs_stack_resolver_new_epoch(b->resolver);
}

void uvs_proc_block_stacks_free(struct uvs_proc_block_stacks *b)
{
	uvs_stack_resolver_free(b->resolver);
	free(b->ts);
	b->resolver = NULL;
	b->ts = NULL;
	b->available = false;
}
