// SPDX-License-Identifier: MIT
#include "collect/stacks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/procfs.h"
#include "util/clock.h"
#include "util/log.h"

static uint64_t period_of(uint32_t hz)
{
	return hz ? 1000000000ULL / hz : 0;
}

static enum uvs_sample_state state_of(const struct uvs_stack_sample *raw)
{
	if (raw->kind == UVS_SAMPLE_OFF_CPU)
		return UVS_STATE_OFF_CPU;
	switch ((enum uvs_sample_loop)raw->loop) {
	case UVS_SAMPLE_LOOP_BUSY:
		return UVS_STATE_LOOP_BUSY;
	case UVS_SAMPLE_LOOP_IDLE:
		return UVS_STATE_LOOP_IDLE;
	case UVS_SAMPLE_NOT_LOOP:
		break;
	}
	return UVS_STATE_CPU;
}

static struct uvs_stacks_follow *followed(struct uvs_stacks *st, pid_t tid)
{
	for (size_t i = 0; i < st->nfollow; i++)
		if (st->follow[i].tid == tid)
			return &st->follow[i];
	return NULL;
}

/*
 * What a sample of tid stands for: the period of the rate it is sampled (or read) at now. Not
 * blocked, that is the per-CPU events' period, which may be slower than this target asked
 * when another target's guard lowered it (collect/sampler.h).
 */
static uint64_t sample_weight(struct uvs_stacks *st, const struct uvs_stack_sample *raw)
{
	struct uvs_stacks_follow *f = followed(st, (pid_t)raw->tid);

	if (f && raw->kind == UVS_SAMPLE_OFF_CPU && f->off_cpu_weight_ns)
		return f->off_cpu_weight_ns;
	return f && f->blocked ? st->blocked_period_ns : uvs_sampler_period_ns(st->sampler);
}

static void on_sample(void *ctx, const struct uvs_stack_sample *raw, const uint8_t *copy,
		      size_t copy_len)
{
	struct uvs_stacks *st = ctx;
	struct uvs_frame frames[UVS_RESOLVED_FRAMES_MAX];
	struct uvs_sample s = { 0 };
	bool known;
	int phase;

	if (!st->sink.sample)
		return;
	s.nframes = uvs_stack_resolve(st->resolver, raw, copy, copy_len, frames,
				      UVS_RESOLVED_FRAMES_MAX, &phase);
	s.frames = frames;
	s.ts_ns = raw->ts_ns;
	s.busy_since_ns = raw->loop == UVS_SAMPLE_LOOP_BUSY ? raw->busy_since : 0;
	s.labels.tid = (int)raw->tid;
	s.labels.role = uvs_target_role(st->target, (pid_t)raw->tid, &known);
	/*
	 * A thread never seen stopped in a syscall (a Worker that spins), or read as "other" (no
	 * proof), is placed by its samples: the loop collector then follows a Worker that has not
	 * polled since attach.
	 */
	if (!known || s.labels.role == UVS_ROLE_OTHER) {
		enum uvs_role role = uvs_stack_resolver_role(st->resolver, (pid_t)raw->tid);

		if (uvs_target_place_thread(st->target, (pid_t)raw->tid, role)) {
			uvs_debug("thread %d placed by a sampled stack: %s", (int)raw->tid,
				  uvs_role_name(role));
			s.labels.role = role;
		}
	}
	s.labels.state = state_of(raw);
	s.labels.phase = phase;
	s.weight_ns = sample_weight(st, raw);
	st->sink.sample(st->sink.ctx, &s);
}

void uvs_stacks_attach(struct uvs_stacks *st, struct uvs_bpf_shared *sh, int slot,
		       struct uvs_target *t, const struct uvs_collect_options *o,
		       const struct uvs_collect_sink *sink)
{
	struct uvs_sampler_options so = { 0 };
	int err;

	st->target = t;
	st->sink = *sink;
	st->period_ns = period_of(o->sample_hz);
	st->blocked_period_ns = period_of(o->blocked_hz ? o->blocked_hz : o->sample_hz);
	st->off_cpu_all = o->sample_off_cpu;
	st->resolver = uvs_stack_resolver_new(t);
	if (!st->resolver) {
		snprintf(st->why, sizeof(st->why), "cannot set up stack naming: %s", strerror(errno));
		return;
	}
	so.period_ns = st->period_ns;
	so.boost_period_ns = st->blocked_period_ns;
	/* For tests and for comparing costs: the per-thread path, as where CPUs may not be watched. */
	so.per_thread = getenv("UVSCOPE_SAMPLE_PER_THREAD") != NULL;
	so.on_sample = on_sample;
	so.ctx = st;
	err = uvs_sampler_open(&st->sampler, sh, slot, t, &so, st->why, sizeof(st->why));
	if (err)
		return;
	st->attached = true;
}

void uvs_stacks_quiesce(struct uvs_stacks *st)
{
	uvs_sampler_stop(st->sampler);
}

void uvs_stacks_detach(struct uvs_stacks *st)
{
	uvs_sampler_free(st->sampler);
	uvs_stack_resolver_free(st->resolver);
	st->sampler = NULL;
	st->resolver = NULL;
	st->attached = false;
}

int uvs_stacks_ring_fd(const struct uvs_stacks *st)
{
	return uvs_sampler_ring_fd(st->sampler);
}

int uvs_stacks_on_record(void *ctx, void *data, size_t len)
{
	return uvs_sampler_on_record(ctx, data, len);
}

/* A sleeping thread's stack is read at most once per period: asleep, it cannot change. */
static void read_if_asleep(struct uvs_stacks *st, pid_t tid, uint64_t *last, uint64_t period,
			   uint64_t now)
{
	char state;

	if (*last && now - *last < period)
		return;
	state = uvs_thread_state(st->target->pid, tid);
	if (state != 'S' && state != 'D')
		return;
	*last = now;
	if (uvs_sampler_read_off_cpu(st->sampler, tid))
		uvs_debug("stacks: cannot read thread %d's stack off the CPU", tid);
}

void uvs_stacks_follow_loops(struct uvs_stacks *st, const struct uvs_loop_busy *loops, size_t n,
			     uint64_t now_mono, uint64_t block_ns)
{
	size_t i;

	if (!st->attached)
		return;
	for (i = 0; i < n && i < UVS_STACKS_FOLLOW_MAX; i++) {
		struct uvs_stacks_follow *f = followed(st, loops[i].tid);
		bool blocked = loops[i].busy && loops[i].busy_since_ns &&
			       now_mono > loops[i].busy_since_ns &&
			       now_mono - loops[i].busy_since_ns >= block_ns;

		if (!f) {
			if (st->nfollow == UVS_STACKS_FOLLOW_MAX)
				continue;
			f = &st->follow[st->nfollow++];
			memset(f, 0, sizeof(*f));
			f->tid = loops[i].tid;
		}
		if (blocked != f->blocked) {
			uvs_sampler_boost(st->sampler, f->tid, blocked);
			f->blocked = blocked;
			f->last_off_cpu = 0;
			f->last_look = 0;
		}
		if (blocked) {
			/* A read here stands for the time since the last look, at least a period. */
			uint64_t since = f->last_look && now_mono > f->last_look ?
						 now_mono - f->last_look : 0;

			f->off_cpu_weight_ns = since > st->blocked_period_ns ? since :
									     st->blocked_period_ns;
			f->last_look = now_mono;
			read_if_asleep(st, f->tid, &f->last_off_cpu, st->blocked_period_ns, now_mono);
		}
	}
	/* flame --mode offcpu: every sleeping thread of the target, at the sampling rate. */
	if (st->off_cpu_all && (!st->last_off_cpu_all ||
				now_mono - st->last_off_cpu_all >= st->period_ns)) {
		st->last_off_cpu_all = now_mono;
		for (i = 0; i < st->target->nthreads; i++) {
			uint64_t last = 0;

			read_if_asleep(st, st->target->threads[i].tid, &last, st->period_ns,
				       now_mono);
		}
	}
}

int uvs_stacks_set_rates(struct uvs_stacks *st, uint32_t hz, uint32_t blocked_hz)
{
	if (!st->attached || !hz)
		return -EINVAL;
	if (period_of(hz) == st->period_ns &&
	    period_of(blocked_hz ? blocked_hz : hz) == st->blocked_period_ns)
		return 0;
	/*
	 * The weights follow. The few samples still in the ring were taken at the old period; no
	 * profile is made while the guard runs (flame has no guard), so nothing weighs them wrong.
	 * With several targets the per-CPU events run at the slowest rate any of them asked for:
	 * this call may slow the others' samples down, or (when this target was the slowest)
	 * bring them back up to theirs; their weights follow (uvs_sampler_period_ns).
	 */
	st->period_ns = period_of(hz);
	st->blocked_period_ns = period_of(blocked_hz ? blocked_hz : hz);
	return uvs_sampler_set_periods(st->sampler, st->period_ns, st->blocked_period_ns);
}

void uvs_stacks_window(struct uvs_stacks *st, struct uvs_agent_snapshot *agent)
{
	struct uvs_stack_stats now;

	if (!st->attached)
		return;
	uvs_sampler_sync_threads(st->sampler, st->target);
	uvs_stack_resolver_new_epoch(st->resolver);
	uvs_sampler_stats(st->sampler, &now);
	agent->stack_samples = now.samples - st->prev_samples;
	agent->stack_samples_lost = now.lost - st->prev_lost;
	st->prev_samples = now.samples;
	st->prev_lost = now.lost;
}

void uvs_stacks_gc_seen(struct uvs_stacks *st)
{
	if (st->resolver)
		uvs_stack_resolver_new_epoch(st->resolver);
}
