// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/out_file.h"

static char dir[] = "/tmp/uvs-out-file-XXXXXX";
static char path[64];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static void write_text(const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *read_text(void)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

TestSuite(out_file, .init = setup, .fini = teardown);

Test(out_file, made_and_never_kept_is_removed)
{
	struct uvs_out_file o;
	struct stat st;

	cr_assert_eq(uvs_out_file_open(&o, path), 0);
	cr_assert(o.created);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	fputs("buffered", o.f);
	uvs_out_file_close(&o);
	cr_assert_neq(access(path, F_OK), 0, "removed");
}

Test(out_file, earlier_file_untouched_until_kept)
{
	struct uvs_out_file o;

	write_text("an earlier, longer session\n");
	cr_assert_eq(uvs_out_file_open(&o, path), 0);
	cr_assert_not(o.created);
	fputs("buffered, then dropped", o.f);
	uvs_out_file_close(&o);
	cr_assert_str_eq(read_text(), "an earlier, longer session\n");
}

Test(out_file, kept_starts_empty)
{
	struct uvs_out_file o;

	write_text("an earlier, longer session\n");
	cr_assert_eq(uvs_out_file_open(&o, path), 0);
	fputs("new", o.f); /* buffered before the keep, as a trace's header is */
	cr_assert_eq(uvs_out_file_keep(&o), 0);
	fputs(" session\n", o.f);
	uvs_out_file_close(&o);
	cr_assert_str_eq(read_text(), "new session\n");
}

Test(out_file, unwritable_path_fails_at_open)
{
	struct uvs_out_file o;

	cr_assert_lt(uvs_out_file_open(&o, "/nonexistent-dir/x"), 0);
	cr_assert_null(o.f);
	uvs_out_file_close(&o);
}
