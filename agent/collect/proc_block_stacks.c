// SPDX-License-Identifier: MIT
#include "collect/proc_block_stacks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/perf_sampler.h"
#include "collect/stack_resolver.h"
#include "collect/thread_stack.h"
#include "target/procfs.h"
#include "util/clock.h"
#include "util/log.h"

/* perf_event_open where the kernel lets us sample the target; UVSCOPE_PROC_STACKS=ptrace not. */
static void choose_perf(struct uvs_proc_block_stacks *b, uint32_t blocked_hz)
{
	const char *force = getenv("UVSCOPE_PROC_STACKS");
	bool kernel;

	if (force && !strcmp(force, "ptrace")) {
		snprintf(b->perf_why, sizeof(b->perf_why), "UVSCOPE_PROC_STACKS=ptrace");
		return;
	}
	if (!blocked_hz) {
		snprintf(b->perf_why, sizeof(b->perf_why), "no sampling rate");
		return;
	}
	if (uvs_perf_sampler_allowed(&kernel, b->perf_why, sizeof(b->perf_why)))
		return;
	b->perf_period_ns = 1000000000ULL / blocked_hz;
}

void uvs_proc_block_stacks_attach(struct uvs_proc_block_stacks *b, const struct uvs_target *t,
				  uint64_t block_ns, uint32_t blocked_hz,
				  const struct uvs_collect_sink *sink)
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
	choose_perf(b, blocked_hz);
	b->available = true;
}

static void perf_close(struct uvs_proc_block_follow *f)
{
	if (!f->perf)
		return;
	/* Its last samples first: they belong to the block that just ended. */
	uvs_perf_sampler_poll(f->perf, 0);
	uvs_perf_sampler_free(f->perf);
	f->perf = NULL;
}

static struct uvs_proc_block_follow *follow(struct uvs_proc_block_stacks *b, int tid)
{
	for (size_t i = 0; i < b->nfollow; i++)
		if (b->follow[i].tid == tid)
			return &b->follow[i];
	/* A slot of a thread that left: the list holds the loops seen blocked, bounded. */
	if (b->nfollow == UVS_MAX_LOOPS) {
		b->nfollow = 0;
		perf_close(&b->follow[0]);
	}
	b->follow[b->nfollow] = (struct uvs_proc_block_follow){ .tid = tid };
	return &b->follow[b->nfollow++];
}

static void note_pause(struct uvs_proc_block_stacks *b, int tid, const struct uvs_thread_stack *ts,
		       const char *what)
{
	b->pauses[b->next_pause] = ts->pause_ns;
	b->next_pause = (b->next_pause + 1) % UVS_PROC_BLOCK_PAUSES;
	if (b->npauses < UVS_PROC_BLOCK_PAUSES)
		b->npauses++;
	if (ts->pause_ns > b->pause_max)
		b->pause_max = ts->pause_ns;
	uvs_debug("%s %d: ptrace grab stopped it %.1f us (stop seen after %.1f us, "
		  "stack read in %.1f us)", what, tid, ts->pause_ns / 1e3, ts->stop_ns / 1e3,
		  ts->take_ns / 1e3);
}

/* A sample named and handed over with the labels the BPF path gives a blocked loop's sample. */
static void hand_over(struct uvs_proc_block_stacks *b, const struct uvs_loop_busy *l,
		      const struct uvs_stack_sample *raw, const uint8_t *copy, size_t copy_len,
		      uint64_t weight_ns)
{
	struct uvs_frame frames[UVS_RESOLVED_FRAMES_MAX];
	struct uvs_sample s = { 0 };
	int phase;

	if (!b->sink.sample)
		return;
	s.nframes = uvs_stack_resolve(b->resolver, raw, copy, copy_len, frames,
				      UVS_RESOLVED_FRAMES_MAX, &phase);
	if (!s.nframes)
		return;
	s.frames = frames;
	s.ts_ns = raw->ts_ns;
	s.weight_ns = weight_ns;
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

/* A perf sample of a blocked thread: on the CPU, between two waits of its loop. */
static void on_perf_sample(void *ctx, const struct uvs_stack_sample *raw, const uint8_t *copy,
			   size_t copy_len)
{
	struct uvs_proc_block_stacks *b = ctx;
	struct uvs_stack_sample s = *raw;

	for (size_t i = 0; i < b->nfollow; i++) {
		struct uvs_proc_block_follow *f = &b->follow[i];

		if (f->tid != (int)raw->tid)
			continue;
		s.loop = UVS_SAMPLE_LOOP_BUSY;
		s.busy_since = f->busy_since;
		f->perf_samples++;
		b->perf_samples++;
		hand_over(b, &f->loop, &s, copy, copy_len, b->perf_period_ns);
		return;
	}
}

/*
 * An event on that thread alone. Its first sample is not waited for: it is due within
 * UVS_PROC_BLOCK_FIRST_WAIT_MS (first_due), which the later checks look at; one that cannot be
 * opened (no perf for this thread: the ring's locked memory, perf_event_mlock_kb, ran out, or
 * the kernel refused) leaves the block to ptrace grabs, said once.
 */
static void perf_open(struct uvs_proc_block_stacks *b, struct uvs_proc_block_follow *f,
		      uint64_t now)
{
	struct uvs_perf_sampler_options o = { .period_ns = b->perf_period_ns,
					      .on_sample = on_perf_sample, .ctx = b,
					      .only_tid = f->tid };
	char why[256];

	f->perf_tried = true;
	f->first_due = now + UVS_PROC_BLOCK_FIRST_WAIT_MS * 1000000ULL;
	f->perf = uvs_perf_sampler_open(b->t->pid, &o, why, sizeof(why));
	if (f->perf)
		return;
	b->perf_failed++;
	if (!b->perf_warned)
		uvs_warn("blocked loop %d: %s; its stacks are taken by ptrace grabs instead", f->tid,
			 why);
	else
		uvs_debug("blocked loop %d: %s", f->tid, why);
	b->perf_warned = true;
}

/*
 * One ptrace grab of thread tid into b->ts, counted in *grabs and *failed, its pause kept. A
 * thread in uninterruptible sleep could not stop now: not tried (-EAGAIN). A refusal (another
 * tracer holds it) is said once with `refused`, other failures with -v. 0 or -errno.
 */
static int take_grab(struct uvs_proc_block_stacks *b, int tid,
		     const struct uvs_thread_stack_options *o, const char *what, const char *refused,
		     uint64_t *grabs, uint64_t *failed)
{
	char state = uvs_thread_state(b->t->pid, tid), why[256];
	int err;

	if (state == 'D' || !state)
		return -EAGAIN;
	err = uvs_thread_stack_grab(b->t->pid, tid, o, b->ts, why, sizeof(why));
	(*grabs)++;
	if (b->ts->pause_ns)
		note_pause(b, tid, b->ts, what);
	if (!err)
		return 0;
	(*failed)++;
	/* Said once, not at each of a block's grabs. */
	if (err == -EPERM && !b->eperm_warned)
		uvs_warn("%s %d: %s: %s", what, tid, refused, why);
	else
		uvs_debug("%s %d: %s", what, tid, why);
	b->eperm_warned |= err == -EPERM;
	return err;
}

static void grab(struct uvs_proc_block_stacks *b, const struct uvs_loop_busy *l)
{
	struct uvs_thread_stack_options o = { .loop = UVS_SAMPLE_LOOP_BUSY,
					      .busy_since = l->busy_since_ns };

	if (take_grab(b, l->tid, &o, "blocked loop", "no stacks", &b->grabs, &b->failed))
		return;
	hand_over(b, l, &b->ts->s, b->ts->copy, b->ts->copy_len, UVS_PROC_BLOCK_GRAB_NS);
}

int uvs_proc_block_stacks_role(struct uvs_proc_block_stacks *b, int tid, enum uvs_role *role)
{
	struct uvs_thread_stack_options o = { .loop = UVS_SAMPLE_NOT_LOOP };
	struct uvs_frame frames[UVS_RESOLVED_FRAMES_MAX];
	int err, phase;

	if (!b->available)
		return -ENOTSUP;
	err = take_grab(b, tid, &o, "unplaced thread",
			"runs outside any system call and cannot be placed (a Worker stuck since "
			"before attach is not shown)",
			&b->place_grabs, &b->place_failed);
	if (err)
		return err;
	/* Resolving walks past the frame pointers (.eh_frame) as for a sample: the role reads that. */
	uvs_stack_resolve(b->resolver, &b->ts->s, b->ts->copy, b->ts->copy_len, frames,
			  UVS_RESOLVED_FRAMES_MAX, &phase);
	*role = uvs_stack_resolver_role(b->resolver, tid);
	return 0;
}

/* How long l has been busy without returning to its poll (0: it is not busy). */
static uint64_t busy_for(const struct uvs_loop_busy *l, uint64_t now)
{
	return l->busy && l->busy_since_ns && now >= l->busy_since_ns ? now - l->busy_since_ns : 0;
}

void uvs_proc_block_stacks_check(struct uvs_proc_block_stacks *b, const struct uvs_loop_busy *l,
				 size_t n, uint64_t now)
{
	if (!b->available)
		return;
	/* A thread a grab gave up on, stopped since: let it go now (never waited for). */
	uvs_thread_stack_settle();
	for (size_t i = 0; i < b->nfollow; i++)
		b->follow[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		uint64_t busy = busy_for(&l[i], now);
		struct uvs_proc_block_follow *f;
		bool blocked = busy && busy >= b->block_ns, on_cpu;

		/*
		 * Only a thread blocked now (busy past the threshold) is ever stopped. perf, which
		 * stops nothing, starts at half the threshold, so that the alert has its stacks
		 * when it is raised, with no wait for the first sample.
		 */
		if (!blocked && !(busy && b->perf_period_ns && busy >= b->block_ns / 2))
			continue;
		f = follow(b, l[i].tid);
		f->seen = true;
		if (f->busy_since != l[i].busy_since_ns) {
			perf_close(f);
			f->busy_since = l[i].busy_since_ns;
			f->grabs = 0;
			f->perf_samples = 0;
			f->perf_tried = false;
		}
		f->loop = l[i];
		on_cpu = uvs_thread_state(b->t->pid, l[i].tid) == 'R';
		if (!f->perf && !f->perf_tried && on_cpu && b->perf_period_ns)
			perf_open(b, f, now);
		else if (f->perf)
			uvs_perf_sampler_poll(f->perf, 0);
		if (!blocked)
			continue;
		/*
		 * perf samples it while it runs (its first sample due by first_due); asleep, without
		 * perf, or with no sample by then, it takes a grab.
		 */
		if (f->perf && on_cpu && (f->perf_samples || now < f->first_due))
			continue;
		if (f->grabs >= UVS_PROC_BLOCK_GRABS ||
		    (f->grabs && now - f->last < UVS_PROC_BLOCK_GRAB_NS))
			continue;
		f->grabs++;
		f->last = now;
		grab(b, &l[i]);
	}
	/* Blocks that ended (or threads that left): their events are closed. */
	for (size_t i = 0; i < b->nfollow; i++)
		if (!b->follow[i].seen)
			perf_close(&b->follow[i]);
}

void uvs_proc_block_stacks_describe(const struct uvs_proc_block_stacks *b, char *buf, size_t cap)
{
	char named[200];

	if (!b->available) {
		buf[0] = '\0';
		return;
	}
	uvs_stack_resolver_describe(b->resolver, named, sizeof(named));
	if (b->perf_period_ns)
		snprintf(buf, cap, "of blocked loops only, by perf_event_open sampling of the "
			 "blocked thread at %" PRIu64 " Hz (stops nothing), by ptrace grabs every "
			 "%" PRIu64 " ms while it sleeps (each stops that one thread, the pause is "
			 "measured), %s", (uint64_t)(1000000000ULL / b->perf_period_ns),
			 (uint64_t)(UVS_PROC_BLOCK_GRAB_NS / 1000000ULL), named);
	else
		snprintf(buf, cap, "of blocked loops only, by ptrace grabs of the blocked thread "
			 "every %" PRIu64 " ms (at most %d per block; each stops that one thread, the "
			 "pause is measured; not perf_event_open: %s), %s",
			 (uint64_t)(UVS_PROC_BLOCK_GRAB_NS / 1000000ULL), UVS_PROC_BLOCK_GRABS,
			 b->perf_why, named);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

void uvs_proc_block_stacks_summary(const struct uvs_proc_block_stacks *b, char *buf, size_t cap)
{
	uint64_t sorted[UVS_PROC_BLOCK_PAUSES];
	size_t len = 0;

	buf[0] = '\0';
	if (b->perf_samples)
		len = (size_t)snprintf(buf, cap, "%" PRIu64 " perf samples of blocked loops%s",
				       b->perf_samples, b->npauses || b->perf_failed ? "; " : "");
	if (b->perf_failed && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, "%" PRIu64 " perf events could not be "
					"opened (ptrace grabs instead)%s", b->perf_failed,
					b->npauses ? "; " : "");
	if (!b->npauses || len >= cap)
		return;
	memcpy(sorted, b->pauses, b->npauses * sizeof(sorted[0]));
	qsort(sorted, b->npauses, sizeof(sorted[0]), cmp_u64);
	if (b->place_grabs)
		snprintf(buf + len, cap - len, "%" PRIu64 " ptrace grabs of blocked loops (%" PRIu64
			 " failed) and %" PRIu64 " of threads running outside any system call, to "
			 "place them (%" PRIu64 " failed), each stopped the thread: median %.1f us, "
			 "max %.1f us", b->grabs, b->failed, b->place_grabs, b->place_failed,
			 sorted[b->npauses / 2] / 1e3, b->pause_max / 1e3);
	else
		snprintf(buf + len, cap - len, "%" PRIu64 " ptrace grabs of blocked loops (%" PRIu64
			 " failed), each stopped the thread: median %.1f us, max %.1f us", b->grabs,
			 b->failed, sorted[b->npauses / 2] / 1e3, b->pause_max / 1e3);
}

void uvs_proc_block_stacks_new_epoch(struct uvs_proc_block_stacks *b)
{
	if (b->available)
		uvs_stack_resolver_new_epoch(b->resolver);
}

void uvs_proc_block_stacks_free(struct uvs_proc_block_stacks *b)
{
	/* What has stopped by now is detached; the rest the kernel releases when we exit. */
	uvs_thread_stack_settle();
	for (size_t i = 0; i < b->nfollow; i++) {
		uvs_perf_sampler_free(b->follow[i].perf);
		b->follow[i].perf = NULL;
	}
	uvs_stack_resolver_free(b->resolver);
	free(b->ts);
	b->resolver = NULL;
	b->ts = NULL;
	b->available = false;
}
