// SPDX-License-Identifier: MIT
/*
 * The pprof writer: fills the structs protoc-c generated from proto/profile.proto, packs them
 * with protobuf-c and compresses with zlib's gzip framing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "proto/profile.pb-c.h"
#include "render/flame_pprof.h"
#include "util/hash.h"
#include "util/id_table.h"
#include "util/text.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;

/* The labels every sample carries: tid, role, state, phase. */
#define LABELS_PER_SAMPLE 4

/* The string table, each string once: index 0 is "" as the format wants. */
struct strings {
	char **s;
	size_t n, cap;
	struct uvs_id_table index;
};

static bool string_eq(const void *ctx, uint32_t id, const void *key)
{
	return strcmp(((const struct strings *)ctx)->s[id], key) == 0;
}

/* The index of s in the table, added if new (a sanitized copy). -1 on ENOMEM. */
static int64_t intern(struct strings *t, const char *s)
{
	char buf[UVS_FRAME_TEXT_MAX];
	uint64_t h;
	int64_t id;
	size_t slot;

	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	uvs_sanitize(buf, sizeof(buf));
	h = uvs_hash_final(uvs_hash_bytes(UVS_HASH_SEED, buf, strlen(buf)));
	if (uvs_id_table_reserve(&t->index))
		return -1;
	id = uvs_id_table_find(&t->index, h, string_eq, t, buf, &slot);
	if (id >= 0)
		return id;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **grown = realloc(t->s, cap * sizeof(*grown));

		if (!grown)
			return -1;
		t->s = grown;
		t->cap = cap;
	}
	t->s[t->n] = strdup(buf);
	if (!t->s[t->n])
		return -1;
	uvs_id_table_insert(&t->index, slot, h, (uint32_t)t->n);
	return (int64_t)t->n++;
}

static void strings_free(struct strings *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	uvs_id_table_free(&t->index);
}

/* Everything the Profile message points to, allocated together and freed together. */
struct pprof_build {
	Profile prof;
	struct strings strings;
	ValueType types[2], period_type;
	ValueType *type_ptrs[2];
	Mapping mapping, *mapping_ptr;
	Function *functions, **function_ptrs;
	Location *locations, **location_ptrs;
	Line *lines, **line_ptrs;
	Sample *samples, **sample_ptrs;
	Label *labels, **label_ptrs;
	uint64_t *location_ids;
	int64_t *values;
};

static void build_free(struct pprof_build *b)
{
	strings_free(&b->strings);
	free(b->functions);
	free(b->function_ptrs);
	free(b->locations);
	free(b->location_ptrs);
	free(b->lines);
	free(b->line_ptrs);
	free(b->samples);
	free(b->sample_ptrs);
	free(b->labels);
	free(b->label_ptrs);
	free(b->location_ids);
	free(b->values);
}

/* Interns s, or makes the build fail: *failed is set on ENOMEM. */
static int64_t str(struct pprof_build *b, const char *s, bool *failed)
{
	int64_t i = intern(&b->strings, s);

	if (i < 0) {
		*failed = true;
		return 0;
	}
	return i;
}

static void value_type(struct pprof_build *b, ValueType *v, const char *type, const char *unit,
		       bool *failed)
{
	perftools__profiles__value_type__init(v);
	v->type = str(b, type, failed);
	v->unit = str(b, unit, failed);
}

/*
 * One function and one location per frame of the profile, ids frame id + 1, all in the one
 * mapping: the frames are symbolized already, so pprof must not try to symbolize them again.
 */
static int fill_frames(struct pprof_build *b, const struct uvs_profile *p, bool *failed)
{
	size_t n = uvs_profile_nframes(p), i;

	b->functions = calloc(n + 1, sizeof(*b->functions));
	b->function_ptrs = calloc(n + 1, sizeof(*b->function_ptrs));
	b->locations = calloc(n + 1, sizeof(*b->locations));
	b->location_ptrs = calloc(n + 1, sizeof(*b->location_ptrs));
	b->lines = calloc(n + 1, sizeof(*b->lines));
	b->line_ptrs = calloc(n + 1, sizeof(*b->line_ptrs));
	if (!b->functions || !b->function_ptrs || !b->locations || !b->location_ptrs || !b->lines ||
	    !b->line_ptrs)
		return -ENOMEM;

	perftools__profiles__mapping__init(&b->mapping);
	b->mapping.id = 1;
	b->mapping.filename = str(b, "[uvscope]", failed);
	b->mapping.has_functions = b->mapping.has_filenames = b->mapping.has_line_numbers = true;
	b->mapping_ptr = &b->mapping;

	for (i = 0; i < n; i++) {
		const struct uvs_frame *f = uvs_profile_frame_at(p, (int32_t)i);
		Function *fn = &b->functions[i];
		Location *loc = &b->locations[i];
		Line *line = &b->lines[i];

		perftools__profiles__function__init(fn);
		fn->id = i + 1;
		fn->name = str(b, f->name, failed);
		fn->system_name = fn->name;
		fn->filename = str(b, f->file, failed);
		fn->start_line = f->line;
		b->function_ptrs[i] = fn;

		perftools__profiles__line__init(line);
		line->function_id = fn->id;
		line->line = f->line;
		b->line_ptrs[i] = line;

		perftools__profiles__location__init(loc);
		loc->id = i + 1;
		loc->mapping_id = 1;
		loc->n_line = 1;
		loc->line = &b->line_ptrs[i];
		b->location_ptrs[i] = loc;
	}
	b->prof.n_function = b->prof.n_location = n;
	b->prof.function = b->function_ptrs;
	b->prof.location = b->location_ptrs;
	b->prof.n_mapping = 1;
	b->prof.mapping = &b->mapping_ptr;
	return 0;
}

static void str_label(struct pprof_build *b, Label *l, const char *key, const char *value,
		      bool *failed)
{
	perftools__profiles__label__init(l);
	l->key = str(b, key, failed);
	l->str = str(b, value, failed);
}

/* Labels of one sample into l[]; returns how many. */
static size_t fill_labels(struct pprof_build *b, Label *l, const struct uvs_sample_labels *sl,
			  bool *failed)
{
	size_t n = 0;

	perftools__profiles__label__init(&l[n]);
	l[n].key = str(b, "tid", failed);
	l[n++].num = sl->tid;
	str_label(b, &l[n++], "role", uvs_role_name(sl->role), failed);
	str_label(b, &l[n++], "state", uvs_sample_state_name(sl->state), failed);
	if (sl->phase >= 0 && sl->phase < UVS_PHASE_COUNT)
		str_label(b, &l[n++], "phase", uvs_phase_name(sl->phase), failed);
	return n;
}

/* One sample per entry of the profile: its locations leaf first, its two values, its labels. */
static int fill_samples(struct pprof_build *b, const struct uvs_profile *p, bool *failed)
{
	size_t n = uvs_profile_nentries(p), nlocs = 0, i, j;
	struct uvs_profile_entry e;
	uint64_t *ids;

	for (i = 0; i < n; i++) {
		uvs_profile_entry_at(p, i, &e);
		nlocs += e.nframes;
	}
	b->samples = calloc(n + 1, sizeof(*b->samples));
	b->sample_ptrs = calloc(n + 1, sizeof(*b->sample_ptrs));
	b->labels = calloc(n * LABELS_PER_SAMPLE + 1, sizeof(*b->labels));
	b->label_ptrs = calloc(n * LABELS_PER_SAMPLE + 1, sizeof(*b->label_ptrs));
	b->location_ids = calloc(nlocs + 1, sizeof(*b->location_ids));
	b->values = calloc(n * 2 + 1, sizeof(*b->values));
	if (!b->samples || !b->sample_ptrs || !b->labels || !b->label_ptrs || !b->location_ids ||
	    !b->values)
		return -ENOMEM;
	ids = b->location_ids;
	for (i = 0; i < n; i++) {
		Sample *s = &b->samples[i];
		Label *l = &b->labels[i * LABELS_PER_SAMPLE];

		uvs_profile_entry_at(p, i, &e);
		perftools__profiles__sample__init(s);
		s->location_id = ids;
		s->n_location_id = e.nframes;
		for (j = 0; j < e.nframes; j++)
			*ids++ = (uint64_t)e.frames[e.nframes - 1 - j] + 1;
		s->value = &b->values[i * 2];
		s->n_value = 2;
		s->value[0] = (int64_t)e.count;
		s->value[1] = (int64_t)e.weight_ns;
		s->label = &b->label_ptrs[i * LABELS_PER_SAMPLE];
		s->n_label = fill_labels(b, l, &e.labels, failed);
		for (j = 0; j < s->n_label; j++)
			s->label[j] = &l[j];
		b->sample_ptrs[i] = s;
	}
	b->prof.n_sample = n;
	b->prof.sample = b->sample_ptrs;
	return 0;
}

static int fill(struct pprof_build *b, const struct uvs_profile *p,
		const struct uvs_flame_info *info)
{
	bool failed = false;

	perftools__profiles__profile__init(&b->prof);
	str(b, "", &failed); /* index 0 */
	value_type(b, &b->types[0], "samples", "count", &failed);
	value_type(b, &b->types[1], "cpu", "nanoseconds", &failed);
	value_type(b, &b->period_type, "cpu", "nanoseconds", &failed);
	b->type_ptrs[0] = &b->types[0];
	b->type_ptrs[1] = &b->types[1];
	b->prof.sample_type = b->type_ptrs;
	b->prof.n_sample_type = 2;
	b->prof.period_type = &b->period_type;
	b->prof.period = (int64_t)uvs_profile_period_ns(p);
	if (info) {
		b->prof.time_nanos = info->time_ns;
		b->prof.duration_nanos = info->duration_ns;
	}
	if (fill_frames(b, p, &failed) || fill_samples(b, p, &failed) || failed)
		return -ENOMEM;
	b->prof.string_table = b->strings.s;
	b->prof.n_string_table = b->strings.n;
	return 0;
}

/* data[0..len) into out, gzip-compressed. */
static int write_gzip(FILE *out, const uint8_t *data, size_t len)
{
	unsigned char chunk[65536];
	z_stream z = {0};
	int ret;

	/* 15 + 16: the largest window, with a gzip header and trailer instead of zlib's. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY))
		return -ENOMEM;
	z.next_in = (Bytef *)data;
	do {
		uInt step = len > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uInt)len;

		z.avail_in = step;
		len -= step;
		do {
			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			ret = deflate(&z, len ? Z_NO_FLUSH : Z_FINISH);
			if (ret == Z_STREAM_ERROR || fwrite(chunk, 1, sizeof(chunk) - z.avail_out,
							    out) != sizeof(chunk) - z.avail_out) {
				deflateEnd(&z);
				return -EIO;
			}
		} while (z.avail_out == 0);
	} while (len);
	deflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : -EIO;
}

int uvs_flame_pprof_write(FILE *out, const struct uvs_profile *p, const struct uvs_flame_info *info)
{
	struct pprof_build b = {0};
	uint8_t *packed = NULL;
	size_t len;
	int err;

	err = fill(&b, p, info);
	if (err)
		goto out;
	len = perftools__profiles__profile__get_packed_size(&b.prof);
	packed = malloc(len ? len : 1);
	if (!packed) {
		err = -ENOMEM;
		goto out;
	}
	perftools__profiles__profile__pack(&b.prof, packed);
	err = write_gzip(out, packed, len);
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
out:
	free(packed);
	build_free(&b);
	return err;
}
