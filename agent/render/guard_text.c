// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "core/overhead_guard.h"
#include "render/guard_text.h"
#include "util/duration.h"

/* "stack sampling at 9 Hz (99 Hz while a loop is blocked)" */
static void put_rates(FILE *out, uint32_t hz, uint32_t blocked_hz)
{
	fprintf(out, "%u Hz", hz);
	if (blocked_hz && blocked_hz != hz)
		fprintf(out, " (%u Hz while a loop is blocked)", blocked_hz);
}

static void put_step(FILE *out, const struct uvs_guard_record *r, bool down)
{
	if (r->step && !strcmp(r->step, "phases_off")) {
		fputs(down ? "exact phases off (phase figures left out until they are back)" :
			     "exact phases back on (phase figures again from the next interval)", out);
		return;
	}
	if (r->step && !strcmp(r->step, "pool_jobs_off")) {
		fputs(down ? "pool probes out (pool size and queue from libuv's statics; jobs per "
			     "kind, wait, service and completions unavailable until they are back)" :
			     "pool probes back in (jobs per kind again from the next full interval; "
			     "jobs already in flight are left out, the queue from libuv's statics "
			     "until the pool is seen idle)", out);
		return;
	}
	if (r->step && !strcmp(r->step, "loop_hooks_off")) {
		fputs(down ? "loop wait hooks out (utilization, iterations and blocks from libuv's "
			     "metrics; no per-iteration busy p50/p99/max until they are back)" :
			     "loop wait hooks back in (per-iteration busy times again from the next "
			     "interval)", out);
		return;
	}
	fputs(down ? "stack sampling down to " : "stack sampling back to ", out);
	put_rates(out, r->sample_hz, r->blocked_hz);
}

/*
 * What the hits that stay come from, and what they cost: at the cost of a hit measured on
 * the test machine (README, "The overhead guard"), as a share of one CPU; and the one flag
 * that takes out the largest part the guard cannot step, the pool's probes.
 */
static void put_sources(FILE *out, const struct uvs_guard_record *r)
{
	fprintf(out, "loop hooks %" PRIu64 "/s, pool probes %" PRIu64 "/s, GC probes %" PRIu64
		"/s, stack samples %" PRIu64 "/s (as hits); about %.1f-%.1f%% of one CPU of the "
		"target", r->rate_loop, r->rate_pool, r->rate_gc, r->rate_samples,
		/* hits/s x ns a hit x 1e-9 s/ns x 100 %: a share of one CPU */
		(double)r->rate * UVS_GUARD_HIT_COST_MIN_NS * 1e-7,
		(double)r->rate * UVS_GUARD_HIT_COST_MAX_NS * 1e-7);
	if (r->rate_pool * 2 > r->rate)
		fputs(" (--no-pool takes the pool's out)", out);
}

int uvs_guard_text_record(FILE *out, const char *who, const struct uvs_guard_record *r)
{
	char when[16];

	uvs_format_clock(r->ts_ns, when, sizeof(when));
	fprintf(out, "%s%s%s GUARD ", when, who ? " " : "", who ? who : "");
	switch (r->action) {
	case UVS_GUARD_RECORD_DOWN:
		fprintf(out, "probe hits %" PRIu64 "/s over the budget of %" PRIu64
			"/s for %u intervals: ", r->rate, r->budget, r->windows);
		put_step(out, r, true);
		break;
	case UVS_GUARD_RECORD_UP:
		fprintf(out, "probe hits %" PRIu64 "/s, about %" PRIu64 "/s with the step undone, "
			"under half the budget of %" PRIu64 "/s for %u intervals: ", r->rate,
			r->predicted, r->budget, r->windows);
		put_step(out, r, false);
		break;
	case UVS_GUARD_RECORD_EXHAUSTED:
		fprintf(out, "probe hits %" PRIu64 "/s over the budget of %" PRIu64
			"/s for %u intervals, and no step left that would save a tenth of it; what "
			"stays: ", r->rate, r->budget, r->windows);
		put_sources(out, r);
		break;
	case UVS_GUARD_RECORD_FAILED:
		fprintf(out, "cannot %s %s: ", r->step_down ? "take the step" : "undo the step",
			r->step ? r->step : "?");
		/* The error is our own text (collect/), never the target's. */
		fputs(r->error, out);
		fputs(r->step_down ? "; it is not tried again" :
				     "; the step stays for the rest of the session", out);
		break;
	}
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

void uvs_guard_text_state(const struct uvs_guard_snapshot *g, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	if (!g->enabled || cap == 0)
		return;
	if (g->phases_off)
		n = (size_t)snprintf(buf, cap, "phases off");
	if (g->sampling_low && n < cap) {
		if (g->blocked_hz && g->blocked_hz != g->sample_hz)
			n += (size_t)snprintf(buf + n, cap - n, "%sstacks %u Hz (%u Hz blocked)",
					      n ? ", " : "", g->sample_hz, g->blocked_hz);
		else
			n += (size_t)snprintf(buf + n, cap - n, "%sstacks %u Hz", n ? ", " : "",
					      g->sample_hz);
	}
	if (g->pool_off && n < cap)
		snprintf(buf + n, cap - n, "%spool probes out", n ? ", " : "");
	if (g->loop_hooks_off && n < cap)
		snprintf(buf + n, cap - n, "%sloop hooks out (no busy p99)", n ? ", " : "");
}

void uvs_guard_text_summary(FILE *out, const struct uvs_guard_snapshot *g)
{
	char off[UVS_DURATION_BUF], low[UVS_DURATION_BUF], pool[UVS_DURATION_BUF];

	if (!g->enabled)
		return;
	fprintf(out, "  guard: budget %" PRIu64 " probe hits/s", g->budget);
	/* The relative budget is each interval's own; the intervals' lines said it when lower. */
	if (g->max_overhead_ppm)
		fprintf(out, " (or %.1f%% of the target's CPU when lower)",
			(double)g->max_overhead_ppm / 1e4);
	fprintf(out, ", %" PRIu64 "/s on average; %" PRIu64 " step%s down, %" PRIu64 " up", g->rate,
		g->steps_down, g->steps_down == 1 ? "" : "s", g->steps_up);
	if (g->phases_off_ns) {
		uvs_format_duration(g->phases_off_ns, off, sizeof(off));
		fprintf(out, "; exact phases off for %s", off);
	}
	if (g->sampling_low_ns) {
		uvs_format_duration(g->sampling_low_ns, low, sizeof(low));
		fprintf(out, "; stacks at the low rate for %s", low);
	}
	if (g->pool_off_ns) {
		uvs_format_duration(g->pool_off_ns, pool, sizeof(pool));
		fprintf(out, "; pool probes out for %s", pool);
	}
	if (g->loop_hooks_off_ns) {
		uvs_format_duration(g->loop_hooks_off_ns, low, sizeof(low));
		fprintf(out, "; loop wait hooks out for %s (busy p50/p99/max of the rest)", low);
	}
	fputc('\n', out);
}
