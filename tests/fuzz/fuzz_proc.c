// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the parsers of /proc text and of names the target chooses, fed what a
 * target or the kernel could show us (agent/target/procfs.h, agent/collect/fds.h,
 * agent/collect/fd_table.h, agent/util/text.h). Every input goes to all of them: they take C
 * strings, so each gets a NUL-terminated copy (embedded NULs just end it early).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "collect/fd_table.h"
#include "collect/fds.h"
#include "collect/proc_net.h"
#include "target/container.h"
#include "target/procfs.h"
#include "util/text.h"

/* Every file type a stat(2) of /proc/PID/fd/N can give, and none. */
static const mode_t modes[] = {
	0, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO,
};

/* What the callers of a parsed mapping rely on; aborts otherwise. */
static int check_map(const struct uvs_map *m, void *arg)
{
	(void)arg;
	/* An ordered range and a path that is one line... */
	if (m->end < m->start || strlen(m->path) >= sizeof(m->path) || strchr(m->path, '\n'))
		abort();
	/* ... and a path made safe to print: no control byte left in it. */
	for (const char *c = m->path; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			abort();
	return 0;
}

static void maps_line(const char *text)
{
	static struct uvs_map m;

	if (uvs_parse_maps_line(text, &m) == 0)
		check_map(&m, NULL);
}

/* After the sanitizer: no control or bidi character, only valid UTF-8, the same length. */
static void sanitized(const char *text, size_t size)
{
	char *s = strdup(text);
	const unsigned char *p;
	size_t len, left;

	if (!s)
		return;
	len = strlen(s);
	uvs_sanitize(s, size + 1);
	if (strlen(s) != len)
		abort();
	for (p = (const unsigned char *)s, left = len; left;) {
		size_t n = *p < 0x80 ? 1 : uvs_utf8_len(p, left);

		if (!n || *p < 0x20 || *p == 0x7f || (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f))
			abort();
		/* Nor a bidirectional override or isolate (U+202A-202E, U+2066-2069), nor U+2028/9. */
		if (n == 3 && p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xa8 && p[2] <= 0xae) ||
					       (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
			abort();
		p += n;
		left -= n;
	}
	free(s);
}

/* A cgroup path the freezer check joins to a mount: absolute, within bounds, never going up. */
static void cgroup_paths(const char *text)
{
	static const char *const controllers[] = { NULL, "freezer" };
	char out[64];

	for (int i = 0; i < 2; i++)
		if (uvs_cgroup_path_of(text, controllers[i], out, sizeof(out)) &&
		    (out[0] != '/' || strlen(out) >= sizeof(out) || strstr(out, "/..")))
			abort();
}

/* A line of /proc/PID/net/{tcp,tcp6,udp,udp6}: what is parsed is a TCP or UDP state. */
static void proc_net_lines(const char *text)
{
	static const int families[] = { AF_INET, AF_INET6 }, protocols[] = { IPPROTO_TCP,
									      IPPROTO_UDP };
	struct uvs_sock s;

	for (int f = 0; f < 2; f++)
		for (int p = 0; p < 2; p++)
			if (uvs_proc_net_parse_line(text, families[f], protocols[p], &s) == 0 &&
			    (s.state == 0 || s.state >= UVS_TCP_STATES || s.family != families[f]))
				abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t sp, pc, arg0, soft, hard;
	char id[UVS_CONTAINER_ID_LEN + 1];
	char *text = malloc(size + 1);
	size_t i;
	long nr;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	/* A whole maps text as read, NULs and all (the split into lines is under test too). */
	uvs_maps_text_foreach((const char *)data, size, check_map, NULL);
	maps_line(text);
	proc_net_lines(text);
	uvs_parse_syscall_file(text, &nr, &sp, &pc);
	uvs_parse_syscall_args(text, &nr, &arg0, &sp, &pc);
	if (uvs_container_id_from_cgroup(text, id, sizeof(id)) && strlen(id) != UVS_CONTAINER_ID_LEN)
		abort();
	uvs_parse_limits_nofile(text, &soft, &hard);
	cgroup_paths(text);
	sanitized(text, size);
	if (uvs_sock_proto_from_name(text) > UVS_PROTO_OTHER)
		abort();
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (uvs_fd_classify(text, modes[i]) >= UVS_FD_TYPES)
			abort();
	}
	free(text);
	return 0;
}
