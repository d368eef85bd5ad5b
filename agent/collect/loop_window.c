// SPDX-License-Identifier: MIT
#include <string.h>

#include "collect/loop_window.h"
#include "util/hist_math.h"

/* The "before" of the session totals. */
static const struct uvs_loop_stats no_stats;

/* Largest value the delta histogram can hold, for a window that set no new record. */
static uint64_t window_max(const struct uvs_hist *delta, uint64_t record, uint64_t prev_record)
{
	int i;

	if (record > prev_record)
		return record;
	for (i = UVS_HIST_BUCKETS - 1; i >= 0; i--) {
		if (delta->buckets[i]) {
			uint64_t high = uvs_hist_bucket_high((__u32)i) - 1;

			return high < record ? high : record;
		}
	}
	return 0;
}

static void fill_phases(struct uvs_loop_snapshot *ls, const struct uvs_loop_stats *now,
			const struct uvs_loop_stats *before)
{
	struct uvs_hist delta;
	int p;

	for (p = 0; p < UVS_PHASE_COUNT; p++) {
		struct uvs_phase_snapshot *ps = &ls->phases[p];

		uvs_hist_sub(&delta, &now->phase[p], &before->phase[p]);
		ps->count = now->phase_count[p] - before->phase_count[p];
		ps->total_ns = now->phase_total_ns[p] - before->phase_total_ns[p];
		ps->max_ns = window_max(&delta, now->phase_max_ns[p], before->phase_max_ns[p]);
		ps->p50_ns = uvs_hist_percentile_max(&delta, 0.50, ps->max_ns);
		ps->p99_ns = uvs_hist_percentile_max(&delta, 0.99, ps->max_ns);
	}
}

static void head(struct uvs_loop_snapshot *ls, const struct uvs_loop_track *l, const char *comm)
{
	memset(ls, 0, sizeof(*ls));
	ls->tid = l->tid;
	ls->role = l->role;
	if (comm)
		memcpy(ls->comm, comm, strnlen(comm, sizeof(ls->comm))); /* may fill all 16 */
}

static double ratio(uint64_t busy, uint64_t idle)
{
	return busy + idle ? (double)busy / (double)(busy + idle) : 0;
}

bool uvs_loop_unmeasured(const struct uvs_loop_reading *r)
{
	const struct uvs_loop_stats *s = r->stats;

	return r->metrics == UVS_LOOP_METRICS_OFF && !s->iterations && !s->busy_ns && !s->idle_ns;
}

uint64_t uvs_loop_idle_shown(const struct uvs_loop_track *l, uint64_t idle)
{
	return idle > l->idle_before_attach ? idle - l->idle_before_attach : 0;
}

void uvs_loop_window(struct uvs_loop_track *l, const struct uvs_loop_reading *r, uint64_t now,
		     uint64_t block_ns, bool phases, const char *comm,
		     struct uvs_loop_snapshot *ls)
{
	const struct uvs_loop_stats *s = r->stats;
	uint64_t run_busy = 0, run_idle = 0, busy, idle;
	struct uvs_hist delta;

	/* The span running now counts up to now: a loop blocked all window is busy all window. */
	if (r->alive && !r->in_wait && r->busy_since && now > r->busy_since)
		run_busy = now - r->busy_since;
	if (r->alive && r->in_wait && now > r->wait_start)
		run_idle = now - r->wait_start;
	else if (r->alive && !r->in_wait)
		run_idle = r->ended_idle_ns;
	busy = s->busy_ns + run_busy;
	idle = uvs_loop_idle_shown(l, s->idle_ns + run_idle);

	head(ls, l, comm);
	/* Cumulative counters only grow unless BPF's entry was recreated: never wrap. */
	ls->iterations = s->iterations >= l->prev.iterations ? s->iterations - l->prev.iterations :
							       s->iterations;
	ls->busy_ns = busy > l->prev_busy ? busy - l->prev_busy : 0;
	ls->idle_ns = idle > l->prev_idle ? idle - l->prev_idle : 0;
	ls->utilization = ratio(ls->busy_ns, ls->idle_ns);
	uvs_hist_sub(&delta, &s->busy, &l->prev.busy);
	ls->busy_max_ns = window_max(&delta, s->busy_max_ns, l->prev.busy_max_ns);
	ls->busy_p50_ns = uvs_hist_percentile_max(&delta, 0.50, ls->busy_max_ns);
	ls->busy_p99_ns = uvs_hist_percentile_max(&delta, 0.99, ls->busy_max_ns);
	if (run_busy > ls->busy_max_ns)
		ls->busy_max_ns = run_busy;
	ls->blocks = s->blocks >= l->prev.blocks ? s->blocks - l->prev.blocks : s->blocks;
	ls->blocked_ns = s->blocked_ns >= l->prev.blocked_ns ? s->blocked_ns - l->prev.blocked_ns :
							       s->blocked_ns;
	uvs_hist_to_pow2(&delta, s->busy_ns >= l->prev.busy_ns ? s->busy_ns - l->prev.busy_ns :
								   s->busy_ns, &ls->busy_hist);
	ls->blocked_now = run_busy >= block_ns;
	ls->blocked_for_ns = ls->blocked_now ? run_busy : 0;
	ls->has_phases = phases;
	if (phases)
		fill_phases(ls, s, &l->prev);

	l->prev_busy = busy;
	l->prev_idle = idle;
	if (run_busy > l->run_busy_max)
		l->run_busy_max = run_busy;
	l->last_blocked_now = ls->blocked_now;
	l->last_blocked_for_ns = ls->blocked_for_ns;
	memcpy(&l->prev, s, sizeof(*s));
}

void uvs_loop_totals(const struct uvs_loop_track *l, bool phases, const char *comm,
		     struct uvs_loop_snapshot *ls)
{
	const struct uvs_loop_stats *st = &l->prev;

	head(ls, l, comm);
	ls->iterations = st->iterations;
	ls->busy_ns = l->prev_busy;
	ls->idle_ns = l->prev_idle;
	ls->utilization = ratio(ls->busy_ns, ls->idle_ns);
	ls->busy_max_ns = st->busy_max_ns;
	ls->busy_p50_ns = uvs_hist_percentile_max(&st->busy, 0.50, st->busy_max_ns);
	ls->busy_p99_ns = uvs_hist_percentile_max(&st->busy, 0.99, st->busy_max_ns);
	/* As a window's: the longest span, the one still running at a window's end included. */
	if (l->run_busy_max > ls->busy_max_ns)
		ls->busy_max_ns = l->run_busy_max;
	ls->blocks = st->blocks;
	ls->blocked_ns = st->blocked_ns;
	/* Blocked at the end of the last window: a block that never ended is no episode yet. */
	ls->blocked_now = l->last_blocked_now;
	ls->blocked_for_ns = l->last_blocked_for_ns;
	uvs_hist_to_pow2(&st->busy, st->busy_ns, &ls->busy_hist);
	ls->has_phases = phases;
	if (phases)
		fill_phases(ls, st, &no_stats);
}
