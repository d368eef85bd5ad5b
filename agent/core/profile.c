// SPDX-License-Identifier: MIT
/*
 * A profile: frames, stacks and (stack, labels) entries, each interned once in an array with a
 * hash index (util/id_table.h), so memory grows with the distinct stacks, not with the samples.
 * Adding a sample whose stack was seen before costs three hash lookups and no allocation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/profile.h"
#include "util/hash.h"
#include "util/id_table.h"
#include "util/text.h"

struct stored_stack {
	uint32_t off; /* its frame ids are frame_ids[off .. off + n) */
	uint32_t n;
};

struct stored_entry {
	uint32_t stack;
	struct uvs_sample_labels labels;
	uint64_t count;
	uint64_t weight_ns;
};

struct uvs_profile {
	uint64_t period_ns;
	uint64_t total_samples;

	struct uvs_frame *frames; /* names and files owned */
	size_t nframes, frames_cap;
	struct uvs_id_table frame_index;

	int32_t *frame_ids; /* every stack's frames, one after another */
	size_t nframe_ids, frame_ids_cap;
	struct stored_stack *stacks;
	size_t nstacks, stacks_cap;
	struct uvs_id_table stack_index;

	struct stored_entry *entries;
	size_t nentries, entries_cap;
	struct uvs_id_table entry_index;
};

/*
 * Makes room for `more` elements of `size` bytes after n in the array whose pointer is at
 * arr_ptr (a T **, read and written with memcpy: a T * is not a void * to the compiler's
 * aliasing rules). Returns 0 or -ENOMEM, the array unchanged.
 */
static int grow(void *arr_ptr, size_t *cap, size_t n, size_t more, size_t size)
{
	size_t want = *cap ? *cap : 16;
	void *old, *p;

	if (n + more <= *cap)
		return 0;
	if (more > SIZE_MAX / 2 - n)
		return -ENOMEM;
	while (want < n + more)
		want *= 2;
	if (want > SIZE_MAX / size)
		return -ENOMEM;
	memcpy(&old, arr_ptr, sizeof(old));
	p = realloc(old, want * size);
	if (!p)
		return -ENOMEM;
	memcpy(arr_ptr, &p, sizeof(p));
	*cap = want;
	return 0;
}

struct uvs_profile *uvs_profile_new(uint64_t period_ns)
{
	struct uvs_profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->period_ns = period_ns;
	return p;
}

void uvs_profile_free(struct uvs_profile *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nframes; i++) {
		free((char *)p->frames[i].name);
		free((char *)p->frames[i].file);
	}
	free(p->frames);
	uvs_id_table_free(&p->frame_index);
	free(p->frame_ids);
	free(p->stacks);
	uvs_id_table_free(&p->stack_index);
	free(p->entries);
	uvs_id_table_free(&p->entry_index);
	free(p);
}

static uint64_t hash_string(uint64_t h, const char *s)
{
	/* A NULL file and an empty one differ: the length word keeps them apart. */
	if (!s)
		return uvs_hash_word(h, UINT64_MAX);
	size_t n = strlen(s);
	return uvs_hash_word(uvs_hash_bytes(h, s, n), n);
}

static uint64_t frame_hash(const struct uvs_frame *f)
{
	uint64_t h = uvs_hash_word(UVS_HASH_SEED, ((uint64_t)f->kind << 32) | f->line);

	h = hash_string(h, f->name);
	return uvs_hash_final(hash_string(h, f->file));
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool frame_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct uvs_profile *p = ctx;
	const struct uvs_frame *a = &p->frames[id], *b = key;

	return a->kind == b->kind && a->line == b->line && same_string(a->name, b->name) &&
	       same_string(a->file, b->file);
}

int32_t uvs_profile_frame(struct uvs_profile *p, const struct uvs_frame *f)
{
	struct uvs_frame copy;
	uint64_t h;
	int64_t id;
	size_t slot;

	if (!f->name) {
		errno = EINVAL;
		return -1;
	}
	if (uvs_id_table_reserve(&p->frame_index) ||
	    grow(&p->frames, &p->frames_cap, p->nframes, 1, sizeof(*p->frames)))
		goto nomem;
	h = frame_hash(f);
	id = uvs_id_table_find(&p->frame_index, h, frame_eq, p, f, &slot);
	if (id >= 0)
		return (int32_t)id;
	if (p->nframes >= INT32_MAX)
		goto nomem;
	copy = *f;
	copy.name = strdup(f->name);
	copy.file = f->file ? strdup(f->file) : NULL;
	if (!copy.name || (f->file && !copy.file)) {
		free((char *)copy.name);
		free((char *)copy.file);
		goto nomem;
	}
	p->frames[p->nframes] = copy;
	uvs_id_table_insert(&p->frame_index, slot, h, (uint32_t)p->nframes);
	return (int32_t)p->nframes++;
nomem:
	errno = ENOMEM;
	return -1;
}

struct stack_key {
	const int32_t *frames;
	size_t n;
};

static bool stack_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct uvs_profile *p = ctx;
	const struct stored_stack *s = &p->stacks[id];
	const struct stack_key *k = key;

	return s->n == k->n &&
	       memcmp(p->frame_ids + s->off, k->frames, k->n * sizeof(int32_t)) == 0;
}

/* The id of the stack frames[0..n), interned. -ENOMEM or the id. */
static int64_t intern_stack(struct uvs_profile *p, const int32_t *frames, size_t n)
{
	struct stack_key key = {frames, n};
	uint64_t h = UVS_HASH_SEED;
	int64_t id;
	size_t i, slot;

	for (i = 0; i < n; i++)
		h = uvs_hash_word(h, (uint32_t)frames[i]);
	h = uvs_hash_final(uvs_hash_word(h, n));
	if (uvs_id_table_reserve(&p->stack_index))
		return -ENOMEM;
	id = uvs_id_table_find(&p->stack_index, h, stack_eq, p, &key, &slot);
	if (id >= 0)
		return id;
	if (p->nframe_ids + n > UINT32_MAX || p->nstacks >= UINT32_MAX ||
	    grow(&p->frame_ids, &p->frame_ids_cap, p->nframe_ids, n, sizeof(*p->frame_ids)) ||
	    grow(&p->stacks, &p->stacks_cap, p->nstacks, 1, sizeof(*p->stacks)))
		return -ENOMEM;
	memcpy(p->frame_ids + p->nframe_ids, frames, n * sizeof(int32_t));
	p->stacks[p->nstacks] =
	    (struct stored_stack){.off = (uint32_t)p->nframe_ids, .n = (uint32_t)n};
	p->nframe_ids += n;
	uvs_id_table_insert(&p->stack_index, slot, h, (uint32_t)p->nstacks);
	return (int64_t)p->nstacks++;
}

static bool same_labels(const struct uvs_sample_labels *a, const struct uvs_sample_labels *b)
{
	return a->tid == b->tid && a->role == b->role && a->state == b->state &&
	       a->phase == b->phase;
}

static bool entry_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct uvs_profile *p = ctx;
	const struct stored_entry *a = &p->entries[id], *b = key;

	return a->stack == b->stack && same_labels(&a->labels, &b->labels);
}

int uvs_profile_add(struct uvs_profile *p, const int32_t *frames, size_t n,
		    const struct uvs_sample_labels *l, uint64_t count, uint64_t weight_ns)
{
	struct stored_entry key = {.labels = *l};
	uint64_t h;
	int64_t stack, id;
	size_t i, slot;

	if (n == 0 || n > UVS_PROFILE_MAX_DEPTH)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (frames[i] < 0 || (size_t)frames[i] >= p->nframes)
			return -EINVAL;
	stack = intern_stack(p, frames, n);
	if (stack < 0)
		return (int)stack;
	key.stack = (uint32_t)stack;
	h = uvs_hash_word(UVS_HASH_SEED, key.stack);
	h = uvs_hash_word(h, ((uint64_t)(uint32_t)l->tid << 32) | (uint32_t)l->phase);
	h = uvs_hash_final(uvs_hash_word(h, ((uint64_t)l->role << 32) | l->state));
	if (uvs_id_table_reserve(&p->entry_index))
		return -ENOMEM;
	id = uvs_id_table_find(&p->entry_index, h, entry_eq, p, &key, &slot);
	if (id < 0) {
		if (p->nentries >= UINT32_MAX ||
		    grow(&p->entries, &p->entries_cap, p->nentries, 1, sizeof(*p->entries)))
			return -ENOMEM;
		id = (int64_t)p->nentries++;
		p->entries[id] = key;
		uvs_id_table_insert(&p->entry_index, slot, h, (uint32_t)id);
	}
	p->entries[id].count += count;
	p->entries[id].weight_ns += weight_ns;
	p->total_samples += count;
	return 0;
}

size_t uvs_profile_nframes(const struct uvs_profile *p)
{
	return p->nframes;
}

const struct uvs_frame *uvs_profile_frame_at(const struct uvs_profile *p, int32_t id)
{
	return id >= 0 && (size_t)id < p->nframes ? &p->frames[id] : NULL;
}

size_t uvs_profile_nentries(const struct uvs_profile *p)
{
	return p->nentries;
}

void uvs_profile_entry_at(const struct uvs_profile *p, size_t i, struct uvs_profile_entry *out)
{
	const struct stored_entry *e;
	const struct stored_stack *s;

	if (i >= p->nentries) {
		memset(out, 0, sizeof(*out));
		return;
	}
	e = &p->entries[i];
	s = &p->stacks[e->stack];

	out->frames = p->frame_ids + s->off;
	out->nframes = s->n;
	out->labels = e->labels;
	out->count = e->count;
	out->weight_ns = e->weight_ns;
}

uint64_t uvs_profile_period_ns(const struct uvs_profile *p)
{
	return p->period_ns;
}

uint64_t uvs_profile_total_samples(const struct uvs_profile *p)
{
	return p->total_samples;
}

const char *uvs_frame_text(const struct uvs_frame *f, char *buf, size_t cap)
{
	/* A builtin's script (Promise, an anonymous callback of the microtask queue) has no name. */
	bool file = f->kind == UVS_FRAME_JS && f->file && f->file[0];

	if (!cap)
		return buf;
	if (file && f->line)
		snprintf(buf, cap, "%s %s:%u", f->name, f->file, f->line);
	else if (file)
		snprintf(buf, cap, "%s %s", f->name, f->file);
	else
		snprintf(buf, cap, "%s", f->name);
	/*
	 * Callers sanitized the names (profile.h), but the files written from this text (XML, a
	 * protobuf string table) are invalid with a control byte or broken UTF-8 in them, and a
	 * truncation above may have cut a UTF-8 sequence: no-op for clean text.
	 */
	uvs_sanitize(buf, cap);
	return buf;
}

const char *uvs_sample_state_name(enum uvs_sample_state state)
{
	switch (state) {
	case UVS_STATE_CPU:
		return "cpu";
	case UVS_STATE_LOOP_BUSY:
		return "loop_busy";
	case UVS_STATE_LOOP_IDLE:
		return "loop_idle";
	case UVS_STATE_OFF_CPU:
		return "off_cpu";
	}
	return "unknown";
}
