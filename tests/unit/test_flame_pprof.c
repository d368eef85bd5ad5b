// SPDX-License-Identifier: MIT
/*
 * The pprof writer, read back twice: gunzipped with zlib and unpacked with protobuf-c (every
 * field checked against the hand-built profile), and decoded by an independent reader,
 * `go tool pprof` (Debian's golang-go), whose sample total must equal the folded output's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "flame_fixture.h"
#include "proto/profile.pb-c.h"
#include "render/flame.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;

static const struct uvs_flame_info info = {.time_ns = 1764460000000000000ll,
					   .duration_ns = 30000000000ll};

/* The gunzipped bytes of gz; *len their length. */
static uint8_t *gunzip(const char *gz, size_t gz_len, size_t *len)
{
	size_t cap = 1 << 16;
	uint8_t *out = malloc(cap);
	z_stream z = {0};
	int ret;

	cr_assert_not_null(out);
	cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK, "only gzip framing is accepted");
	z.next_in = (Bytef *)gz;
	z.avail_in = (uInt)gz_len;
	do {
		if (z.total_out == cap) {
			cap *= 2;
			out = realloc(out, cap);
			cr_assert_not_null(out);
		}
		z.next_out = out + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		ret = inflate(&z, Z_NO_FLUSH);
		cr_assert(ret == Z_OK || ret == Z_STREAM_END, "inflate: %d", ret);
	} while (ret != Z_STREAM_END);
	cr_expect_eq(z.avail_in, 0, "bytes after the gzip stream");
	*len = z.total_out;
	inflateEnd(&z);
	return out;
}

static Profile *decode(const struct uvs_profile *p)
{
	size_t gz_len, len;
	char *gz = flame_render(UVS_FLAME_PPROF, p, &info, &gz_len);
	uint8_t *raw = gunzip(gz, gz_len, &len);
	Profile *prof = perftools__profiles__profile__unpack(NULL, len, raw);

	cr_assert_not_null(prof, "protobuf-c cannot unpack the profile");
	free(raw);
	free(gz);
	return prof;
}

static const char *string_at(const Profile *prof, int64_t i)
{
	cr_assert(i >= 0 && (size_t)i < prof->n_string_table, "string index %" PRId64, i);
	return prof->string_table[i];
}

static const char *function_name_of(const Profile *prof, uint64_t location_id)
{
	size_t i, j;

	for (i = 0; i < prof->n_location; i++) {
		if (prof->location[i]->id != location_id)
			continue;
		cr_assert_eq(prof->location[i]->n_line, 1);
		for (j = 0; j < prof->n_function; j++)
			if (prof->function[j]->id == prof->location[i]->line[0]->function_id)
				return string_at(prof, prof->function[j]->name);
	}
	cr_assert_fail("no location %" PRIu64, location_id);
	return NULL;
}

/* The value of label `key` of s: str into *str (NULL if numeric), num into *num. */
static bool label(const Profile *prof, const Sample *s, const char *key, const char **str,
		  int64_t *num)
{
	size_t i;

	for (i = 0; i < s->n_label; i++) {
		if (strcmp(string_at(prof, s->label[i]->key), key) != 0)
			continue;
		*str = s->label[i]->str ? string_at(prof, s->label[i]->str) : NULL;
		*num = s->label[i]->num;
		return true;
	}
	return false;
}

Test(flame_pprof, header_and_string_table)
{
	struct uvs_profile *p = flame_fixture_profile();
	Profile *prof = decode(p);

	cr_assert_geq(prof->n_string_table, 1);
	cr_expect_str_eq(prof->string_table[0], "");
	cr_assert_eq(prof->n_sample_type, 2);
	cr_expect_str_eq(string_at(prof, prof->sample_type[0]->type), "samples");
	cr_expect_str_eq(string_at(prof, prof->sample_type[0]->unit), "count");
	cr_expect_str_eq(string_at(prof, prof->sample_type[1]->type), "cpu");
	cr_expect_str_eq(string_at(prof, prof->sample_type[1]->unit), "nanoseconds");
	cr_assert_not_null(prof->period_type);
	cr_expect_str_eq(string_at(prof, prof->period_type->type), "cpu");
	cr_expect_eq(prof->period, FIXTURE_PERIOD_NS);
	cr_expect_eq(prof->time_nanos, 1764460000000000000ll);
	cr_expect_eq(prof->duration_nanos, 30000000000ll);
	for (size_t i = 1; i < prof->n_string_table; i++)
		for (size_t j = i + 1; j < prof->n_string_table; j++)
			cr_expect_str_neq(prof->string_table[i], prof->string_table[j]);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	uvs_profile_free(p);
}

Test(flame_pprof, functions_and_locations)
{
	struct uvs_profile *p = flame_fixture_profile();
	Profile *prof = decode(p);
	size_t i;

	cr_expect_eq(prof->n_function, uvs_profile_nframes(p));
	cr_expect_eq(prof->n_location, uvs_profile_nframes(p));
	cr_assert_eq(prof->n_mapping, 1);
	cr_expect(prof->mapping[0]->has_functions, "frames are symbolized: pprof must not redo it");
	for (i = 0; i < prof->n_function; i++) {
		const struct uvs_frame *f = uvs_profile_frame_at(p, (int32_t)i);
		const Perftools__Profiles__Function *fn = prof->function[i];
		const char *name = string_at(prof, fn->name);

		cr_expect_neq(fn->id, 0);
		cr_expect_eq(prof->location[i]->mapping_id, prof->mapping[0]->id);
		cr_expect_str_eq(function_name_of(prof, prof->location[i]->id), name);
		if (strcmp(f->name, FIXTURE_HOSTILE_NAME) == 0) {
			cr_expect_str_eq(name, "evil<script>&\"'; ? x??\xce\xbb\xc3\xa9",
					 "sanitized once more for the string table");
			continue;
		}
		cr_expect_str_eq(name, f->name);
		cr_expect_str_eq(string_at(prof, fn->filename), f->file ? f->file : "");
		cr_expect_eq(fn->start_line, f->line);
		cr_expect_eq(prof->location[i]->line[0]->line, f->line);
	}
	perftools__profiles__profile__free_unpacked(prof, NULL);
	uvs_profile_free(p);
}

Test(flame_pprof, samples_leaf_first_with_labels)
{
	struct uvs_profile *p = flame_fixture_profile();
	Profile *prof = decode(p);
	struct uvs_profile_entry e;
	const char *str;
	int64_t num, total = 0;
	size_t i, j;

	cr_assert_eq(prof->n_sample, FIXTURE_ENTRIES);
	for (i = 0; i < prof->n_sample; i++) {
		const Sample *s = prof->sample[i];

		uvs_profile_entry_at(p, i, &e);
		cr_assert_eq(s->n_value, 2);
		cr_expect_eq(s->value[0], (int64_t)e.count);
		cr_expect_eq(s->value[1], (int64_t)e.weight_ns);
		total += s->value[0];
		cr_assert_eq(s->n_location_id, e.nframes);
		for (j = 0; j < e.nframes; j++) {
			const char *want =
			    uvs_profile_frame_at(p, e.frames[e.nframes - 1 - j])->name;

			if (strcmp(want, FIXTURE_HOSTILE_NAME) != 0)
				cr_expect_str_eq(function_name_of(prof, s->location_id[j]), want);
		}
		cr_assert(label(prof, s, "tid", &str, &num));
		cr_expect_null(str);
		cr_expect_eq(num, e.labels.tid);
		cr_assert(label(prof, s, "role", &str, &num));
		cr_expect_str_eq(str, uvs_role_name(e.labels.role));
		cr_assert(label(prof, s, "state", &str, &num));
		cr_expect_str_eq(str, uvs_sample_state_name(e.labels.state));
		if (e.labels.phase == UVS_PHASE_NONE) {
			cr_expect_not(label(prof, s, "phase", &str, &num));
		} else {
			cr_assert(label(prof, s, "phase", &str, &num));
			cr_expect_str_eq(str, uvs_phase_name(e.labels.phase));
		}
	}
	cr_expect_eq(total, FIXTURE_TOTAL);
	/* The first sample, by hand: busyLoop is the leaf. */
	cr_expect_str_eq(function_name_of(prof, prof->sample[0]->location_id[0]), "busyLoop");
	cr_expect_str_eq(function_name_of(prof, prof->sample[0]->location_id[3]), "main loop");
	perftools__profiles__profile__free_unpacked(prof, NULL);
	uvs_profile_free(p);
}

/* ---- go tool pprof ------------------------------------------------------------------------- */

static uint64_t folded_total(const struct uvs_profile *p)
{
	size_t len;
	char *text = flame_render(UVS_FLAME_FOLDED, p, &info, &len), *line, *save;
	uint64_t total = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		total += strtoull(strrchr(line, ' ') + 1, NULL, 10);
	free(text);
	return total;
}

/* The output of `go tool pprof ARGS file`, run with a private HOME and GOCACHE in dir. */
static char *go_pprof(const char *dir, const char *args, const char *file)
{
	char cmd[8192], *out;
	FILE *pipe;

	snprintf(
	    cmd, sizeof(cmd),
	    "HOME='%s' GOCACHE='%s/gocache' GOFLAGS= GOTOOLCHAIN=local go tool pprof %s '%s' 2>&1",
	    dir, dir, args, file);
	pipe = popen(cmd, "r");
	cr_assert_not_null(pipe);
	out = flame_slurp(pipe);
	cr_assert_eq(pclose(pipe), 0, "%s failed:\n%s", cmd, out);
	return out;
}

Test(flame_pprof, read_back_by_go_tool_pprof)
{
	static const char *const names[] = {"busyLoop",	     "handleRequest",
					    "node::Start",   "__x64_sys_epoll_wait",
					    "[JS: unknown]", "main loop"};
	char dir[] = "/tmp/uvscope-pprof-XXXXXX", path[64], want[64], *raw, *top, *line, *save;
	struct uvs_profile *p = flame_fixture_profile();
	uint64_t folded = folded_total(p), raw_total = 0, count, weight;
	size_t len, i;
	char *gz;
	FILE *f;

	if (system("command -v go >/dev/null 2>&1") != 0) {
		fprintf(stderr,
			"SKIP flame_pprof::read_back_by_go_tool_pprof: no `go` on PATH "
			"(apt-get install golang-go): the pprof output is not checked by an "
			"independent decoder\n");
		uvs_profile_free(p);
		cr_skip_test("no go on PATH (golang-go): pprof not checked by go tool pprof");
	}
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
	gz = flame_render(UVS_FLAME_PPROF, p, &info, &len);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(gz, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	free(gz);

	top = go_pprof(dir, "-top -sample_index=samples", path);
	snprintf(want, sizeof(want), "of %" PRIu64 " total", folded);
	cr_expect_not_null(strstr(top, want),
			   "go tool pprof -top disagrees with the folded "
			   "total %" PRIu64 ":\n%s",
			   folded, top);

	/* -raw: one line "COUNT WEIGHT: LOCATIONS" per sample, then the locations by name. */
	raw = go_pprof(dir, "-raw", path);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_expect_not_null(strstr(raw, names[i]), "%s missing in -raw:\n%s", names[i], raw);
	cr_expect_not_null(strstr(raw, "tid:[100]"));
	cr_expect_not_null(strstr(raw, "phase:[timers]"));
	for (line = strtok_r(raw, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, " %" SCNu64 " %" SCNu64 ":", &count, &weight) == 2 &&
		    strchr(line, ':'))
			raw_total += count;
	cr_expect_eq(raw_total, folded, "the samples of -raw add up to %" PRIu64, raw_total);
	free(raw);
	free(top);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	cr_expect_eq(system(path), 0);
	uvs_profile_free(p);
}
