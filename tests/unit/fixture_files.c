// SPDX-License-Identifier: MIT
/* Helpers for the unit tests that read the ELF fixtures. See fixture_files.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture_files.h"

const char *fx(const char *name)
{
	static char bufs[4][4096];
	static int next;
	const char *dir = getenv("FIXTURES");
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir && *dir ? dir : ".output/fixtures", name);
	return b;
}

uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0 && !fstat(fd, &st), "%s: %s", path, strerror(errno));
	buf = malloc(st.st_size ? st.st_size : 1);
	cr_assert(buf);
	cr_assert_eq(pread(fd, buf, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

int scratch_fd(void)
{
	char path[] = "/tmp/uvs-elf-test-XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	return fd;
}

struct uvs_elf *open_bytes(int fd, const uint8_t *buf, size_t len)
{
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(pwrite(fd, buf, len, 0), (ssize_t)len);
	return uvs_elf_open_fd(fd);
}
