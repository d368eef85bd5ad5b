// SPDX-License-Identifier: MIT
/* Interim profile (linear scans): replaced by the hashed one from the flame work. */
#include "core/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	int32_t *frames;
	size_t nframes;
	struct uvs_sample_labels labels;
	uint64_t count, weight_ns;
};

struct uvs_profile {
	uint64_t period_ns;
	struct uvs_frame *frames;
	size_t nframes, cap_frames;
	struct entry *entries;
	size_t nentries, cap_entries;
	uint64_t total;
};

struct uvs_profile *uvs_profile_new(uint64_t period_ns)
{
	struct uvs_profile *p = calloc(1, sizeof(*p));

	if (p)
		p->period_ns = period_ns;
	return p;
}

void uvs_profile_free(struct uvs_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nframes; i++) {
		free((char *)p->frames[i].name);
		free((char *)p->frames[i].file);
	}
	for (size_t i = 0; i < p->nentries; i++)
		free(p->entries[i].frames);
	free(p->frames);
	free(p->entries);
	free(p);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

int32_t uvs_profile_frame(struct uvs_profile *p, const struct uvs_frame *f)
{
	struct uvs_frame *n;

	for (size_t i = 0; i < p->nframes; i++) {
		const struct uvs_frame *g = &p->frames[i];

		if (g->kind == f->kind && g->line == f->line && same_str(g->name, f->name) &&
		    same_str(g->file, f->file))
			return (int32_t)i;
	}
	if (p->nframes == p->cap_frames) {
		size_t cap = p->cap_frames ? p->cap_frames * 2 : 64;

		n = realloc(p->frames, cap * sizeof(*n));
		if (!n)
			return -1;
		p->frames = n;
		p->cap_frames = cap;
	}
	n = &p->frames[p->nframes];
	n->kind = f->kind;
	n->line = f->line;
	n->name = strdup(f->name ? f->name : "[unknown]");
	n->file = f->file ? strdup(f->file) : NULL;
	if (!n->name || (f->file && !n->file)) {
		free((char *)n->name);
		free((char *)n->file);
		return -1;
	}
	return (int32_t)p->nframes++;
}

int uvs_profile_add(struct uvs_profile *p, const int32_t *frames, size_t n,
		    const struct uvs_sample_labels *l, uint64_t count, uint64_t weight_ns)
{
	struct entry *e;

	for (size_t i = 0; i < p->nentries; i++) {
		e = &p->entries[i];
		if (e->nframes == n && !memcmp(&e->labels, l, sizeof(*l)) &&
		    !memcmp(e->frames, frames, n * sizeof(*frames))) {
			e->count += count;
			e->weight_ns += weight_ns;
			p->total += count;
			return 0;
		}
	}
	if (p->nentries == p->cap_entries) {
		size_t cap = p->cap_entries ? p->cap_entries * 2 : 64;

		e = realloc(p->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		p->entries = e;
		p->cap_entries = cap;
	}
	e = &p->entries[p->nentries];
	e->frames = malloc((n ? n : 1) * sizeof(*frames));
	if (!e->frames)
		return -ENOMEM;
	memcpy(e->frames, frames, n * sizeof(*frames));
	e->nframes = n;
	e->labels = *l;
	e->count = count;
	e->weight_ns = weight_ns;
	p->nentries++;
	p->total += count;
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
	const struct entry *e = &p->entries[i];

	out->frames = e->frames;
	out->nframes = e->nframes;
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
	return p->total;
}

const char *uvs_frame_text(const struct uvs_frame *f, char *buf, size_t cap)
{
	if (f->kind == UVS_FRAME_JS && f->file && *f->file && f->line)
		snprintf(buf, cap, "%s %s:%u", f->name, f->file, f->line);
	else if (f->kind == UVS_FRAME_JS && f->file && *f->file)
		snprintf(buf, cap, "%s %s", f->name, f->file);
	else
		snprintf(buf, cap, "%s", f->name);
	return buf;
}
