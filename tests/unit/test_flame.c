// SPDX-License-Identifier: MIT
/*
 * The flame writers on a hand-built profile (flame_fixture.h): folded stacks against a golden
 * file, the SVG parsed by libxml2 and checked against the profile's numbers, the format choice.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame_fixture.h"
#include "render/flame.h"
#include "render/flame_folded.h"
#include "render/flame_svg.h"

static char *read_golden(const char *name)
{
	const char *dir = getenv("GOLDEN");
	char path[4096], *buf;
	FILE *f;

	cr_assert_not_null(dir, "GOLDEN is not set (run the tests with make unit)");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	buf = flame_slurp(f);
	fclose(f);
	return buf;
}

Test(flame_folded, matches_golden)
{
	struct uvs_profile *p = flame_fixture_profile();
	char *got = flame_render(UVS_FLAME_FOLDED, p, NULL, NULL),
	     *want = read_golden("flame.folded");

	cr_expect_str_eq(got, want,
			 "folded output differs from tests/unit/golden/flame.folded:\n%s", got);
	free(got);
	free(want);
	uvs_profile_free(p);
}

/* Independent of the golden file: lines sorted and distinct, counts summing to the total. */
Test(flame_folded, sorted_merged_and_complete)
{
	struct uvs_profile *p = flame_fixture_profile();
	char *got = flame_render(UVS_FLAME_FOLDED, p, NULL, NULL), *line, *save, *prev = NULL;
	uint64_t total = 0, busy = 0;
	size_t lines = 0;

	for (line = strtok_r(got, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *space = strrchr(line, ' ');

		cr_assert_not_null(space);
		*space = '\0';
		total += strtoull(space + 1, NULL, 10);
		if (strstr(line, "busyLoop"))
			busy += strtoull(space + 1, NULL, 10);
		if (prev)
			cr_expect_lt(strcmp(prev, line), 0, "not sorted or not merged: %s", line);
		prev = line;
		lines++;
	}
	cr_expect_eq(lines, FIXTURE_FOLDED_LINES);
	cr_expect_eq(total, FIXTURE_TOTAL);
	cr_expect_eq(total, uvs_profile_total_samples(p));
	cr_expect_eq(busy, FIXTURE_BUSY_SAMPLES, "one line for one stack under two label sets");
	free(got);
	uvs_profile_free(p);
}

Test(flame_folded, hostile_names_cannot_break_lines)
{
	struct uvs_profile *p = flame_fixture_profile();
	char *got = flame_render(UVS_FLAME_FOLDED, p, NULL, NULL);

	/* ';' is the separator: the one in the name and the one in the file became ':'. */
	cr_expect_not_null(strstr(got, ";evil<script>&\"': ? x??\xce\xbb\xc3\xa9 "
				       "/app/lib/hostile.js:7_[j];"));
	cr_expect_not_null(strstr(got, ";(anonymous) /app/lib/a:b.js:3_[j] 2\n"));
	cr_expect_not_null(strstr(got, ";do_syscall_64_[k];__x64_sys_epoll_wait_[k] 20020\n"));
	free(got);
	uvs_profile_free(p);
}

Test(flame, empty_profile)
{
	struct uvs_profile *p = uvs_profile_new(1000);
	char *got = flame_render(UVS_FLAME_FOLDED, p, NULL, NULL);
	xmlDocPtr doc;
	size_t len;

	cr_expect_str_eq(got, "");
	free(got);
	got = flame_render(UVS_FLAME_SVG, p, NULL, &len);
	doc = xmlReadMemory(got, (int)len, "empty.svg", NULL, XML_PARSE_NONET);
	cr_expect_not_null(doc, "the SVG of an empty profile is not XML");
	xmlFreeDoc(doc);
	cr_expect_not_null(strstr(got, "(0 samples)"));
	free(got);
	uvs_profile_free(p);
}

Test(flame, write_errors_are_reported)
{
	struct uvs_profile *p = flame_fixture_profile();
	FILE *ro = fopen("/dev/null", "r");

	cr_assert_not_null(ro);
	/* The cause, as stdio left it (not a bare EIO): a stream not open for writing. */
	cr_expect_eq(uvs_flame_write(ro, UVS_FLAME_FOLDED, p, NULL), -EBADF);
	cr_expect_eq(uvs_flame_write(ro, UVS_FLAME_SVG, p, NULL), -EBADF);
	cr_expect_eq(uvs_flame_write(ro, UVS_FLAME_PPROF, p, NULL), -EBADF);
	cr_expect_eq(uvs_flame_write(ro, UVS_FLAME_UNKNOWN, p, NULL), -EINVAL);
	fclose(ro);
	uvs_profile_free(p);
}

Test(flame, format_from_path_and_name)
{
	cr_expect_eq(uvs_flame_format_from_path("out.folded"), UVS_FLAME_FOLDED);
	cr_expect_eq(uvs_flame_format_from_path("out.txt"), UVS_FLAME_FOLDED);
	cr_expect_eq(uvs_flame_format_from_path("/tmp/loop.SVG"), UVS_FLAME_SVG);
	cr_expect_eq(uvs_flame_format_from_path("cpu.pb.gz"), UVS_FLAME_PPROF);
	cr_expect_eq(uvs_flame_format_from_path("cpu.pprof"), UVS_FLAME_PPROF);
	cr_expect_eq(uvs_flame_format_from_path("cpu.gz"), UVS_FLAME_UNKNOWN);
	cr_expect_eq(uvs_flame_format_from_path("svg"), UVS_FLAME_UNKNOWN);
	cr_expect_eq(uvs_flame_format_from_path(""), UVS_FLAME_UNKNOWN);
	cr_expect_eq(uvs_flame_format_from_name("folded"), UVS_FLAME_FOLDED);
	cr_expect_eq(uvs_flame_format_from_name("svg"), UVS_FLAME_SVG);
	cr_expect_eq(uvs_flame_format_from_name("pprof"), UVS_FLAME_PPROF);
	cr_expect_eq(uvs_flame_format_from_name("html"), UVS_FLAME_UNKNOWN);
}

/* ---- SVG ----------------------------------------------------------------------------------- */

/* One drawn frame, as the SVG carries it. */
struct box {
	char *title; /* "name (N samples, X%)", unescaped by the parser */
	uint64_t s, n;
	unsigned int d;
	double x, w;
};

struct svg {
	xmlDocPtr doc;
	char *root_title;
	struct box boxes[64];
	size_t nboxes;
	size_t scripts, external_refs;
};

static uint64_t attr_u64(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	uint64_t r;

	cr_assert_not_null(v, "a frame without %s", name);
	r = strtoull((const char *)v, NULL, 10);
	xmlFree(v);
	return r;
}

static double attr_double(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	double r;

	cr_assert_not_null(v);
	r = strtod((const char *)v, NULL);
	xmlFree(v);
	return r;
}

static bool named(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static void read_box(struct svg *s, xmlNodePtr g)
{
	struct box *b = &s->boxes[s->nboxes++];
	xmlNodePtr c;

	cr_assert_leq(s->nboxes, sizeof(s->boxes) / sizeof(s->boxes[0]));
	b->s = attr_u64(g, "data-s");
	b->n = attr_u64(g, "data-n");
	b->d = (unsigned int)attr_u64(g, "data-d");
	for (c = g->children; c; c = c->next) {
		if (named(c, "title"))
			b->title = (char *)xmlNodeGetContent(c);
		if (named(c, "rect")) {
			b->x = attr_double(c, "x");
			b->w = attr_double(c, "width");
		}
	}
	cr_assert_not_null(b->title);
}

/* Walks the document: frames, the root's title, scripts, and anything that loads from outside. */
static void walk(struct svg *s, xmlNodePtr n)
{
	xmlAttrPtr a;

	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (named(n, "g") && xmlHasProp(n, (const xmlChar *)"data-s"))
			read_box(s, n);
		if (named(n, "title") && n->parent == xmlDocGetRootElement(s->doc))
			s->root_title = (char *)xmlNodeGetContent(n);
		if (named(n, "script"))
			s->scripts++;
		for (a = n->properties; a; a = a->next)
			if (strcmp((const char *)a->name, "href") == 0 ||
			    strcmp((const char *)a->name, "src") == 0)
				s->external_refs++;
		walk(s, n->children);
	}
}

static void parse_svg(struct svg *s, const struct uvs_profile *p, const char *title)
{
	struct uvs_flame_info info = {.title = title};
	size_t len;
	char *text = flame_render(UVS_FLAME_SVG, p, &info, &len);

	memset(s, 0, sizeof(*s));
	s->doc = xmlReadMemory(text, (int)len, "flame.svg", NULL, XML_PARSE_NONET);
	cr_assert_not_null(s->doc, "the SVG is not well-formed XML");
	walk(s, xmlDocGetRootElement(s->doc));
	free(text);
}

static void free_svg(struct svg *s)
{
	size_t i;

	for (i = 0; i < s->nboxes; i++)
		xmlFree(s->boxes[i].title);
	xmlFree(s->root_title);
	xmlFreeDoc(s->doc);
}

/* The first box whose title names this frame text and, unless 0, has `samples`; or NULL. */
static const struct box *find_box_n(const struct svg *s, const char *text, uint64_t samples)
{
	size_t i, n = strlen(text);

	for (i = 0; i < s->nboxes; i++)
		if (strncmp(s->boxes[i].title, text, n) == 0 &&
		    strncmp(s->boxes[i].title + n, " (", 2) == 0 &&
		    (!samples || s->boxes[i].n == samples))
			return &s->boxes[i];
	return NULL;
}

static const struct box *find_box(const struct svg *s, const char *text)
{
	return find_box_n(s, text, 0);
}

Test(flame_svg, well_formed_with_every_name)
{
	static const char *const drawn[] = {
	    "all",
	    "main loop",
	    "timers",
	    "poll_io",
	    "handleRequest /app/server.js:40",
	    "busyLoop /app/server.js:12",
	    "(anonymous) /app/lib/a;b.js:3",
	    FIXTURE_HOSTILE_TEXT,
	    "Builtin: ArrayForEach",
	    "node::Start(int, char**)",
	    "uv_run",
	    "do_syscall_64",
	    "__x64_sys_epoll_wait",
	    "memcpy",
	};
	static const char *const omitted[] = FIXTURE_SVG_OMITTED;
	struct uvs_profile *p = flame_fixture_profile();
	struct svg s;
	char want[128];
	size_t i;

	parse_svg(&s, p, "pid 4242 <cpu> & \"more\"");
	snprintf(want, sizeof(want), "pid 4242 <cpu> & \"more\" (%d samples)", FIXTURE_TOTAL);
	cr_expect_str_eq(s.root_title, want);
	cr_expect_eq(s.scripts, 1);
	cr_expect_eq(s.external_refs, 0, "the SVG must be self-contained");
	for (i = 0; i < sizeof(drawn) / sizeof(drawn[0]); i++)
		cr_expect_not_null(find_box(&s, drawn[i]), "no frame \"%s\"", drawn[i]);
	for (i = 0; i < sizeof(omitted) / sizeof(omitted[0]); i++)
		cr_expect_null(find_box(&s, omitted[i]), "\"%s\" is too narrow to draw",
			       omitted[i]);
	/* handleRequest twice: under timers and under poll_io. */
	cr_expect_eq(s.nboxes, sizeof(drawn) / sizeof(drawn[0]) + 1);
	free_svg(&s);
	uvs_profile_free(p);
}

Test(flame_svg, boxes_have_the_profile_numbers)
{
	struct uvs_profile *p = flame_fixture_profile();
	const struct box *all, *busy, *handle, *memcpy_box;
	struct svg s;
	uint64_t depth1 = 0;
	size_t i, j;

	parse_svg(&s, p, NULL);
	all = find_box(&s, "all");
	busy = find_box(&s, "busyLoop /app/server.js:12");
	handle = find_box_n(&s, "handleRequest /app/server.js:40", FIXTURE_BUSY_SAMPLES + 1);
	memcpy_box = find_box(&s, "memcpy");
	cr_assert(all && busy && handle && memcpy_box);
	cr_expect_eq(all->n, FIXTURE_TOTAL);
	cr_expect_eq(busy->n, FIXTURE_BUSY_SAMPLES);
	/* handle was found by its width: tinyFn's sample counts in its parent. */
	cr_expect_eq(handle->d, 3);
	cr_expect_eq(memcpy_box->n, 7, "memcpy of libc and of node read the same: one frame");
	cr_expect_eq(busy->d, 4);
	cr_expect_str_eq(busy->title, "busyLoop /app/server.js:12 (57 samples, 0.28%)");

	for (i = 0; i < s.nboxes; i++) {
		const struct box *b = &s.boxes[i];
		bool has_parent = b->d == 0;

		if (b->d == 1)
			depth1 += b->n;
		cr_expect_geq(b->x, 10 - 0.01);
		cr_expect_leq(b->x + b->w, UVS_FLAME_SVG_WIDTH - 10 + 0.01);
		cr_expect_float_eq(b->w, (double)b->n * (UVS_FLAME_SVG_WIDTH - 20) / FIXTURE_TOTAL,
				   0.01);
		/* Every frame sits on one below it that spans it. */
		for (j = 0; j < s.nboxes; j++)
			if (s.boxes[j].d + 1 == b->d && s.boxes[j].s <= b->s &&
			    s.boxes[j].s + s.boxes[j].n >= b->s + b->n)
				has_parent = true;
		cr_expect(has_parent, "\"%s\" floats", b->title);
	}
	cr_expect_eq(depth1 + 1, FIXTURE_TOTAL, "the roots, with the 1 sample of [unknown]");
	free_svg(&s);
	uvs_profile_free(p);
}

Test(flame_svg, labels_are_cut_to_fit)
{
	struct uvs_profile *p = uvs_profile_new(1000);
	struct uvs_frame wide = {UVS_FRAME_NATIVE, "a_function_with_a_rather_long_name", NULL, 0};
	struct uvs_frame narrow = {UVS_FRAME_JS,
				   "\xce\xbb\xce\xbb\xce\xbb\xce\xbb\xce\xbb\xce\xbb"
				   "\xce\xbb\xce\xbb\xce\xbb\xce\xbb",
				   NULL, 0};
	struct uvs_sample_labels l = {1, UVS_ROLE_MAIN, UVS_STATE_CPU, UVS_PHASE_NONE};
	int32_t a = uvs_profile_frame(p, &wide), b = uvs_profile_frame(p, &narrow);
	size_t len;
	char *svg;

	/* 9 of 100 samples: 106 px, 14 characters of 7.22 px; the other 91 a long bar. */
	cr_assert_eq(uvs_profile_add(p, &a, 1, &l, 91, 0), 0);
	cr_assert_eq(uvs_profile_add(p, &b, 1, &l, 9, 0), 0);
	svg = flame_render(UVS_FLAME_SVG, p, NULL, &len);
	cr_expect_not_null(strstr(svg, ">a_function_with_a_rather_long_name</text>"));
	/* 12 lambdas, then "..": characters, not bytes, and never half of one. */
	cr_expect_not_null(strstr(svg, ">\xce\xbb\xce\xbb\xce\xbb\xce\xbb\xce\xbb\xce\xbb"
				       "\xce\xbb\xce\xbb\xce\xbb\xce\xbb</text>"),
			   "10 lambdas fit 14 characters: not cut");
	free(svg);
	uvs_profile_free(p);
}
