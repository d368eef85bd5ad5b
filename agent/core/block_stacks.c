// SPDX-License-Identifier: MIT
#include "core/block_stacks.h"

#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

#define MAX_THREADS UVS_MAX_LOOPS
/*
 * GC pauses per thread: the last GC_RING exactly, and before them a mark of the running total at
 * most every GC_MARK_NS (GC_MARKS of them: 10 s or more), so that a block with thousands of
 * collections still says how much of it was GC, to within one mark's interval at its start.
 */
#define GC_RING 256
#define GC_MARKS 1024
#define GC_MARK_NS 10000000ULL
/* Frames interned since the last reset; past this the store starts afresh (an agent left
 * running for days on code that keeps changing must not grow without end). */
#define MAX_FRAMES 200000

/* Room for frames is taken in steps of this many: a slot reused by a stack as deep fits. */
#define FRAMES_STEP 16

/*
 * A sample's frames are allocated to its depth: a loop's stacks are mostly a few tens of
 * frames deep, and a ring of UVS_BLOCK_FRAMES each took 1.1 MB per loop thread of every target.
 */
struct kept_sample {
	uint64_t ts;
	uint64_t weight_ns;              /* the period it was taken at: the time it stands for */
	uint64_t hash;
	uint64_t place_hash;
	bool off_cpu;
	uint16_t nframes;
	uint16_t cap;                    /* room at frames */
	uint16_t nplace;
	int32_t place[UVS_PLACE_FRAMES]; /* the innermost JS frames (native if no JS) */
	int32_t *frames;                 /* innermost first */
};

struct thread_ring {
	int tid;
	size_t next, count;
	struct kept_sample *ring;          /* UVS_BLOCK_RING, allocated when the thread is seen */
	size_t gc_next, gc_count;
	struct uvs_gc_record gc[GC_RING];
	uint64_t gc_before[GC_RING]; /* the running total of GC before each of gc[] */
	uint64_t gc_total;           /* every pause's length, since the thread was seen */
	size_t mark_next, mark_count;
	struct {
		uint64_t ts;    /* a pause's start */
		uint64_t total; /* gc_total before it */
	} marks[GC_MARKS];
};

struct uvs_block_stacks {
	struct uvs_profile *frames;        /* interns the frames */
	struct thread_ring threads[MAX_THREADS];
	size_t nthreads;
	/* uvs_block_stacks_top's answer */
	const struct uvs_frame *answer[UVS_ALERT_MAX_STACKS][UVS_BLOCK_FRAMES];
	const struct uvs_frame *place_answer[UVS_ALERT_PLACES][UVS_PLACE_FRAMES];
	size_t order[UVS_BLOCK_RING];
};

struct uvs_block_stacks *uvs_block_stacks_new(void)
{
	struct uvs_block_stacks *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->frames = uvs_profile_new(0);
	if (!b->frames) {
		free(b);
		return NULL;
	}
	return b;
}

void uvs_block_stacks_free(struct uvs_block_stacks *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nthreads; i++) {
		for (size_t k = 0; b->threads[i].ring && k < UVS_BLOCK_RING; k++)
			free(b->threads[i].ring[k].frames);
		free(b->threads[i].ring);
	}
	uvs_profile_free(b->frames);
	free(b);
}

static struct thread_ring *thread(struct uvs_block_stacks *b, int tid, bool create)
{
	for (size_t i = 0; i < b->nthreads; i++)
		if (b->threads[i].tid == tid)
			return &b->threads[i];
	if (!create || b->nthreads == MAX_THREADS)
		return NULL;
	b->threads[b->nthreads].tid = tid;
	return &b->threads[b->nthreads++];
}

static void reset_frames(struct uvs_block_stacks *b)
{
	struct uvs_profile *fresh = uvs_profile_new(0);

	if (!fresh)
		return;
	uvs_profile_free(b->frames);
	b->frames = fresh;
	for (size_t i = 0; i < b->nthreads; i++)
		b->threads[i].count = 0;
}

static bool kept_role(enum uvs_role r)
{
	return r == UVS_ROLE_MAIN || r == UVS_ROLE_WORKER || r == UVS_ROLE_LOOP;
}

static uint64_t hash_ids(const int32_t *ids, size_t n)
{
	return uvs_hash_bytes(UVS_HASH_SEED, ids, n * sizeof(ids[0]));
}

/* Node's own JavaScript (lib/): its scripts are named node:fs, node:internal/... */
static bool node_own_js(const struct uvs_frame *f)
{
	return f->kind == UVS_FRAME_JS && f->file && !strncmp(f->file, "node:", 5);
}

/*
 * How many innermost JS frames of s (innermost first at s->frames[s->nframes - 1]) a place
 * skips: Node's own functions at the top of the stack but the last of them, when the
 * application's code called them. A block in execSync sleeps under spawnSync, spawnSync and
 * execSync, all node:child_process; the place must say execSync and the application's function
 * that called it, not three of Node's. A stack of Node's functions only skips nothing.
 */
static size_t node_frames_to_skip(const struct uvs_sample *s, size_t depth)
{
	size_t js = 0, skip = 0;

	for (size_t i = 0; i < depth; i++) {
		const struct uvs_frame *f = &s->frames[s->nframes - 1 - i];

		if (f->kind != UVS_FRAME_JS)
			continue;
		if (!node_own_js(f))
			return skip;
		/* This one is Node's: the ones before it are skipped if an application frame follows. */
		skip = js++;
	}
	return 0;
}

/*
 * The place of a kept sample: its innermost frames of the first kind it has of JS, native;
 * for JS, from the Node function the application called (node_frames_to_skip).
 */
static void set_place(struct kept_sample *k, const struct uvs_sample *s)
{
	static const enum uvs_frame_kind kinds[] = { UVS_FRAME_JS, UVS_FRAME_NATIVE,
						     UVS_FRAME_KERNEL };

	k->nplace = 0;
	for (size_t kind = 0; kind < sizeof(kinds) / sizeof(kinds[0]) && !k->nplace; kind++) {
		size_t skip = kinds[kind] == UVS_FRAME_JS ? node_frames_to_skip(s, k->nframes) : 0;

		/* k->frames[i] is s->frames[s->nframes - 1 - i]: both innermost first here. */
		for (size_t i = 0; i < k->nframes && k->nplace < UVS_PLACE_FRAMES; i++) {
			if (s->frames[s->nframes - 1 - i].kind != kinds[kind])
				continue;
			if (skip) {
				skip--;
				continue;
			}
			k->place[k->nplace++] = k->frames[i];
		}
	}
	k->place_hash = hash_ids(k->place, k->nplace);
}

void uvs_block_stacks_add(struct uvs_block_stacks *b, const struct uvs_sample *s)
{
	int32_t ids[UVS_BLOCK_FRAMES];
	struct thread_ring *t;
	struct kept_sample *k;
	size_t n = 0;

	if (s->labels.state != UVS_STATE_LOOP_BUSY &&
	    !(s->labels.state == UVS_STATE_OFF_CPU && kept_role(s->labels.role)))
		return;
	t = thread(b, s->labels.tid, true);
	if (!t)
		return;
	if (!t->ring) {
		t->ring = calloc(UVS_BLOCK_RING, sizeof(*t->ring));
		if (!t->ring)
			return;
	}
	if (uvs_profile_nframes(b->frames) > MAX_FRAMES)
		reset_frames(b);
	/* Innermost first, and the innermost frames are kept when a stack is too deep. */
	for (size_t i = s->nframes; i-- > 0 && n < UVS_BLOCK_FRAMES;) {
		int32_t id = uvs_profile_frame(b->frames, &s->frames[i]);

		if (id < 0)
			return;
		ids[n++] = id;
	}
	k = &t->ring[t->next];
	if (k->cap < n) {
		size_t cap = (n + FRAMES_STEP - 1) / FRAMES_STEP * FRAMES_STEP;
		int32_t *frames = realloc(k->frames, cap * sizeof(*frames));

		if (!frames)
			return;
		k->frames = frames;
		k->cap = (uint16_t)cap;
	}
	memcpy(k->frames, ids, n * sizeof(ids[0]));
	k->nframes = (uint16_t)n;
	k->ts = s->ts_ns;
	k->weight_ns = s->weight_ns;
	k->off_cpu = s->labels.state == UVS_STATE_OFF_CPU;
	k->hash = hash_ids(k->frames, k->nframes);
	set_place(k, s);
	t->next = (t->next + 1) % UVS_BLOCK_RING;
	if (t->count < UVS_BLOCK_RING)
		t->count++;
}

void uvs_block_stacks_gc(struct uvs_block_stacks *b, const struct uvs_gc_record *g)
{
	struct thread_ring *t = thread(b, g->tid, true);

	size_t last = (t ? t->mark_next + GC_MARKS - 1 : 0) % GC_MARKS;

	if (!t)
		return;
	if (!t->mark_count || g->start_ns >= t->marks[last].ts + GC_MARK_NS) {
		t->marks[t->mark_next].ts = g->start_ns;
		t->marks[t->mark_next].total = t->gc_total;
		t->mark_next = (t->mark_next + 1) % GC_MARKS;
		if (t->mark_count < GC_MARKS)
			t->mark_count++;
	}
	t->gc[t->gc_next] = *g;
	t->gc_before[t->gc_next] = t->gc_total;
	if (g->end_ns > g->start_ns)
		t->gc_total += g->end_ns - g->start_ns;
	t->gc_next = (t->gc_next + 1) % GC_RING;
	if (t->gc_count < GC_RING)
		t->gc_count++;
}

/* The running total at the last mark at or before ts (the oldest mark's, if none is). */
static uint64_t total_at_mark(const struct thread_ring *t, uint64_t ts)
{
	uint64_t total = 0;

	for (size_t i = 0; i < t->mark_count; i++) {
		size_t at = (t->mark_next + GC_MARKS - t->mark_count + i) % GC_MARKS;

		if (i && t->marks[at].ts > ts)
			break;
		total = t->marks[at].total;
	}
	return total;
}

static bool same_stack(const struct kept_sample *a, const struct kept_sample *b)
{
	return a->hash == b->hash && a->nframes == b->nframes &&
	       !memcmp(a->frames, b->frames, a->nframes * sizeof(a->frames[0]));
}

static bool same_place(const struct kept_sample *a, const struct kept_sample *b)
{
	return a->place_hash == b->place_hash && a->nplace == b->nplace &&
	       !memcmp(a->place, b->place, a->nplace * sizeof(a->place[0]));
}

/* qsort_r comparators over indexes into a thread's ring (ctx). */
static int by_hash(const void *x, const void *y, void *ctx)
{
	const struct thread_ring *t = ctx;
	const struct kept_sample *a = &t->ring[*(const size_t *)x];
	const struct kept_sample *b = &t->ring[*(const size_t *)y];

	return a->hash < b->hash ? -1 : a->hash > b->hash;
}

static int by_place(const void *x, const void *y, void *ctx)
{
	const struct thread_ring *t = ctx;
	const struct kept_sample *a = &t->ring[*(const size_t *)x];
	const struct kept_sample *b = &t->ring[*(const size_t *)y];

	return a->place_hash < b->place_hash ? -1 : a->place_hash > b->place_hash;
}

/* A group of kept samples: how many, how many asleep, the time they stand for. */
struct group {
	uint64_t samples, off_cpu, time_ns;
};

/* Inserts a group into a top list of at most cap (most time first), if it belongs there. */
static void consider(struct uvs_alert_stack *top, size_t *ntop, size_t cap, size_t *rep,
		     size_t first, struct group g)
{
	size_t n = *ntop, at = n;

	while (at > 0 && top[at - 1].time_ns < g.time_ns)
		at--;
	if (at >= cap)
		return;
	if (n == cap)
		n--;
	memmove(&top[at + 1], &top[at], (n - at) * sizeof(top[0]));
	memmove(&rep[at + 1], &rep[at], (n - at) * sizeof(rep[0]));
	top[at].samples = g.samples;
	top[at].off_cpu = g.off_cpu;
	top[at].time_ns = g.time_ns;
	rep[at] = first;
	*ntop = n + 1;
}

/*
 * Sorts order[n] (indexes into t's ring) with cmp, counts each run of samples that are the same
 * by same, and keeps the runs with the most time in top (at most cap; rep: one sample of each).
 */
static void top_groups(const struct thread_ring *t, size_t *order, size_t n,
		       int (*cmp)(const void *, const void *, void *),
		       bool (*same)(const struct kept_sample *, const struct kept_sample *),
		       struct uvs_alert_stack *top, size_t *ntop, size_t cap, size_t *rep)
{
	size_t i, j;

	qsort_r(order, n, sizeof(order[0]), cmp, (void *)t);
	for (i = 0; i < n; i = j) {
		struct group g = { 0 };

		for (j = i; j < n && same(&t->ring[order[i]], &t->ring[order[j]]); j++) {
			g.off_cpu += t->ring[order[j]].off_cpu;
			g.time_ns += t->ring[order[j]].weight_ns;
		}
		g.samples = j - i;
		consider(top, ntop, cap, rep, order[i], g);
	}
}

uint64_t uvs_block_stacks_top(struct uvs_block_stacks *b, int tid, uint64_t since, uint64_t until,
			      struct uvs_alert_stacks *out)
{
	struct thread_ring *t = thread(b, tid, false);
	size_t rep[UVS_ALERT_MAX_STACKS + 1];
	size_t n = 0, i, j;

	memset(out, 0, sizeof(*out));
	if (!t || !t->ring)
		return 0;
	for (i = 0; i < t->count; i++) {
		size_t at = (t->next + UVS_BLOCK_RING - 1 - i) % UVS_BLOCK_RING;

		if (t->ring[at].ts >= since && (!until || t->ring[at].ts <= until)) {
			b->order[n++] = at;
			out->time_ns += t->ring[at].weight_ns;
		}
	}
	out->samples = n;
	/* The ring is full of this block: its earlier samples were overwritten. */
	if (n && n == UVS_BLOCK_RING) {
		uint64_t first = t->ring[b->order[n - 1]].ts, last = t->ring[b->order[0]].ts;

		out->cover_ns = (until && until > last ? until : last) - first;
	}
	top_groups(t, b->order, n, by_hash, same_stack, out->stacks, &out->nstacks,
		   UVS_ALERT_MAX_STACKS, rep);
	for (i = 0; i < out->nstacks; i++) {
		const struct kept_sample *k = &t->ring[rep[i]];

		for (j = 0; j < k->nframes; j++)
			b->answer[i][j] = uvs_profile_frame_at(b->frames, k->frames[j]);
		out->stacks[i].nframes = k->nframes;
		out->stacks[i].frames = b->answer[i];
	}
	/* The same samples by place. */
	top_groups(t, b->order, n, by_place, same_place, out->places, &out->nplaces,
		   UVS_ALERT_PLACES, rep);
	for (i = 0; i < out->nplaces; i++) {
		const struct kept_sample *k = &t->ring[rep[i]];

		for (j = 0; j < k->nplace; j++)
			b->place_answer[i][j] = uvs_profile_frame_at(b->frames, k->place[j]);
		out->places[i].nframes = k->nplace;
		out->places[i].frames = b->place_answer[i];
	}
	return out->samples;
}

uint64_t uvs_block_stacks_gc_ns(const struct uvs_block_stacks *b, int tid, uint64_t since,
				uint64_t until)
{
	uint64_t total = 0;

	for (size_t i = 0; i < b->nthreads; i++) {
		const struct thread_ring *t = &b->threads[i];
		size_t oldest = (t->gc_next + GC_RING - t->gc_count) % GC_RING;

		if (t->tid != tid)
			continue;
		for (size_t k = 0; k < t->gc_count; k++) {
			const struct uvs_gc_record *g = &t->gc[k];
			uint64_t s = g->start_ns > since ? g->start_ns : since;
			uint64_t e = until && g->end_ns > until ? until : g->end_ns;

			if (e > s)
				total += e - s;
		}
		/* Pauses older than the ring, in the span: from the marks of the running total. */
		if (t->gc_count == GC_RING && t->gc[oldest].start_ns > since) {
			uint64_t before = total_at_mark(t, since);

			if (t->gc_before[oldest] > before)
				total += t->gc_before[oldest] - before;
		}
	}
	return total;
}
