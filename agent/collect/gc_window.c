// SPDX-License-Identifier: MIT
#include <string.h>

#include "collect/gc_window.h"

void uvs_gc_thread_figures(const struct uvs_gc_thread *th, uint64_t closed,
			   struct uvs_gc_snapshot *cumulative, uint64_t *window_max)
{
	unsigned int slot = (unsigned int)(closed & 1);

	cumulative->count = th->count;
	cumulative->major = th->major;
	cumulative->total_ns = th->total_ns;
	cumulative->max_ns = th->max_ns;
	*window_max = th->win_epoch[slot] == closed ? th->win_max_ns[slot] : 0;
}

/* The live track of tid, or the most recent gone one when live is false; NULL if none. */
static struct uvs_gc_track *find(const struct uvs_gc_history *h, int tid, bool live)
{
	size_t i;

	for (i = h->n; i-- > 0;)
		if (h->tracks[i].tid == tid && (!live || !h->tracks[i].gone))
			return (struct uvs_gc_track *)&h->tracks[i];
	return NULL;
}

/* A new track; when all are taken, the oldest gone thread's (its summary figures are lost). */
static struct uvs_gc_track *add(struct uvs_gc_history *h, int tid)
{
	size_t i;

	if (h->n == UVS_GC_TRACKS) {
		for (i = 0; i < h->n && !h->tracks[i].gone; i++)
			;
		if (i == h->n)
			return NULL;
		memmove(&h->tracks[i], &h->tracks[i + 1], (h->n - i - 1) * sizeof(h->tracks[0]));
		h->n--;
	}
	memset(&h->tracks[h->n], 0, sizeof(h->tracks[0]));
	h->tracks[h->n].tid = tid;
	return &h->tracks[h->n++];
}

void uvs_gc_history_read(struct uvs_gc_history *h, int tid,
			 const struct uvs_gc_snapshot *cumulative, uint64_t window_max, bool gone)
{
	struct uvs_gc_track *t = find(h, tid, true);

	if (!t)
		t = add(h, tid);
	if (!t) {
		h->unfit++;
		return;
	}
	t->last = *cumulative;
	if (window_max > t->pending_max)
		t->pending_max = window_max;
	t->gone = gone;
}

static uint64_t since(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : 0;
}

/* The figures between two cumulative readings; the maximum is that of the windows between. */
static void delta(const struct uvs_gc_track *t, struct uvs_gc_snapshot *out)
{
	out->count = since(t->last.count, t->placed.count);
	out->major = since(t->last.major, t->placed.major);
	out->total_ns = since(t->last.total_ns, t->placed.total_ns);
	out->max_ns = t->pending_max;
	/*
	 * A collection that ends while the agent reads may be counted in one window and its length
	 * in the maximum of the next: keep the maximum consistent with the count and the total
	 * (exact for one collection; the mean, a lower bound, when the maximum went astray).
	 */
	if (out->count == 0)
		out->max_ns = 0;
	else if (out->count == 1 || out->max_ns > out->total_ns)
		out->max_ns = out->total_ns;
	else if (out->max_ns == 0)
		out->max_ns = out->total_ns / out->count;
}

void uvs_gc_history_place(struct uvs_gc_history *h, struct uvs_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nloops && i < UVS_MAX_LOOPS; i++) {
		struct uvs_loop_snapshot *l = &s->loops[i];
		struct uvs_gc_track *t = find(h, l->tid, false);

		l->has_gc = true;
		memset(&l->gc, 0, sizeof(l->gc));
		if (!t)
			continue;
		delta(t, &l->gc);
		t->placed = t->last;
		t->pending_max = 0;
	}
}

void uvs_gc_history_totals(const struct uvs_gc_history *h, struct uvs_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nloops && i < UVS_MAX_LOOPS; i++) {
		struct uvs_loop_snapshot *l = &s->loops[i];
		const struct uvs_gc_track *t = find(h, l->tid, false);

		l->has_gc = true;
		memset(&l->gc, 0, sizeof(l->gc));
		if (t)
			l->gc = t->last;
	}
}
