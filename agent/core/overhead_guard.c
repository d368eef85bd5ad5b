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
}

static bool in_force_at(const struct uvs_guard *g, size_t level, enum uvs_guard_step s)
{
	for (size_t i = 0; i < level && i < g->nsteps; i++)
		if (g->steps[i] == s)
			return true;
	return false;
}

bool uvs_guard_in_force(const struct uvs_guard *g, enum uvs_guard_step s)
{
	return in_force_at(g, g->level, s);
}

void uvs_guard_settings(const struct uvs_guard *g, struct uvs_guard_settings *out)
{
	bool low = uvs_guard_in_force(g, UVS_GUARD_SAMPLING_LOW);

	out->phases = g->cfg.phases && !uvs_guard_in_force(g, UVS_GUARD_PHASES_OFF);
	out->sample_hz = low ? low_rate(g->cfg.sample_hz) : g->cfg.sample_hz;
	out->blocked_hz = low ? low_rate(g->cfg.blocked_hz) : g->cfg.blocked_hz;
	if (!g->cfg.sample_hz)
		out->blocked_hz = 0;
}

uint64_t uvs_guard_rate(uint64_t hits, uint64_t window_ns)
{
	if (!window_ns)
		return 0;
	return (uint64_t)((double)hits * 1e9 / (double)window_ns + 0.5);
}

/*
 * What the target would pay per second with step s undone, from what this window showed: the
 * phase uprobes add a fixed number of hits per loop iteration; sampling at the full rates
 * multiplies the samples by the larger of the two ratios (samples at either rate look alike).
 */
static uint64_t predict_undone(const struct uvs_guard *g, enum uvs_guard_step s,
			       const struct uvs_guard_window *w, uint64_t rate)
{
	uint64_t its, samples, ratio, blocked_ratio;

	switch (s) {
	case UVS_GUARD_PHASES_OFF:
		its = uvs_guard_rate(w->iterations, w->window_ns);
		return rate + its * g->cfg.phase_hits_per_iteration;
	case UVS_GUARD_SAMPLING_LOW:
		samples = uvs_guard_rate(w->samples, w->window_ns);
		ratio = (g->cfg.sample_hz + low_rate(g->cfg.sample_hz) - 1) /
			low_rate(g->cfg.sample_hz);
		blocked_ratio = (g->cfg.blocked_hz + low_rate(g->cfg.blocked_hz) - 1) /
				low_rate(g->cfg.blocked_hz);
		if (blocked_ratio > ratio)
			ratio = blocked_ratio;
		return rate + samples * (ratio - 1);
	case UVS_GUARD_STEPS:
		break;
	}
	return rate;
}

void uvs_guard_account(struct uvs_guard *g, const struct uvs_guard_window *w)
{
	g->prev_level = g->level;
	g->hits += w->hits;
	g->ns += w->window_ns;
	for (size_t i = 0; i < g->level; i++)
		g->step_ns[g->steps[i]] += w->window_ns;
}

static void move(struct uvs_guard *g, struct uvs_guard_decision *d, enum uvs_guard_action a)
{
	d->action = a;
	d->windows = a == UVS_GUARD_DOWN ? g->over : g->calm;
	if (a == UVS_GUARD_DOWN) {
		d->step = g->steps[g->level++];
		g->steps_down++;
	} else {
		d->step = g->steps[--g->level];
		g->steps_up++;
	}
	d->level = g->level;
	/* Every step starts its counts afresh: the next one must be earned at the new level. */
	g->over = 0;
	g->calm = 0;
}

void uvs_guard_window(struct uvs_guard *g, const struct uvs_guard_window *w,
		      struct uvs_guard_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->level = g->level;
	if (!w->window_ns)
		return;
	uvs_guard_account(g, w);
	d->rate = uvs_guard_rate(w->hits, w->window_ns);
	if (!g->cfg.enabled)
		return;
	if (d->rate > g->cfg.budget) {
		g->over++;
		g->calm = 0;
	} else {
		g->over = 0;
		g->exhausted_said = false;
		d->predicted = g->level > g->floor ?
				       predict_undone(g, g->steps[g->level - 1], w, d->rate) : d->rate;
		g->calm = d->predicted < g->cfg.budget / 2 ? g->calm + 1 : 0;
	}
	if (g->over >= UVS_GUARD_DOWN_WINDOWS) {
		if (g->level < g->nsteps) {
			move(g, d, UVS_GUARD_DOWN);
		} else if (!g->exhausted_said) {
			g->exhausted_said = true;
			d->action = UVS_GUARD_EXHAUSTED;
			d->windows = g->over;
		}
	} else if (g->calm >= UVS_GUARD_UP_WINDOWS && g->level > g->floor) {
		move(g, d, UVS_GUARD_UP);
	}
}

void uvs_guard_failed(struct uvs_guard *g, const struct uvs_guard_decision *d)
{
	switch (d->action) {
	case UVS_GUARD_DOWN:
		g->level--;
		g->steps_down--;
		/* Taking a step failed: it is not tried again (the steps after it still may be). */
		memmove(&g->steps[g->level], &g->steps[g->level + 1],
			(g->nsteps - g->level - 1) * sizeof(g->steps[0]));
		g->nsteps--;
		break;
	case UVS_GUARD_UP:
		g->level++;
		g->steps_up--;
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
	out->level = (int)g->level;
	out->phases_asked = g->cfg.phases;
	out->phases_off = g->cfg.phases && !set.phases;
	out->sample_hz = set.sample_hz;
	out->blocked_hz = set.blocked_hz;
	out->sampling_low = uvs_guard_in_force(g, UVS_GUARD_SAMPLING_LOW);
	if (!totals) {
		out->phases_off |= g->cfg.phases &&
				   in_force_at(g, g->prev_level, UVS_GUARD_PHASES_OFF);
		out->sampling_low |= in_force_at(g, g->prev_level, UVS_GUARD_SAMPLING_LOW);
		return;
	}
	out->rate = uvs_guard_rate(g->hits, g->ns);
	out->steps_down = g->steps_down;
	out->steps_up = g->steps_up;
	out->phases_off_ns = g->step_ns[UVS_GUARD_PHASES_OFF];
	out->sampling_low_ns = g->step_ns[UVS_GUARD_SAMPLING_LOW];
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
	out->budget = g->cfg.budget;
	out->windows = d->windows;
	out->phases_asked = g->cfg.phases;
	out->phases_off = g->cfg.phases && !set.phases;
	out->sample_hz = set.sample_hz;
	out->blocked_hz = set.blocked_hz;
}

const char *uvs_guard_step_name(enum uvs_guard_step s)
{
	switch (s) {
	case UVS_GUARD_PHASES_OFF:
		return "phases_off";
	case UVS_GUARD_SAMPLING_LOW:
		return "sampling_low";
	case UVS_GUARD_STEPS:
		break;
	}
	return "unknown";
}
