// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/symbols/perf_map.c: the line format, a file that grows mid-line,
 * overlapping ranges (the later line wins), garbage and overlong lines, the bounds, and the
 * incremental read of a real file. The overlap logic is also checked against the obvious
 * model (scan every line, keep the last that covers the address) on random maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "symbols/perf_map.h"
#include "target/container.h"

static void feed_str(struct uvs_perf_map *m, const char *s)
{
	uvs_perf_map_feed(m, s, strlen(s));
}

static const char *name_at(const struct uvs_perf_map *m, uint64_t addr)
{
	const char *name;

	return uvs_perf_map_lookup(m, addr, &name, NULL) ? NULL : name;
}

Test(perf_map, parses_lines_and_finds_ranges)
{
	struct uvs_perf_map *m = uvs_perf_map_new();
	struct uvs_perf_map_stats st;
	uint64_t start;
	const char *name;

	feed_str(m, "3a4b5c000 40 JS:*hot /app/x.js:3:10\n"
		    "0x3a4b5d000 10 LazyCompile:~cold /app/y.js:1\r\n"
		    "3A4B5E000 8 Stub:CEntry\n");
	cr_expect_null(name_at(m, 0x3a4b5c000), "nothing before the commit");
	cr_assert_eq(uvs_perf_map_commit(m), 0);
	cr_assert_eq(uvs_perf_map_lookup(m, 0x3a4b5c03f, &name, &start), 0);
	cr_expect_str_eq(name, "JS:*hot /app/x.js:3:10");
	cr_expect_eq(start, 0x3a4b5c000);
	cr_expect_null(name_at(m, 0x3a4b5c040), "end is exclusive");
	cr_expect_null(name_at(m, 0x3a4b5bfff));
	cr_expect_str_eq(name_at(m, 0x3a4b5d000), "LazyCompile:~cold /app/y.js:1");
	cr_expect_str_eq(name_at(m, 0x3a4b5e007), "Stub:CEntry");
	uvs_perf_map_stats(m, &st);
	cr_expect_eq(st.lines, 3);
	cr_expect_eq(st.entries, 3);
	cr_expect_eq(st.bad_lines, 0);
	uvs_perf_map_free(m);
}

Test(perf_map, a_line_split_across_reads_waits_for_its_end)
{
	struct uvs_perf_map *m = uvs_perf_map_new();

	feed_str(m, "1000 100 first\n2000 1");
	cr_assert_eq(uvs_perf_map_commit(m), 0);
	cr_expect_str_eq(name_at(m, 0x1000), "first");
	cr_expect_null(name_at(m, 0x2000));
	feed_str(m, "00 sec");
	uvs_perf_map_commit(m);
	cr_expect_null(name_at(m, 0x2000), "still no newline");
	feed_str(m, "ond\n");
	uvs_perf_map_commit(m);
	cr_expect_str_eq(name_at(m, 0x20ff), "second", "size 0x100, not 0x1");
	uvs_perf_map_free(m);
}

Test(perf_map, later_lines_win_where_ranges_overlap)
{
	struct uvs_perf_map *m = uvs_perf_map_new();
	const char *old;

	feed_str(m, "1000 1000 old\n");
	uvs_perf_map_commit(m);
	old = name_at(m, 0x1000);
	feed_str(m, "1800 100 new\n");
	uvs_perf_map_commit(m);
	cr_expect_str_eq(name_at(m, 0x17ff), "old");
	cr_expect_str_eq(name_at(m, 0x1800), "new");
	cr_expect_str_eq(name_at(m, 0x18ff), "new");
	cr_expect_str_eq(name_at(m, 0x1900), "old");
	cr_expect_str_eq(name_at(m, 0x1fff), "old");
	/* In one batch too, and a range that covers all before it. */
	feed_str(m, "1900 10 a\n1000 2000 all\n1fff 2 b\n");
	uvs_perf_map_commit(m);
	cr_expect_str_eq(name_at(m, 0x1000), "all");
	cr_expect_str_eq(name_at(m, 0x1905), "all");
	cr_expect_str_eq(name_at(m, 0x1ffe), "all");
	cr_expect_str_eq(name_at(m, 0x1fff), "b");
	cr_expect_str_eq(name_at(m, 0x2000), "b");
	cr_expect_str_eq(name_at(m, 0x2001), "all");
	cr_expect_null(name_at(m, 0x3000));
	/* Names handed out earlier stay valid. */
	cr_expect_str_eq(old, "old");
	uvs_perf_map_free(m);
}

Test(perf_map, garbage_lines_are_skipped)
{
	struct uvs_perf_map *m = uvs_perf_map_new();
	struct uvs_perf_map_stats st;
	/* An array, not a string: the NUL inside a line is part of the input. */
	static const char text[] = "zzz\n"
		    "1000\n"
		    "1000 10\n"
		    "1000 10 \n"
		    "1000 0 zero-size\n"
		    "ffffffffffffffff 10 wraps\n"
		    "12345678901234567 1 seventeen-digits\n"
		    "-1000 10 negative\n"
		    "1000  10 two-spaces\n"
		    "\n"
		    "10 1 nul\0inside\n"
		    "5000 10 good \x1b[31mred\n";

	uvs_perf_map_feed(m, text, sizeof(text) - 1);
	uvs_perf_map_commit(m);
	uvs_perf_map_stats(m, &st);
	cr_expect_eq(st.lines, 1);
	cr_expect_eq(st.bad_lines, 11);
	cr_expect_null(name_at(m, 0x1000));
	cr_expect_str_eq(name_at(m, 0x5000), "good ?[31mred", "sanitized");
	uvs_perf_map_free(m);
}

Test(perf_map, overlong_lines_are_skipped_whole)
{
	struct uvs_perf_map *m = uvs_perf_map_new();
	struct uvs_perf_map_stats st;
	char *big = malloc(3 * UVS_PERF_MAP_MAX_LINE);
	size_t i;

	cr_assert(big);
	memset(big, 'a', 3 * UVS_PERF_MAP_MAX_LINE);
	memcpy(big, "7000 10 ", 8);
	/* The long line arrives in pieces; the line after it must parse from its start. */
	for (i = 0; i < 3; i++)
		uvs_perf_map_feed(m, big + i * UVS_PERF_MAP_MAX_LINE, UVS_PERF_MAP_MAX_LINE);
	feed_str(m, "tail-of-the-long-one\n8000 10 after\n");
	uvs_perf_map_commit(m);
	uvs_perf_map_stats(m, &st);
	cr_expect_eq(st.bad_lines, 1);
	cr_expect_null(name_at(m, 0x7000));
	cr_expect_str_eq(name_at(m, 0x8000), "after");
	/* Just under the bound is fine. */
	memset(big, 'b', UVS_PERF_MAP_MAX_LINE);
	memcpy(big, "9000 10 ", 8);
	big[UVS_PERF_MAP_MAX_LINE - 2] = '\n';
	uvs_perf_map_feed(m, big, UVS_PERF_MAP_MAX_LINE - 1);
	uvs_perf_map_commit(m);
	cr_expect_not_null(name_at(m, 0x9000));
	cr_expect_eq(strlen(name_at(m, 0x9000)), UVS_PERF_MAP_MAX_LINE - 2 - 8);
	free(big);
	uvs_perf_map_free(m);
}

/* The model: the last line (in file order) whose range holds addr. */
struct line {
	uint64_t start, size;
	char name[16];
};

static const char *model(const struct line *v, size_t n, uint64_t addr)
{
	size_t i;

	for (i = n; i-- > 0;) {
		if (addr >= v[i].start && addr - v[i].start < v[i].size)
			return v[i].name;
	}
	return NULL;
}

Test(perf_map, agrees_with_the_model_on_random_overlapping_maps)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int round;

	for (round = 0; round < 20; round++) {
		struct uvs_perf_map *m = uvs_perf_map_new();
		struct line v[300];
		size_t n = 0, fed = 0, i;
		char text[64];

		while (n < 300) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			v[n].start = 0x10000 + (x % 0x4000);
			v[n].size = 1 + (x >> 20) % (round % 2 ? 0x800 : 0x40);
			snprintf(v[n].name, sizeof(v[n].name), "f%zu", n);
			n++;
			/* Commit after random batches: table and pending lines merge each time. */
			if (x % 7 == 0 || n == 300) {
				for (; fed < n; fed++) {
					snprintf(text, sizeof(text), "%llx %llx %s\n",
						 (unsigned long long)v[fed].start,
						 (unsigned long long)v[fed].size, v[fed].name);
					feed_str(m, text);
				}
				cr_assert_eq(uvs_perf_map_commit(m), 0);
				for (i = 0x10000 - 2; i < 0x14900; i += 1 + (round % 3)) {
					const char *want = model(v, fed, i), *got = name_at(m, i);

					cr_assert((!want && !got) || (want && got && !strcmp(want, got)),
						  "round %d, 0x%zx: model %s, map %s", round, i,
						  want ? want : "-", got ? got : "-");
				}
			}
		}
		uvs_perf_map_free(m);
	}
}

Test(perf_map, reads_the_file_of_a_process_incrementally)
{
	struct uvs_perf_map *m = uvs_perf_map_new();
	struct uvs_perf_map_stats st;
	char path[64];
	FILE *f;

	cr_expect_eq(uvs_nspid(getpid()), getpid(), "the tests run in the initial pid namespace");
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	unlink(path);
	cr_expect_eq(uvs_perf_map_refresh(m, getpid()), -ENOENT);
	f = fopen(path, "w");
	cr_assert(f);
	fputs("1000 10 one\n2000 10 tw", f);
	fflush(f);
	cr_assert_eq(uvs_perf_map_refresh(m, getpid()), 0);
	cr_expect_str_eq(name_at(m, 0x1000), "one");
	cr_expect_null(name_at(m, 0x2000));
	fputs("o\n1000 10 one-again\n", f);
	fflush(f);
	cr_assert_eq(uvs_perf_map_refresh(m, getpid()), 0);
	cr_expect_str_eq(name_at(m, 0x2000), "two");
	cr_expect_str_eq(name_at(m, 0x1000), "one-again");
	uvs_perf_map_stats(m, &st);
	cr_expect_eq(st.lines, 3, "no line read twice");
	cr_expect_eq(st.bytes_read, (uint64_t)ftell(f));
	fclose(f);
	/* A new file (a new process with the same pid): read from its start. */
	unlink(path);
	f = fopen(path, "w");
	cr_assert(f);
	fputs("3000 10 three\n", f);
	fclose(f);
	cr_assert_eq(uvs_perf_map_refresh(m, getpid()), 0);
	cr_expect_str_eq(name_at(m, 0x3000), "three");
	cr_expect_null(name_at(m, 0x1000));
	unlink(path);
	uvs_perf_map_free(m);
}
