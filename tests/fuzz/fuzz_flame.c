// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the flame writers (agent/render/flame*.h) on profiles whose names are
 * anything a target could hold. Input: a first byte n (1 + n % 16 frames), then n names
 * separated by NUL (the first byte of each picks its kind), then stacks: bytes that pick
 * frames, a 0xff ending each stack. Every format is written and read back: folded lines stay
 * one per stack and sum to the total, the SVG parses as XML (libxml2), the pprof file gunzips
 * and unpacks (protobuf-c) with one sample per entry and every string valid UTF-8.
 */
#include <libxml/parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/profile.h"
#include "proto/profile.pb-c.h"
#include "render/flame.h"
#include "util/text.h"

#define MAX_FRAMES 16

static char *render(enum uvs_flame_format fmt, const struct uvs_profile *p, size_t *len)
{
	struct uvs_flame_info info = {.title = "fuzz"};
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	if (uvs_flame_write(f, fmt, p, &info))
		abort();
	fclose(f);
	return buf;
}

static void check_folded(const struct uvs_profile *p)
{
	size_t len, lines = 0;
	char *text = render(UVS_FLAME_FOLDED, p, &len), *line, *save, *space;
	uint64_t total = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		space = strrchr(line, ' ');
		if (!space || !space[1] || strspn(space + 1, "0123456789") != strlen(space + 1))
			abort();
		total += strtoull(space + 1, NULL, 10);
		lines++;
	}
	if (total != uvs_profile_total_samples(p) || lines > uvs_profile_nentries(p))
		abort();
	free(text);
}

static void check_svg(const struct uvs_profile *p)
{
	size_t len;
	char *text = render(UVS_FLAME_SVG, p, &len);
	xmlDocPtr doc = xmlReadMemory(text, (int)len, "fuzz.svg", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

	if (!doc)
		abort();
	xmlFreeDoc(doc);
	free(text);
}

static bool valid_utf8(const char *s)
{
	size_t left = strlen(s), n;

	for (; left; s += n, left -= n) {
		n = (unsigned char)*s < 0x80 ? 1 : uvs_utf8_len((const unsigned char *)s, left);
		if (!n || (unsigned char)*s < 0x20)
			return false;
	}
	return true;
}

static void check_pprof(const struct uvs_profile *p)
{
	size_t len, cap = 1 << 20, i;
	char *gz = render(UVS_FLAME_PPROF, p, &len);
	uint8_t *raw = malloc(cap);
	z_stream z = {0};
	Perftools__Profiles__Profile *prof;

	if (!raw || inflateInit2(&z, 15 + 16) != Z_OK)
		abort();
	z.next_in = (Bytef *)gz;
	z.avail_in = (uInt)len;
	z.next_out = raw;
	z.avail_out = (uInt)cap;
	if (inflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	prof = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
	if (!prof || prof->n_sample != uvs_profile_nentries(p) || prof->n_string_table < 1 ||
	    prof->string_table[0][0])
		abort();
	for (i = 0; i < prof->n_string_table; i++)
		if (!valid_utf8(prof->string_table[i]))
			abort();
	perftools__profiles__profile__free_unpacked(prof, NULL);
	inflateEnd(&z);
	free(raw);
	free(gz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uvs_sample_labels l = {1, UVS_ROLE_MAIN, UVS_STATE_LOOP_BUSY, UVS_PHASE_TIMERS};
	struct uvs_profile *p = uvs_profile_new(1000);
	char *copy = malloc(size + 1), *name, *end;
	int32_t ids[MAX_FRAMES], stack[64];
	size_t nframes, i, n = 0;

	if (!p || !copy || size < 2)
		goto out;
	memcpy(copy, data, size);
	copy[size] = '\0';
	nframes = 1 + (uint8_t)copy[0] % MAX_FRAMES;
	name = copy + 1;
	end = copy + size;
	for (i = 0; i < nframes; i++) {
		struct uvs_frame f = {UVS_FRAME_NATIVE + (uint8_t)name[0] % 7, name,
				      i % 2 ? name : NULL, (uint32_t)i};

		ids[i] = uvs_profile_frame(p, &f);
		if (ids[i] < 0)
			abort();
		name += strlen(name);
		if (name < end)
			name++; /* past its NUL */
	}
	for (; name < end; name++) {
		if ((uint8_t)*name != 0xff && n < sizeof(stack) / sizeof(stack[0])) {
			stack[n++] = ids[(uint8_t)*name % nframes];
			continue;
		}
		l.tid = (int)n;
		if (n && uvs_profile_add(p, stack, n, &l, 1 + n % 3, 1000))
			abort();
		n = 0;
	}
	check_folded(p);
	check_svg(p);
	check_pprof(p);
out:
	free(copy);
	uvs_profile_free(p);
	return 0;
}
