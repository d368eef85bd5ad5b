// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "render/flame_stacks.h"

/* The name of one frame in the chosen naming, in a new string. */
static char *frame_name(const struct uvs_frame *f, enum uvs_flame_naming naming)
{
	char buf[UVS_FRAME_TEXT_MAX + 8];
	const char *suffix = "";
	size_t len;
	char *c;

	uvs_frame_text(f, buf, UVS_FRAME_TEXT_MAX);
	if (naming == UVS_FLAME_FOLDED_NAMES) {
		for (c = buf; (c = strchr(c, ';')); c++)
			*c = ':';
		if (f->kind == UVS_FRAME_JS || f->kind == UVS_FRAME_V8)
			suffix = "_[j]";
		else if (f->kind == UVS_FRAME_KERNEL)
			suffix = "_[k]";
		len = strlen(buf);
		memcpy(buf + len, suffix, strlen(suffix) + 1);
	}
	return strdup(buf);
}

struct named_frame {
	const char *text;
	int kind; /* 0 when kinds are merged */
	uint32_t id;
};

static int compare_named(const void *a, const void *b)
{
	const struct named_frame *x = a, *y = b;
	int c = strcmp(x->text, y->text);

	return c ? c : x->kind - y->kind;
}

/*
 * Names every frame of p and gives equal names one key, in sorted order: key_of[id] is the
 * key of frame id. Returns 0 or -ENOMEM.
 */
static int assign_keys(struct uvs_flame_stacks *s, const struct uvs_profile *p,
		       enum uvs_flame_naming naming, uint32_t *key_of)
{
	size_t n = uvs_profile_nframes(p), i;
	struct named_frame *named = calloc(n ? n : 1, sizeof(*named));
	char **names = calloc(n ? n : 1, sizeof(*names));
	int err = -ENOMEM;

	s->texts = calloc(n ? n : 1, sizeof(*s->texts));
	s->kinds = calloc(n ? n : 1, sizeof(*s->kinds));
	if (!named || !names || !s->texts || !s->kinds)
		goto out;
	for (i = 0; i < n; i++) {
		const struct uvs_frame *f = uvs_profile_frame_at(p, (int32_t)i);

		names[i] = frame_name(f, naming);
		if (!names[i])
			goto out;
		named[i] = (struct named_frame){
		    names[i], naming == UVS_FLAME_DISPLAY_NAMES ? (int)f->kind : 0, (uint32_t)i};
	}
	qsort(named, n, sizeof(*named), compare_named);
	for (i = 0; i < n; i++) {
		if (i == 0 || compare_named(&named[i - 1], &named[i]) != 0) {
			s->texts[s->nkeys] = names[named[i].id];
			s->kinds[s->nkeys] = uvs_profile_frame_at(p, (int32_t)named[i].id)->kind;
			names[named[i].id] = NULL; /* now owned by s */
			s->nkeys++;
		}
		key_of[named[i].id] = (uint32_t)(s->nkeys - 1);
	}
	err = 0;
out:
	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(named);
	return err;
}

/* Orders stacks by their keys (the keys array they point into is ctx); a prefix goes first. */
static int compare_stacks(const void *a, const void *b, void *ctx)
{
	const struct uvs_flame_stack *x = a, *y = b;
	const uint32_t *sort_keys = ctx;
	size_t i, n = x->n < y->n ? x->n : y->n;

	for (i = 0; i < n; i++) {
		uint32_t kx = sort_keys[x->off + i], ky = sort_keys[y->off + i];

		if (kx != ky)
			return kx < ky ? -1 : 1;
	}
	return x->n < y->n ? -1 : x->n > y->n;
}

/* Sorts the stacks and sums equal neighbours into one. */
static void sort_and_merge(struct uvs_flame_stacks *s)
{
	size_t i, out = 0;

	qsort_r(s->stacks, s->nstacks, sizeof(*s->stacks), compare_stacks, s->keys);
	for (i = 0; i < s->nstacks; i++) {
		if (out && compare_stacks(&s->stacks[out - 1], &s->stacks[i], s->keys) == 0)
			s->stacks[out - 1].count += s->stacks[i].count;
		else
			s->stacks[out++] = s->stacks[i];
	}
	s->nstacks = out;
}

int uvs_flame_stacks_build(struct uvs_flame_stacks *s, const struct uvs_profile *p,
			   enum uvs_flame_naming naming)
{
	size_t nentries = uvs_profile_nentries(p), nframes = uvs_profile_nframes(p), i, j,
	       nkeys = 0;
	uint32_t *key_of = calloc(nframes ? nframes : 1, sizeof(*key_of));
	struct uvs_profile_entry e;
	int err = -ENOMEM;

	memset(s, 0, sizeof(*s));
	if (!key_of || assign_keys(s, p, naming, key_of))
		goto out;
	for (i = 0; i < nentries; i++) {
		uvs_profile_entry_at(p, i, &e);
		nkeys += e.nframes;
	}
	s->keys = calloc(nkeys ? nkeys : 1, sizeof(*s->keys));
	s->stacks = calloc(nentries ? nentries : 1, sizeof(*s->stacks));
	if (!s->keys || !s->stacks)
		goto out;
	nkeys = 0;
	for (i = 0; i < nentries; i++) {
		uvs_profile_entry_at(p, i, &e);
		if (!e.count)
			continue;
		s->stacks[s->nstacks++] = (struct uvs_flame_stack){nkeys, e.nframes, e.count};
		for (j = 0; j < e.nframes; j++)
			s->keys[nkeys++] = key_of[e.frames[j]];
		s->total += e.count;
	}
	sort_and_merge(s);
	err = 0;
out:
	free(key_of);
	if (err)
		uvs_flame_stacks_free(s);
	return err;
}

void uvs_flame_stacks_free(struct uvs_flame_stacks *s)
{
	size_t i;

	for (i = 0; s->texts && i < s->nkeys; i++)
		free(s->texts[i]);
	free(s->texts);
	free(s->kinds);
	free(s->keys);
	free(s->stacks);
	memset(s, 0, sizeof(*s));
}
