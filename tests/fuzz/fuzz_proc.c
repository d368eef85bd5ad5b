// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the parsers of /proc text, fed what a target or the kernel could show
 * us (agent/target/procfs.h and agent/collect/fds.h). Every input goes to all four: they
 * take C strings, so each gets a NUL-terminated copy (embedded NULs just end it early).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collect/fds.h"
#include "target/procfs.h"

/* Every file type a stat(2) of /proc/PID/fd/N can give, and none. */
static const mode_t modes[] = {
	0, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO,
};

static void maps_line(const char *text)
{
	static struct uvs_map m;

	if (uvs_parse_maps_line(text, &m))
		return;
	/* What the callers rely on: an ordered range and a path that is one line. */
	if (m.end < m.start || strlen(m.path) >= sizeof(m.path) || strchr(m.path, '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t sp, pc, soft, hard;
	char *text = malloc(size + 1);
	size_t i;
	long nr;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	maps_line(text);
	uvs_parse_syscall_file(text, &nr, &sp, &pc);
	uvs_parse_limits_nofile(text, &soft, &hard);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (uvs_fd_classify(text, modes[i]) >= UVS_FD_TYPES)
			abort();
	}
	free(text);
	return 0;
}
