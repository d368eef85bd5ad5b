// SPDX-License-Identifier: MIT
#include "target/container.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/procfs.h"

int uvs_nspid(int pid)
{
	char path[64], buf[4096], *line, *end;
	long last = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	n = uvs_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	line = strstr(buf, "\nNSpid:");
	if (!line)
		return pid; /* kernels before 4.1: no PID namespaces shown, take the pid as it is */
	line += strlen("\nNSpid:");
	for (;;) {
		long v;

		while (*line == ' ' || *line == '\t')
			line++;
		if (*line < '0' || *line > '9')
			break;
		v = strtol(line, &end, 10);
		if (v <= 0 || v > 0x7fffffff)
			return -EINVAL;
		last = v;
		line = end;
	}
	return last > 0 ? (int)last : -EINVAL;
}

bool uvs_container_id_from_cgroup(const char *text, char *out, size_t cap)
{
	size_t run = 0;
	const char *p;

	if (cap)
		out[0] = '\0';
	/* A run of 64 hex digits with no hex digit on either side. */
	for (p = text;; p++) {
		if (*p && isxdigit((unsigned char)*p)) {
			run++;
			continue;
		}
		if (run == 64) {
			size_t n = cap ? (cap - 1 < UVS_CONTAINER_ID_LEN ? cap - 1 : UVS_CONTAINER_ID_LEN) : 0;
			const char *start = p - 64;

			for (size_t i = 0; i < n; i++)
				out[i] = (char)tolower((unsigned char)start[i]);
			if (cap)
				out[n] = '\0';
			return cap > 0;
		}
		run = 0;
		if (!*p)
			return false;
	}
}

int uvs_container_read(int pid, struct uvs_container *out)
{
	char path[64], buf[8192];
	int nspid = uvs_nspid(pid);

	memset(out, 0, sizeof(*out));
	if (nspid < 0)
		return nspid;
	out->ns_pid = nspid;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (uvs_read_file(path, buf, sizeof(buf)) >= 0)
		uvs_container_id_from_cgroup(buf, out->id, sizeof(out->id));
	return 0;
}
