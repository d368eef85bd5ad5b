// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unwind/debug_file.h"

#define BUILD_ID_MAX 64


static bool same_build_id(int fd, const uint8_t *id, size_t len)
{
	struct uvs_elf *debug = uvs_elf_open_fd(fd);
	uint8_t other[BUILD_ID_MAX];
	size_t other_len = 0;
	bool same;

	if (!debug)
		return false;
	same = uvs_elf_build_id(debug, other, sizeof(other), &other_len) == 0 &&
	       other_len == len && memcmp(other, id, len) == 0;
	uvs_elf_close(debug);
	return same;
}


int uvs_debug_file_open(struct uvs_elf *elf, const char *debug_root, char *path, size_t cap)
{
	char hex[2 * BUILD_ID_MAX + 1];
	uint8_t id[BUILD_ID_MAX];
	size_t len = 0;
	int fd, n;

	if (cap)
		path[0] = '\0';
	/* The first byte names the directory: an id shorter than two bytes has no file. */
	if (uvs_elf_build_id(elf, id, sizeof(id), &len) != 0 || len < 2)
		return -ENOENT;
	uvs_elf_build_id_hex(id, len, hex, sizeof(hex));
	n = snprintf(path, cap, "%s/.build-id/%.2s/%s.debug", debug_root, hex, hex + 2);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!same_build_id(fd, id, len)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}
