// SPDX-License-Identifier: MIT
#include <string.h>

#include "collect/proc_loop_math.h"

uint64_t uvs_lm_idle_now(const struct uvs_lm_reading *r)
{
	return r->idle_ns + (r->entry_ns && r->now > r->entry_ns ? r->now - r->entry_ns : 0);
}

/* How much shorter than seen a wait must look to be taken as stamped again (clock reads). */
#define RESTAMP_MARGIN_NS 1000000ull

uint64_t uvs_lm_track_idle(const struct uvs_lm_track *t)
{
	return uvs_lm_idle_now(&t->last) + t->restamped_ns;
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void begin(struct uvs_lm_track *t, const struct uvs_lm_reading *r)
{
	memset(t, 0, sizeof(*t));
	t->seen = true;
	t->last = *r;
	/* A loop busy when first seen is busy since then at least: its start is unknown. */
	t->busy = r->entry_ns == 0;
	t->busy_since = r->now;
	t->start_mono = t->win_mono = r->now;
	t->start_idle = t->win_idle = uvs_lm_idle_now(r);
	t->start_count = t->win_count = r->loop_count;
}

/* A span that ended: counted when it was a block. */
static bool ended_span(struct uvs_lm_track *t, uint64_t start, uint64_t end, bool exact,
		       uint64_t block_ns, struct uvs_lm_span *out)
{
	if (end < start || end - start < block_ns)
		return false;
	*out = (struct uvs_lm_span){ .start = start, .end = end, .exact = exact };
	t->blocks++;
	t->blocked_ns += end - start;
	return true;
}

/*
 * The idle time only grows when a wait ends (by the whole wait), so between two readings dI =
 * idle now - idle then is the idle of the waits that ended in between. From a wait in progress
 * (stamp E) to a loop busy now, that wait ended at E + dI when it was the only one (and later
 * otherwise: a lower bound). From a busy loop to a wait in progress (stamp E'), its span ended
 * at E' when no wait ended in between (dI = 0), else at most at E' - dI.
 */
bool uvs_lm_step(struct uvs_lm_track *t, const struct uvs_lm_reading *r, uint64_t block_ns,
		 struct uvs_lm_span *ended)
{
	const struct uvs_lm_reading *p = &t->last;
	bool in_wait = r->entry_ns != 0, hit = false;
	uint64_t di, end;

	if (!t->seen || r->now < p->now || r->idle_ns < p->idle_ns ||
	    r->loop_count < p->loop_count) {
		begin(t, r);
		return false;
	}
	di = r->idle_ns - p->idle_ns;
	/*
	 * The wait seen going on at the last reading (stamp E) was at least now - E long, and
	 * the idle time added since is every wait that ended: at least that. When it is less,
	 * libuv stamped that wait again after a signal interrupted it (after the last reading),
	 * and counts only what follows the new stamp: the part before, from E to the last
	 * reading at least, was idle all the same (ELU counts it busy).
	 */
	if (p->entry_ns && !t->busy && p->now > p->entry_ns + RESTAMP_MARGIN_NS &&
	    di + RESTAMP_MARGIN_NS < p->now - p->entry_ns && (di || r->entry_ns != p->entry_ns)) {
		t->restamped_ns += p->now - p->entry_ns;
		/*
		 * Still in that wait, stamped again: no wait ended (no idle time added) and no
		 * iteration began (libuv >= 1.45 counts one per poll). Idle up to the new stamp
		 * too, with no busy span between.
		 */
		if (in_wait && !di && r->loop_count == p->loop_count && r->entry_ns > p->now) {
			t->restamped_ns += r->entry_ns - p->now;
			t->last = *r;
			return false;
		}
	}
	if (t->busy) {
		/*
		 * The same span goes on while no wait ended and, where libuv counts them (1.45+),
		 * no iteration began: it counts one just before each poll, so a loop that spins
		 * through zero-timeout polls (a setImmediate chain), which add no idle time, still
		 * ends a span at each poll, as the wait hooks see it. Such a span ended by now, and
		 * the next began after the last reading: both bounds, as below.
		 */
		if (!in_wait && di == 0 && r->loop_count == p->loop_count) {
			t->last = *r;
			return false;
		}
		if (in_wait)
			end = di == 0 ? r->entry_ns : (r->entry_ns > di ? r->entry_ns - di : 0);
		else
			end = r->now - di; /* a new span began: the old one ended at most then */
		end = clamp(end, p->now > t->busy_since ? p->now : t->busy_since, r->now);
		hit = ended_span(t, t->busy_since, end, t->since_exact && in_wait && di == 0,
				 block_ns, ended);
		if (!in_wait) {
			/* The new span began after at least dI of waiting since the last reading. */
			t->busy_since = clamp(p->now + di, p->now, r->now);
			t->since_exact = false;
		}
	} else if (in_wait && r->entry_ns != p->entry_ns && p->entry_ns) {
		/* A whole span fitted between the readings: from E + dI to the new stamp. */
		uint64_t start = clamp(p->entry_ns + di, p->now, r->now);

		hit = ended_span(t, start, clamp(r->entry_ns, start, r->now), di > 0, block_ns,
				 ended);
	} else if (!in_wait) {
		uint64_t from = p->entry_ns ? p->entry_ns + di : p->now + di;

		t->busy_since = clamp(from, p->now, r->now);
		/* Exact when that wait was the only one: no poll began since (libuv >= 1.45). */
		t->since_exact = p->entry_ns != 0 && t->busy_since == from && r->loop_count &&
				 r->loop_count == p->loop_count;
	}
	t->busy = !in_wait;
	t->last = *r;
	return hit;
}

bool uvs_lm_busy(const struct uvs_lm_track *t, uint64_t *since)
{
	*since = t->busy ? t->busy_since : 0;
	return t->seen && t->busy;
}

static double ratio(uint64_t busy, uint64_t idle)
{
	return busy + idle ? (double)busy / (double)(busy + idle) : 0;
}

/* busy = elapsed - idle: ELU's "active", which counts everything but the timed waits. */
static void fill(struct uvs_loop_snapshot *out, uint64_t elapsed, uint64_t idle, uint64_t count,
		 bool has_count)
{
	if (idle > elapsed)
		idle = elapsed; /* libuv's stamp and our clock read a few ns apart */
	out->idle_ns = idle;
	out->busy_ns = elapsed - idle;
	out->utilization = ratio(out->busy_ns, out->idle_ns);
	out->iterations = has_count ? count : 0;
	out->no_iterations = !has_count;
	out->no_busy_dist = true;
}

void uvs_lm_window(struct uvs_lm_track *t, bool has_count, uint64_t block_ns,
		   struct uvs_loop_snapshot *out)
{
	uint64_t now = t->last.now, idle = uvs_lm_track_idle(t), since;

	fill(out, now - t->win_mono, idle >= t->win_idle ? idle - t->win_idle : 0,
	     t->last.loop_count - t->win_count, has_count);
	out->blocks = t->blocks - t->win_blocks;
	out->blocked_ns = t->blocked_ns - t->win_blocked_ns;
	if (uvs_lm_busy(t, &since) && now > since && now - since >= block_ns) {
		out->blocked_now = true;
		out->blocked_for_ns = now - since;
	}
	t->window_taken = true;
	t->win_mono = now;
	t->win_idle = idle;
	t->win_count = t->last.loop_count;
	t->win_blocks = t->blocks;
	t->win_blocked_ns = t->blocked_ns;
}

void uvs_lm_totals(const struct uvs_lm_track *t, bool has_count, struct uvs_loop_snapshot *out)
{
	fill(out, t->win_mono - t->start_mono, t->win_idle - t->start_idle,
	     t->win_count - t->start_count, has_count);
	out->blocks = t->win_blocks;
	out->blocked_ns = t->win_blocked_ns;
}

bool uvs_ls_step(struct uvs_ls_track *t, uint64_t now, bool in_wait, uint64_t block_ns,
		 struct uvs_lm_span *ended)
{
	bool hit = false;

	if (!t->seen || now < t->last) {
		memset(t, 0, sizeof(*t));
		t->seen = true;
		t->busy = !in_wait;
		t->busy_since = t->last = t->start_mono = t->win_mono = now;
		return false;
	}
	/* The time since the last sample goes to the state seen now. */
	if (in_wait)
		t->idle_ns += now - t->last;
	else
		t->busy_ns += now - t->last;
	if (t->busy && in_wait && now - t->busy_since >= block_ns) {
		*ended = (struct uvs_lm_span){ .start = t->busy_since, .end = now };
		t->blocks++;
		t->blocked_ns += now - t->busy_since;
		hit = true;
	}
	if (!t->busy && !in_wait)
		t->busy_since = now;
	t->busy = !in_wait;
	t->last = now;
	return hit;
}

static void sampled_fill(struct uvs_loop_snapshot *out, uint64_t busy, uint64_t idle)
{
	out->busy_ns = busy;
	out->idle_ns = idle;
	out->utilization = ratio(busy, idle);
	out->no_iterations = true;
	out->no_busy_dist = true;
	out->sampled = true;
}

void uvs_ls_window(struct uvs_ls_track *t, uint64_t block_ns, struct uvs_loop_snapshot *out)
{
	sampled_fill(out, t->busy_ns - t->win_busy, t->idle_ns - t->win_idle);
	out->blocks = t->blocks - t->win_blocks;
	out->blocked_ns = t->blocked_ns - t->win_blocked_ns;
	if (t->seen && t->busy && t->last - t->busy_since >= block_ns) {
		out->blocked_now = true;
		out->blocked_for_ns = t->last - t->busy_since;
	}
	t->win_mono = t->last;
	t->win_busy = t->busy_ns;
	t->win_idle = t->idle_ns;
	t->win_blocks = t->blocks;
	t->win_blocked_ns = t->blocked_ns;
}

void uvs_ls_totals(const struct uvs_ls_track *t, struct uvs_loop_snapshot *out)
{
	sampled_fill(out, t->win_busy, t->win_idle);
	out->blocks = t->win_blocks;
	out->blocked_ns = t->win_blocked_ns;
}
