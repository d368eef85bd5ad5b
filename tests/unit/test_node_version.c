// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/target/node_version.c.
 *
 * The reference for real builds is the binary itself: `NODE --version`, run here. The fake-node
 * fixture (tests/fixtures/elf/fake_node.c) carries "node.js/v1.2.3-rc.1" with room behind it;
 * other versions are written into scratch copies of it, and the test finds the marker in the
 * file with its own memmem, not with the code under test.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "target/node_version.h"
#include "fixture_files.h"

#define NODE_PATH "/usr/bin/node"
#define MARKER "node.js/v"
/* Bytes of fake_node.c's array behind the "v" of the marker. */
#define ROOM 80

/* What `bin --version` prints, without the newline. */
static void node_says(const char *bin, char *out, size_t cap)
{
	char cmd[4200];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' --version", bin);
	p = popen(cmd, "r");
	cr_assert(p, "popen %s: %s", cmd, strerror(errno));
	cr_assert(fgets(out, cap, p), "%s printed nothing", cmd);
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
	out[strcspn(out, "\n")] = '\0';
}

/* Reads path's version and checks it against what path itself says. */
static void check_real_node(const char *path)
{
	char want[128], got[UVS_NODE_VERSION_MAX];
	struct uvs_elf *e = uvs_elf_open(path);
	struct timespec t0, t1;
	int err;

	cr_assert(e, "uvs_elf_open(%s): %s", path, strerror(errno));
	node_says(path, want, sizeof(want));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = uvs_node_version_read(e, got, sizeof(got));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(err, 0, "%s: %s", path, strerror(-err));
	cr_expect_str_eq(got, want, "%s", path);
	cr_log_info("%s: %s in %.2f ms", path, got,
		    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	uvs_elf_close(e);
}

Test(node_version, usr_bin_node)
{
	if (access(NODE_PATH, X_OK))
		cr_skip_test(NODE_PATH " is not here: no real-world check");
	check_real_node(NODE_PATH);
}

/* Every build scripts/fetch-node.sh left in .output/node (next to $FIXTURES); none is fine. */
Test(node_version, fetched_official_builds)
{
	char pattern[4200];
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), "%s/../node/*/bin/node", fx(""));
	if (glob(pattern, 0, NULL, &g) || !g.gl_pathc) {
		globfree(&g);
		cr_skip_test("no builds in .output/node (scripts/fetch-node.sh VERSION)");
	}
	for (i = 0; i < g.gl_pathc; i++)
		check_real_node(g.gl_pathv[i]);
	globfree(&g);
}

/* Other chunk sizes than the 1 MiB of uvs_node_version_read() find the same version. */
Test(node_version, usr_bin_node_in_small_chunks)
{
	static const size_t chunks[] = { 4096, 65536 + 3, 1000003 };
	char want[UVS_NODE_VERSION_MAX], got[UVS_NODE_VERSION_MAX];
	uint64_t off, size;
	struct uvs_elf *e;
	size_t i;

	if (access(NODE_PATH, R_OK))
		cr_skip_test(NODE_PATH " is not here");
	e = uvs_elf_open(NODE_PATH);
	cr_assert(e);
	cr_assert_eq(uvs_node_version_read(e, want, sizeof(want)), 0);
	cr_assert_eq(uvs_elf_section_range(e, ".rodata", &off, &size), 0);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		cr_expect_eq(uvs_node_version_scan(e, off, size, chunks[i], got, sizeof(got)), 0);
		cr_expect_str_eq(got, want, "chunk %zu", chunks[i]);
	}
	uvs_elf_close(e);
}

Test(node_version, fake_node)
{
	struct uvs_elf *e = uvs_elf_open(fx("fake-node"));
	char got[UVS_NODE_VERSION_MAX];

	cr_assert(e, "%s", strerror(errno));
	cr_assert_eq(uvs_node_version_read(e, got, sizeof(got)), 0);
	cr_expect_str_eq(got, "v1.2.3-rc.1");
	/* "v1.2.3-rc.1" and its NUL: 12 bytes. */
	cr_expect_eq(uvs_node_version_read(e, got, 12), 0);
	cr_expect_eq(uvs_node_version_read(e, got, 11), -ENOSPC);
	cr_expect_eq(uvs_node_version_read(e, got, 0), -EINVAL);
	cr_expect_eq(uvs_node_version_read(e, NULL, 12), -EINVAL);
	cr_expect_eq(uvs_node_version_read(NULL, got, sizeof(got)), -EINVAL);
	cr_expect_eq(uvs_node_version_scan(e, 0, 100, 0, got, sizeof(got)), -EINVAL);
	cr_expect_eq(uvs_node_version_scan(e, UINT64_MAX - 10, 100, 16, got, sizeof(got)),
		     -EINVAL);
	cr_expect_eq(uvs_node_version_scan(e, 1ull << 40, 100, 16, got, sizeof(got)), -ERANGE);
	uvs_elf_close(e);
}

Test(node_version, objects_without_a_marker)
{
	static const char *const fixtures[] = { "nopie", "pie", "stripped", "libfixture.so" };
	char got[UVS_NODE_VERSION_MAX];
	size_t i;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		struct uvs_elf *e = uvs_elf_open(fx(fixtures[i]));

		cr_assert(e, "%s: %s", fixtures[i], strerror(errno));
		cr_expect_eq(uvs_node_version_read(e, got, sizeof(got)), -ENOENT, "%s",
			     fixtures[i]);
		uvs_elf_close(e);
	}
}

/* Where the marker's "v" is in the fake-node image. */
static size_t version_at(const uint8_t *img, size_t len)
{
	const uint8_t *m = memmem(img, len, MARKER, strlen(MARKER));

	cr_assert(m, "no " MARKER " in fake-node");
	cr_assert(!memmem(m + 1, len - (m + 1 - img), MARKER, strlen(MARKER)),
		  "two markers in fake-node");
	return m - img + strlen(MARKER) - 1;
}

/* The version uvs_node_version_read() finds once img holds text (n bytes) at the marker's "v". */
static int read_patched(int fd, uint8_t *img, size_t len, const char *text, size_t n,
			char *got, size_t cap)
{
	size_t at = version_at(img, len);
	struct uvs_elf *e;
	uint8_t saved[ROOM];
	int err;

	cr_assert(n <= ROOM);
	memcpy(saved, img + at, ROOM);
	memset(img + at, 0, ROOM);
	memcpy(img + at, text, n);
	e = open_bytes(fd, img, len);
	cr_assert(e, "%s", strerror(errno));
	err = uvs_node_version_read(e, got, cap);
	uvs_elf_close(e);
	memcpy(img + at, saved, ROOM);
	return err;
}

Test(node_version, versions_are_validated)
{
	static const struct {
		const char *text; /* written at the "v", then NULs */
		const char *want; /* NULL: rejected */
	} cases[] = {
		{ "v0.0.0", "v0.0.0" },
		{ "v26.0.0-pre", "v26.0.0-pre" },
		{ "v22.0.0-rc.1", "v22.0.0-rc.1" },
		{ "v23.0.0-v8-canary20240710a1b2c3d4e5", "v23.0.0-v8-canary20240710a1b2c3d4e5" },
		{ "v24.0.0-nightly20240424.A.9", "v24.0.0-nightly20240424.A.9" },
		{ "v1.2", NULL },
		{ "v1.2.", NULL },
		{ "v1.2.3.4", NULL },
		{ "v1..2.3", NULL },
		{ "v.1.2.3", NULL },
		{ "vv1.2.3", NULL },
		{ "v-1.2.3", NULL },
		{ "v", NULL },
		{ "", NULL },
		{ "v01.2.3", NULL },
		{ "v1.02.3", NULL },
		{ "v1.2.03", NULL },
		{ "v1.2.3-", NULL },
		{ "v1.2.3-.a", NULL },
		{ "v1.2.3-a.", NULL },
		{ "v1.2.3-a..b", NULL },
		{ "v1.2.3-rc_1", NULL },
		{ "v1.2.3+build.5", NULL },
		{ "v1.2.3 ", NULL },
		{ "v1.2.3\n", NULL },
		{ "v1.2.3x", NULL },
		{ "V1.2.3", NULL },
		{ "v1.2.3-r\xc3\xa9", NULL },
		/* Node 24 also has a copy with no NUL after it: the next literal runs on. */
		{ "v24.22.3Protocol-Version", NULL },
		/* A bad version, then a marker inside it: the second one counts. */
		{ "v1.2node.js/v4.5.6", "v4.5.6" },
		{ "vnode.js/v4.5.6-x", "v4.5.6-x" },
	};
	char got[UVS_NODE_VERSION_MAX];
	size_t len, i;
	uint8_t *img = slurp(fx("fake-node"), &len);
	int fd = scratch_fd(), err;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = read_patched(fd, img, len, cases[i].text, strlen(cases[i].text), got,
				   sizeof(got));
		if (!cases[i].want) {
			cr_expect_eq(err, -ENOENT, "\"%s\" accepted as %s", cases[i].text, got);
			continue;
		}
		cr_expect_eq(err, 0, "\"%s\": %d", cases[i].text, err);
		if (!err)
			cr_expect_str_eq(got, cases[i].want);
	}
	close(fd);
	free(img);
}

Test(node_version, length_limits)
{
	char text[ROOM], got[UVS_NODE_VERSION_MAX];
	size_t len, n;
	uint8_t *img = slurp(fx("fake-node"), &len);
	int fd = scratch_fd(), err;

	/* "v1.2.3-aaa...": the longest that fits UVS_NODE_VERSION_MAX, then one more. */
	for (n = UVS_NODE_VERSION_MAX - 1; n <= UVS_NODE_VERSION_MAX; n++) {
		memcpy(text, "v1.2.3-", 7);
		memset(text + 7, 'a', n - 7);
		err = read_patched(fd, img, len, text, n, got, sizeof(got));
		cr_expect_eq(err, n < UVS_NODE_VERSION_MAX ? 0 : -ENOENT, "length %zu: %d", n, err);
		if (!err)
			cr_expect_eq(strlen(got), n);
	}
	/* No NUL where one could end a version. */
	memset(text, '1', ROOM);
	text[0] = 'v';
	cr_expect_eq(read_patched(fd, img, len, text, ROOM, got, sizeof(got)), -ENOENT);
	close(fd);
	free(img);
}

/*
 * Every chunk boundary inside the marker, the version and its NUL: the whole file scanned
 * with chunk = (marker offset) + split, so that the first boundary falls split bytes in.
 */
Test(node_version, marker_split_across_chunks)
{
	char got[UVS_NODE_VERSION_MAX];
	size_t len, start, split, total = strlen(MARKER) + strlen("1.2.3-rc.1") + 1;
	uint8_t *img = slurp(fx("fake-node"), &len);
	struct uvs_elf *e = uvs_elf_open(fx("fake-node"));

	cr_assert(e);
	start = version_at(img, len) - (strlen(MARKER) - 1);
	for (split = 1; split <= total; split++) {
		memset(got, 0, sizeof(got));
		cr_expect_eq(uvs_node_version_scan(e, 0, len, start + split, got, sizeof(got)), 0,
			     "boundary %zu bytes into the marker", split);
		cr_expect_str_eq(got, "v1.2.3-rc.1", "boundary %zu bytes into the marker", split);
	}
	/* Tiny chunks: every boundary in turn. */
	for (split = 1; split <= 7; split++) {
		cr_expect_eq(uvs_node_version_scan(e, start - 5, 200, split, got, sizeof(got)), 0,
			     "chunk %zu", split);
		cr_expect_str_eq(got, "v1.2.3-rc.1", "chunk %zu", split);
	}
	/* The range ends before the NUL: no version (the NUL is part of the marker). */
	cr_expect_eq(uvs_node_version_scan(e, start, total - 1, 4, got, sizeof(got)), -ENOENT);
	cr_expect_eq(uvs_node_version_scan(e, start, total, 4, got, sizeof(got)), 0);
	/* The range starts one byte into the marker. */
	cr_expect_eq(uvs_node_version_scan(e, start + 1, 200, 64, got, sizeof(got)), -ENOENT);
	uvs_elf_close(e);
	free(img);
}
