// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "core/overhead_guard.h"

static uint32_t low_rate(uint32_t hz)
{
	uint32_t low = hz / UVS_GUARD_SAMPLE_DIVISOR;

	return low ? low : 1;
}

void uvs_guard_init(struct uvs_guard *g, const struct uvs_guard_config *c)
{
	memset(g, 0, sizeof(*g));
	g->cfg = *c;
	if (c->phases && c->phase_hits_per_iteration)
		g->steps[g->nsteps++] = UVS_GUARD_PHASES_OFF;
	/* A rate already at the floor has nothing to give. */
	if (c->sample_hz && (low_rate(c->sample_hz) < c->sample_hz ||
			     low_rate(c->blocked_hz) < c->blocked_hz))
		g->steps[g->nsteps++] = UVS_GUARD_SAMPLING_LOW;
	if (c->pool)
		g->steps[g->nsteps++] = UVS_GUARD_POOL_JOBS_OFF;
	if (c->loop_hooks && c->loop_hook_hits_per_wait)
		g->steps[g->nsteps++] = UVS_GUARD_LOOP_HOOKS_OFF;
}

static unsigned int bit(enum uvs_guard_step s)
{
	return 1u << s;
}

bool uvs_guard_in_force(const struct uvs_guard *g, enum uvs_guard_step s)
{
	return g->mask & bit(s);
}

void uvs_guard_settings(const struct uvs_guard *g, struct uvs_guard_settings *out)
{
	bool low = uvs_guard_in_force(g, UVS_GUARD_SAMPLING_LOW);

	out->phases = g->cfg.phases && !uvs_guard_in_force(g, UVS_GUARD_PHASES_OFF);
	out->sample_hz = low ? low_rate(g->cfg.sample_hz) : g->cfg.sample_hz;
	out->blocked_hz = low ? low_rate(g->cfg.blocked_hz) : g->cfg.blocked_hz;
	if (!g->cfg.sample_hz)
		out->blocked_hz = 0;
	/* In unless the guard took them out (whether they were attached is the collector's). */
	out->pool_probes = !uvs_guard_in_force(g, UVS_GUARD_POOL_JOBS_OFF);
	out->loop_hooks = !uvs_guard_in_force(g, UVS_GUARD_LOOP_HOOKS_OFF);
}

uint64_t uvs_guard_rate(uint64_t hits, uint64_t window_ns)
{
	if (!window_ns)
		return 0;
	return (uint64_t)((double)hits * 1e9 / (double)window_ns + 0.5);
}

uint64_t uvs_guard_load(const struct uvs_guard_window *w)
{
	return uvs_guard_rate(w->hits + w->samples * UVS_GUARD_SAMPLE_HITS, w->window_ns);
}

/* How many times the full sampling rates are the low ones (the larger ratio, rounded up). */
static uint64_t sampling_ratio(const struct uvs_guard *g)
{
	uint64_t ratio = (g->cfg.sample_hz + low_rate(g->cfg.sample_hz) - 1) /
			 low_rate(g->cfg.sample_hz);
	uint64_t blocked = (g->cfg.blocked_hz + low_rate(g->cfg.blocked_hz) - 1) /
			   low_rate(g->cfg.blocked_hz);

	return blocked > ratio ? blocked : ratio;
}

/* The window's hits of the loop object's probes: neither the pool's nor the GC's. */
static uint64_t loop_hits(const struct uvs_guard_window *w)
{
	uint64_t other = w->pool_hits + w->gc_hits;

	return w->hits > other ? w->hits - other : 0;
}

/* The wait hooks' hits per iteration (thousandths) this window shows, within what can be. */
static uint64_t loop_hits_milli(const struct uvs_guard *g, const struct uvs_guard_window *w)
{
	uint64_t least = (uint64_t)g->cfg.loop_hook_hits_per_wait * 1000, measured;

	if (!w->iterations)
		return least;
	/* At most two waits an iteration: the zero-timeout poll and the real wait. */
	measured = loop_hits(w) * 1000 / w->iterations;
	return measured < least ? least : measured > 2 * least ? 2 * least : measured;
}

/*
 * What step s is worth per second, from what this window showed: the phase uprobes cost a fixed
 * number of hits per loop iteration; sampling at the full rates takes sampling_ratio() times the
 * samples of the low ones (samples at either rate look alike, so the larger ratio is assumed);
 * the pool's probes cost what the window shows of them, and while they are out (no job seen)
 * the pool hits per iteration measured before the step times the window's iterations; the wait
 * hooks are, once exact phases are out, every hit of the loop object, and cost again the hits
 * per iteration measured when they went out times the iterations libuv counts.
 * taken: what taking it saves (it is not in force now); else what undoing it adds.
 */
static uint64_t worth(const struct uvs_guard *g, enum uvs_guard_step s,
		      const struct uvs_guard_window *w, bool taken)
{
	uint64_t samples = uvs_guard_rate(w->samples * UVS_GUARD_SAMPLE_HITS, w->window_ns);
	uint64_t ratio = sampling_ratio(g);

	switch (s) {
	case UVS_GUARD_PHASES_OFF:
		return uvs_guard_rate(w->iterations, w->window_ns) * g->cfg.phase_hits_per_iteration;
	case UVS_GUARD_SAMPLING_LOW:
		return taken ? samples - samples / ratio : samples * (ratio - 1);
	case UVS_GUARD_POOL_JOBS_OFF:
		if (taken)
			return uvs_guard_rate(w->pool_hits, w->window_ns);
		return (uint64_t)((double)uvs_guard_rate(w->iterations, w->window_ns) *
				  g->pool_per_iteration + 0.5);
	case UVS_GUARD_LOOP_HOOKS_OFF:
		if (taken)
			return uvs_guard_rate(loop_hits(w), w->window_ns);
		return uvs_guard_rate(w->iterations * g->loop_hits_milli, w->window_ns) / 1000;
	case UVS_GUARD_STEPS:
		break;
	}
	return 0;
}

void uvs_guard_account(struct uvs_guard *g, const struct uvs_guard_window *w)
{
	g->prev_mask = g->mask;
	g->hits += w->hits;
	g->samples += w->samples;
	g->ns += w->window_ns;
	for (int s = 0; s < UVS_GUARD_STEPS; s++)
		if (g->mask & bit((enum uvs_guard_step)s))
			g->step_ns[s] += w->window_ns;
}

/* Every step starts the counts afresh: the next one must be earned at the new settings. */
static void stepped(struct uvs_guard *g, struct uvs_guard_decision *d)
{
	d->level = g->level;
	g->over = 0;
	g->calm = 0;
	g->over_pool_hits = g->over_iterations = 0;
}

/*
 * The pool hits per loop iteration of the windows that led to the pool step, kept for the
 * prediction that undoes it. No iteration counted (a loop blocked while its pool works): the
 * hits as if of one, which predicts high and so errs on the side of keeping the step.
 */
static void pool_step_taken(struct uvs_guard *g)
{
	g->pool_per_iteration = (double)g->over_pool_hits /
				(double)(g->over_iterations ? g->over_iterations : 1);
}

/*
 * Over the budget long enough: the first step in order that is not in force and would save at
 * least a tenth of the rate (cutting sampling on a loop whose epoll hooks make the load would
 * cost the blocked-loop stacks and give nothing back). None: said once per episode.
 */
static void step_down(struct uvs_guard *g, const struct uvs_guard_window *w,
		      struct uvs_guard_decision *d)
{
	for (size_t i = 0; i < g->nsteps; i++) {
		enum uvs_guard_step s = g->steps[i];

		if (uvs_guard_in_force(g, s) ||
		    worth(g, s, w, true) * UVS_GUARD_MIN_SAVING < d->rate)
			continue;
		/*
		 * The wait hooks go only once exact phases are out: the phase program rests on the
		 * state they keep, and its hits would be taken for theirs.
		 */
		if (s == UVS_GUARD_LOOP_HOOKS_OFF && g->cfg.phases &&
		    !uvs_guard_in_force(g, UVS_GUARD_PHASES_OFF))
			continue;
		if (s == UVS_GUARD_LOOP_HOOKS_OFF)
			g->loop_hits_milli = loop_hits_milli(g, w);
		d->action = UVS_GUARD_DOWN;
		d->step = s;
		d->windows = g->over;
		g->mask |= bit(s);
		g->taken[g->level++] = s;
		g->steps_down++;
		if (s == UVS_GUARD_POOL_JOBS_OFF)
			pool_step_taken(g);
		stepped(g, d);
		return;
	}
	if (!g->exhausted_said) {
		g->exhausted_said = true;
		d->action = UVS_GUARD_EXHAUSTED;
		d->windows = g->over;
	}
}

/* What each source added to the window's load (rounded so that they add up to d->rate). */
static void by_source(const struct uvs_guard_window *w, struct uvs_guard_decision *d)
{
	uint64_t pool = w->pool_hits < w->hits ? w->pool_hits : w->hits;
	uint64_t gc = w->gc_hits < w->hits - pool ? w->gc_hits : w->hits - pool;

	d->rate_pool = uvs_guard_rate(pool, w->window_ns);
	d->rate_gc = uvs_guard_rate(gc, w->window_ns);
	d->rate_samples = uvs_guard_rate(w->samples * UVS_GUARD_SAMPLE_HITS, w->window_ns);
	d->rate_loop = d->rate - d->rate_pool - d->rate_gc - d->rate_samples;
	if (d->rate < d->rate_pool + d->rate_gc + d->rate_samples) /* rounding: never negative */
		d->rate_loop = 0;
}

/*
 * The window's budget: the configured hits per second, or fewer where that many would cost the
 * target more than its share of the CPU time it used (never under UVS_GUARD_RELATIVE_FLOOR).
 */
uint64_t uvs_guard_budget(const struct uvs_guard *g, const struct uvs_guard_window *w)
{
	double per_s, relative;

	if (!g->cfg.max_overhead_ppm || !w->target_cpu_ns || !w->window_ns)
		return g->cfg.budget;
	per_s = (double)w->target_cpu_ns * 1e9 / (double)w->window_ns;
	relative = per_s * g->cfg.max_overhead_ppm / 1e6 / UVS_GUARD_CONTEXT_HIT_NS;
	if (relative < UVS_GUARD_RELATIVE_FLOOR)
		relative = UVS_GUARD_RELATIVE_FLOOR;
	return relative < (double)g->cfg.budget ? (uint64_t)relative : g->cfg.budget;
}

void uvs_guard_window(struct uvs_guard *g, const struct uvs_guard_window *w,
		      struct uvs_guard_decision *d)
{
	/* The pool's probes were in for all of this window: before account() moves prev_mask. */
	bool pool_in = !((g->mask | g->prev_mask) & bit(UVS_GUARD_POOL_JOBS_OFF));

	memset(d, 0, sizeof(*d));
	d->level = g->level;
	if (!w->window_ns)
		return;
	uvs_guard_account(g, w);
	d->rate = uvs_guard_load(w);
	d->budget = uvs_guard_budget(g, w);
	by_source(w, d);
	if (!g->cfg.enabled)
		return;
	if (d->rate > d->budget) {
		g->over++;
		g->calm = 0;
		if (pool_in) {
			g->over_pool_hits += w->pool_hits;
			g->over_iterations += w->iterations;
		}
	} else {
		g->over = 0;
		g->over_pool_hits = g->over_iterations = 0;
		g->exhausted_said = false;
		/* The last step taken is the first undone, and only if it is predicted to fit. */
		d->predicted = d->rate;
		if (g->level > g->floor)
			d->predicted += worth(g, g->taken[g->level - 1], w, false);
		g->calm = d->predicted < d->budget / 2 ? g->calm + 1 : 0;
	}
	if (g->over >= UVS_GUARD_DOWN_WINDOWS) {
		step_down(g, w, d);
	} else if (g->calm >= UVS_GUARD_UP_WINDOWS && g->level > g->floor) {
		d->action = UVS_GUARD_UP;
		d->step = g->taken[--g->level];
		d->windows = g->calm;
		g->mask &= ~bit(d->step);
		g->steps_up++;
		stepped(g, d);
	}
}

void uvs_guard_failed(struct uvs_guard *g, const struct uvs_guard_decision *d)
{
	size_t i, kept = 0;

	switch (d->action) {
	case UVS_GUARD_DOWN:
		g->mask &= ~bit(d->step);
		g->level--;
		g->steps_down--;
		/* Taking a step failed: it is not tried again (the other steps still may be). */
		for (i = 0; i < g->nsteps; i++)
			if (g->steps[i] != d->step)
				g->steps[kept++] = g->steps[i];
		g->nsteps = kept;
		break;
	case UVS_GUARD_UP:
		g->mask |= bit(d->step);
		g->taken[g->level++] = d->step;
		g->steps_up--;
		/* It stays, and so does every step under it (they are undone last in, first out). */
		g->floor = g->level;
		break;
	case UVS_GUARD_NONE:
	case UVS_GUARD_EXHAUSTED:
		break;
	}
}

void uvs_guard_window_of(const struct uvs_snapshot *s, struct uvs_guard_window *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->window_ns = s->window_ns;
	out->hits = s->agent.probe_hits;
	out->pool_hits = s->agent.pool_probe_hits;
	out->gc_hits = s->agent.gc_probe_hits;
	out->samples = s->agent.stack_samples;
	for (i = 0; i < s->nloops && i < UVS_MAX_LOOPS; i++)
		out->iterations += s->loops[i].iterations;
}

void uvs_guard_snapshot(const struct uvs_guard *g, bool totals, struct uvs_guard_snapshot *out)
{
	struct uvs_guard_settings set;

	memset(out, 0, sizeof(*out));
	uvs_guard_settings(g, &set);
	out->enabled = g->cfg.enabled;
	out->budget = g->cfg.budget;
	out->max_overhead_ppm = g->cfg.max_overhead_ppm;
	out->level = (int)g->level;
	out->phases_asked = g->cfg.phases;
	out->phases_off = g->cfg.phases && !set.phases;
	out->sample_hz = set.sample_hz;
	out->blocked_hz = set.blocked_hz;
	out->sampling_low = uvs_guard_in_force(g, UVS_GUARD_SAMPLING_LOW);
	out->pool_asked = g->cfg.pool;
	out->pool_off = uvs_guard_in_force(g, UVS_GUARD_POOL_JOBS_OFF);
	out->loop_hooks_off = uvs_guard_in_force(g, UVS_GUARD_LOOP_HOOKS_OFF);
	if (!totals) {
		out->phases_off |= g->cfg.phases && (g->prev_mask & bit(UVS_GUARD_PHASES_OFF));
		out->sampling_low |= (g->prev_mask & bit(UVS_GUARD_SAMPLING_LOW)) != 0;
		out->pool_off |= (g->prev_mask & bit(UVS_GUARD_POOL_JOBS_OFF)) != 0;
		out->loop_hooks_off |= (g->prev_mask & bit(UVS_GUARD_LOOP_HOOKS_OFF)) != 0;
		return;
	}
	out->rate = uvs_guard_rate(g->hits + g->samples * UVS_GUARD_SAMPLE_HITS, g->ns);
	out->steps_down = g->steps_down;
	out->steps_up = g->steps_up;
	out->phases_off_ns = g->step_ns[UVS_GUARD_PHASES_OFF];
	out->sampling_low_ns = g->step_ns[UVS_GUARD_SAMPLING_LOW];
	out->pool_off_ns = g->step_ns[UVS_GUARD_POOL_JOBS_OFF];
	out->loop_hooks_off_ns = g->step_ns[UVS_GUARD_LOOP_HOOKS_OFF];
}

void uvs_guard_record(const struct uvs_guard *g, const struct uvs_guard_decision *d,
		      uint64_t ts_ns, const char *error, struct uvs_guard_record *out)
{
	struct uvs_guard_settings set;

	memset(out, 0, sizeof(*out));
	uvs_guard_settings(g, &set);
	out->ts_ns = ts_ns;
	switch (d->action) {
	case UVS_GUARD_DOWN:
		out->action = UVS_GUARD_RECORD_DOWN;
		break;
	case UVS_GUARD_UP:
		out->action = UVS_GUARD_RECORD_UP;
		break;
	case UVS_GUARD_EXHAUSTED:
	case UVS_GUARD_NONE:
		out->action = UVS_GUARD_RECORD_EXHAUSTED;
		break;
	}
	out->step = d->action == UVS_GUARD_DOWN || d->action == UVS_GUARD_UP ?
			    uvs_guard_step_name(d->step) : NULL;
	if (error) {
		out->step_down = d->action == UVS_GUARD_DOWN;
		out->action = UVS_GUARD_RECORD_FAILED;
		snprintf(out->error, sizeof(out->error), "%s", error);
	}
	out->level = (int)g->level;
	out->rate = d->rate;
	out->predicted = d->predicted;
	out->rate_loop = d->rate_loop;
	out->rate_pool = d->rate_pool;
	out->rate_gc = d->rate_gc;
	out->rate_samples = d->rate_samples;
	out->budget = d->budget ? d->budget : g->cfg.budget;
	out->windows = d->windows;
	out->phases_asked = g->cfg.phases;
	out->phases_off = g->cfg.phases && !set.phases;
	out->sample_hz = set.sample_hz;
	out->blocked_hz = set.blocked_hz;
	out->pool_asked = g->cfg.pool;
	out->pool_off = !set.pool_probes;
	out->loop_hooks_off = !set.loop_hooks;
}

const char *uvs_guard_step_name(enum uvs_guard_step s)
{
	switch (s) {
	case UVS_GUARD_PHASES_OFF:
		return "phases_off";
	case UVS_GUARD_SAMPLING_LOW:
		return "sampling_low";
	case UVS_GUARD_POOL_JOBS_OFF:
		return "pool_jobs_off";
	case UVS_GUARD_LOOP_HOOKS_OFF:
		return "loop_hooks_off";
	case UVS_GUARD_STEPS:
		break;
	}
	return "unknown";
}
