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

bool uvs_cgroup_path_of(const char *text, const char *controller, char *out, size_t cap)
{
	const char *line = text;
	size_t clen = controller ? strlen(controller) : 0;

	while (line && *line) {
		const char *eol = strchr(line, '\n'), *c1 = strchr(line, ':'), *c2, *path;
		size_t len;
		bool match = false;

		if (!eol)
			eol = line + strlen(line);
		c2 = c1 && c1 < eol ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2) {
			if (!controller) {
				/* v2: "0::PATH" */
				match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
			} else {
				/* v1: "N:ctl,ctl:PATH", the controller one of a comma list */
				const char *p = c1 + 1;

				while (p < c2 && !match) {
					const char *comma = memchr(p, ',', (size_t)(c2 - p));
					const char *end = comma ? comma : c2;

					match = (size_t)(end - p) == clen && !memcmp(p, controller, clen);
					p = end + 1;
				}
			}
		}
		if (match) {
			path = c2 + 1;
			len = (size_t)(eol - path);
			/* An absolute path, no way up: it is joined to a mount point below. */
			if (len == 0 || len >= cap || path[0] != '/' ||
			    memmem(path, len, "/..", 3) || memchr(path, '\0', len))
				return false;
			memcpy(out, path, len);
			out[len] = '\0';
			return true;
		}
		line = *eol ? eol + 1 : NULL;
	}
	return false;
}

/*
 * Where uvscope sees the cgroup v2 hierarchy and v1's freezer mounted (/proc/self/mountinfo:
 * the mount point is field 5, the file system type and super options follow " - "). Read
 * once: on a hybrid host (v1 controllers and a v2 "unified" mount) the freezer is v1's.
 */
static void cgroup_mounts(char *v2, char *v1_freezer, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];

	v2[0] = v1_freezer[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mnt[512], fstype[32], opts[512];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, opts) != 2 || strchr(mnt, '\\'))
			continue;
		if (!strcmp(fstype, "cgroup2") && !v2[0])
			snprintf(v2, cap, "%s", mnt);
		else if (!strcmp(fstype, "cgroup") && !v1_freezer[0] &&
			 (strstr(opts, ",freezer") || !strncmp(opts, "freezer", 7)))
			snprintf(v1_freezer, cap, "%s", mnt);
	}
	fclose(f);
}

bool uvs_cgroup_frozen(int pid)
{
	static char v2[256], v1[256];
	static bool mounts_read;
	char path[64], text[8192], cg[512], file[1024], state[256];

	if (!mounts_read) {
		cgroup_mounts(v2, v1, sizeof(v2));
		mounts_read = true;
	}
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (uvs_read_file(path, text, sizeof(text)) < 0)
		return false;
	/* v2: cgroup.events says "frozen 1" once every task in it is frozen (the root has none). */
	if (v2[0] && uvs_cgroup_path_of(text, NULL, cg, sizeof(cg)) &&
	    (size_t)snprintf(file, sizeof(file), "%s%s/cgroup.events", v2, cg) < sizeof(file) &&
	    uvs_read_file(file, state, sizeof(state)) >= 0 &&
	    (!strncmp(state, "frozen 1", 8) || strstr(state, "\nfrozen 1")))
		return true;
	/* v1: freezer.state FROZEN, or FREEZING on the way there. */
	if (v1[0] && uvs_cgroup_path_of(text, "freezer", cg, sizeof(cg)) &&
	    (size_t)snprintf(file, sizeof(file), "%s%s/freezer.state", v1, cg) < sizeof(file) &&
	    uvs_read_file(file, state, sizeof(state)) >= 0 &&
	    (!strncmp(state, "FROZEN", 6) || !strncmp(state, "FREEZING", 8)))
		return true;
	return false;
}
