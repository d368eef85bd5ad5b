// SPDX-License-Identifier: MIT
/*
 * The probe-site checks' one read of the maps (target/code_maps.h): the answer from captured
 * maps text, and the hold on this very process: one read for many checks, and a verify that
 * catches a checked mapping that went away or whose file was replaced under the same name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "symbols/address_space.h"
#include "target/code_maps.h"

static const char maps_text[] =
	"00400000-00401000 r--p 00000000 08:01 1234 /usr/bin/node\n"
	"00401000-00500000 r-xp 00001000 08:01 1234 /usr/bin/node\n"
	"00500000-00600000 r--p 00100000 08:01 1234 /usr/bin/node\n"
	"00600000-00700000 r-xp 00000000 00:00 0 \n"
	"7f0000000000-7f0000010000 r-xp 00002000 08:01 99 /usr/lib/libuv.so.1\n"
	"this line is not a mapping\n"
	"7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0 [vdso]\n";

Test(code_maps, answers_from_captured_text)
{
	struct uvs_address_space *c = uvs_address_space_parse(maps_text, sizeof(maps_text) - 1);

	cr_assert_not_null(c);
	cr_assert(uvs_code_runs_from(c, 0x401000, "/usr/bin/node", 0));
	cr_assert(uvs_code_runs_from(c, 0x4fffff, "/usr/bin/node", 1234));
	cr_assert_not(uvs_code_runs_from(c, 0x500000, "/usr/bin/node", 0),
		      "end is exclusive; the next mapping is not executable");
	cr_assert_not(uvs_code_runs_from(c, 0x400800, "/usr/bin/node", 0), "not executable");
	cr_assert_not(uvs_code_runs_from(c, 0x600800, "/usr/bin/node", 0),
		      "anonymous code (--use-largepages) is not the file's");
	cr_assert_not(uvs_code_runs_from(c, 0x401000, "/usr/bin/node", 1235), "other inode");
	cr_assert_not(uvs_code_runs_from(c, 0x401000, "/usr/lib/libuv.so.1", 0),
		      "other file");
	cr_assert(uvs_code_runs_from(c, 0x7f0000000010, "/usr/lib/libuv.so.1", 99));
	cr_assert(uvs_code_runs_from(c, 0x7ffd00000010, "[vdso]", 0));
	cr_assert_not(uvs_code_runs_from(c, 0x10, "/usr/bin/node", 0), "below everything");
	cr_assert_not(uvs_code_runs_from(NULL, 0x401000, "/usr/bin/node", 0));
	uvs_address_space_free(c);
}

Test(code_maps, text_out_of_order_is_sorted)
{
	static const char text[] =
		"7f0000000000-7f0000010000 r-xp 00000000 08:01 99 /b\n"
		"00401000-00500000 r-xp 00001000 08:01 1234 /a\n"
		"00300000-00400000 r-xp 00001000 08:01 77 /c\n";
	struct uvs_address_space *c = uvs_address_space_parse(text, sizeof(text) - 1);

	cr_assert_not_null(c);
	cr_assert(uvs_code_runs_from(c, 0x300000, "/c", 77));
	cr_assert(uvs_code_runs_from(c, 0x401000, "/a", 1234));
	cr_assert(uvs_code_runs_from(c, 0x7f0000000000, "/b", 99));
	uvs_address_space_free(c);
}

/* The path of this test binary as its maps show it. */
static void own_exe(char *out, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", out, cap - 1);

	cr_assert_gt(n, 0);
	out[n] = '\0';
}

static int some_code(int x)
{
	return x * 3 + 1;
}

Test(code_maps, a_hold_reads_once_for_many_checks)
{
	struct uvs_code_hold *h = uvs_code_hold_new(getpid());
	uint64_t code = (uint64_t)(uintptr_t)&some_code, data = (uint64_t)(uintptr_t)&h;
	char exe[PATH_MAX];
	int i;

	cr_assert_not_null(h);
	own_exe(exe, sizeof(exe));
	cr_assert_eq(uvs_code_hold_reads(h), 0, "nothing is read before the first check");
	for (i = 0; i < 50; i++)
		cr_assert(uvs_code_hold_check(h, code + (uint64_t)(i % 4), exe));
	cr_assert_not(uvs_code_hold_check(h, data, exe), "a stack address is not code");
	cr_assert_not(uvs_code_hold_check(h, code, "/not/this/file"));
	cr_assert_eq(uvs_code_hold_reads(h), 1);
	cr_assert_eq(uvs_code_hold_verify(h, NULL), 0);
	cr_assert_eq(uvs_code_hold_reads(h), 2, "the verify reads once more");
	uvs_code_hold_free(h);
}

Test(code_maps, a_hold_with_no_pass_verifies_without_reading)
{
	struct uvs_code_hold *h = uvs_code_hold_new(getpid());

	cr_assert_not(uvs_code_hold_check(h, 0x10, "/nothing"));
	cr_assert_eq(uvs_code_hold_verify(h, NULL), 0);
	cr_assert_eq(uvs_code_hold_reads(h), 1);
	uvs_code_hold_free(h);
}

Test(code_maps, a_hold_on_a_gone_process_passes_nothing)
{
	struct uvs_code_hold *h = uvs_code_hold_new(INT_MAX);

	cr_assert_not(uvs_code_hold_check(h, (uint64_t)(uintptr_t)&some_code, "/x"));
	cr_assert_eq(uvs_code_hold_verify(h, NULL), 0, "nothing passed: nothing to verify");
	uvs_code_hold_free(h);
	uvs_code_hold_free(NULL);
}

/* A file of one page, written at path (a new inode each time: the old one is replaced). */
static void write_page(const char *path, char fill)
{
	char page[4096], tmp[PATH_MAX];
	int fd;

	memset(page, fill, sizeof(page));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
	close(fd);
	cr_assert_eq(rename(tmp, path), 0);
}

/* path mapped executable at addr (anywhere when addr is NULL). */
static void *map_exec(const char *path, void *addr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	cr_assert_geq(fd, 0);
	p = mmap(addr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | (addr ? MAP_FIXED : 0), fd, 0);
	close(fd);
	cr_assert_neq(p, MAP_FAILED);
	return p;
}

/* A temporary file's path, its directory removed with it by the caller. */
static void temp_path(char *dir, size_t cap, char *path, size_t pcap)
{
	snprintf(dir, cap, "/tmp/uvscope-code-maps-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, pcap, "%s/code", dir);
}

Test(code_maps, a_checked_mapping_that_went_away_fails_the_verify)
{
	char dir[64], path[PATH_MAX];
	struct uvs_code_hold *h = uvs_code_hold_new(getpid());
	uint64_t at = 0;
	void *p;

	temp_path(dir, sizeof(dir), path, sizeof(path));
	write_page(path, 'a');
	p = map_exec(path, NULL);
	cr_assert(uvs_code_hold_check(h, (uint64_t)(uintptr_t)p + 16, path));
	/* What --use-largepages does to the text: anonymous memory in its place. */
	cr_assert_neq(mmap(p, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			   -1, 0), MAP_FAILED);
	cr_assert(uvs_code_hold_check(h, (uint64_t)(uintptr_t)p + 32, path),
		  "inside the hold the first read answers");
	cr_assert_eq(uvs_code_hold_verify(h, &at), -ESTALE);
	cr_assert_eq(at, (uint64_t)(uintptr_t)p + 16, "the first pass that went stale is named");
	uvs_code_hold_free(h);
	munmap(p, 4096);
	unlink(path);
	rmdir(dir);
}

Test(code_maps, a_file_replaced_under_the_same_name_fails_the_verify)
{
	char dir[64], path[PATH_MAX];
	struct uvs_code_hold *h = uvs_code_hold_new(getpid());
	void *p;

	temp_path(dir, sizeof(dir), path, sizeof(path));
	write_page(path, 'a');
	p = map_exec(path, NULL);
	cr_assert(uvs_code_hold_check(h, (uint64_t)(uintptr_t)p, path));
	cr_assert_eq(uvs_code_hold_verify(h, NULL), 0, "nothing changed yet");
	uvs_code_hold_free(h);

	h = uvs_code_hold_new(getpid());
	cr_assert(uvs_code_hold_check(h, (uint64_t)(uintptr_t)p, path));
	/* The same path, a new inode, mapped at the same address: a uprobe went to the old one. */
	write_page(path, 'b');
	cr_assert_eq(map_exec(path, p), p);
	cr_assert_eq(uvs_code_hold_verify(h, NULL), -ESTALE);
	uvs_code_hold_free(h);
	munmap(p, 4096);
	unlink(path);
	rmdir(dir);
}
