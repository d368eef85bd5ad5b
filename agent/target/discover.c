// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/discover.h"
#include "target/procfs.h"

int uvs_discover_init(struct uvs_discover *d, const char *regex, char *why, size_t cap)
{
	memset(d, 0, sizeof(*d));
	d->self = getpid();
	if (!regex)
		return 0;
	d->match_set = true;
	return uvs_cmdline_match_init(&d->match, regex, why, cap);
}

void uvs_discover_free(struct uvs_discover *d)
{
	if (d->match_set)
		uvs_cmdline_match_free(&d->match);
	d->match_set = false;
}

bool uvs_discover_node_exe(const char *exe_path)
{
	const char *base = strrchr(exe_path, '/');
	const char *rest;

	base = base ? base + 1 : exe_path;
	if (strncmp(base, "node", 4))
		return false;
	rest = base + 4;
	if (!strncmp(rest, "js", 2))
		rest += 2;
	/* node, nodejs, node20, node-20, nodejs20; not nodemon or node_exporter. */
	if (*rest == '-')
		rest++;
	while (isdigit((unsigned char)*rest) || *rest == '.')
		rest++;
	/* A binary replaced on disk while running reads "/usr/bin/node (deleted)". */
	return *rest == '\0' || !strcmp(rest, " (deleted)");
}

/*
 * Fields 4 (the parent) and 22 (the start time) of /proc/PID/stat, after the comm in
 * parentheses (which may hold any byte). ppid may be NULL.
 */
static int stat_fields(pid_t pid, pid_t *ppid, uint64_t *start)
{
	char path[48], text[1024];
	const char *p;
	int field, parent;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (uvs_read_file(path, text, sizeof(text)) < 0)
		return -ENOENT;
	p = strrchr(text, ')');
	/* ") S 1234 ...": the state, then the parent. */
	if (!p || sscanf(p + 1, " %*c %d", &parent) != 1)
		return -EINVAL;
	/* After ") " comes field 3 (the state); field 22 is 19 fields later. */
	for (field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%" SCNu64, start) != 1)
		return -EINVAL;
	if (ppid)
		*ppid = (pid_t)parent;
	return 0;
}

static int maps_libnode(const struct uvs_map *m, void *arg)
{
	const char *base = strrchr(m->path, '/');

	(void)arg;
	return base && !strncmp(base + 1, "libnode.so", 10);
}

/* FNV-1a: a path told from another, not a secret. */
static uint64_t hash_path(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/*
 * The cache entry of a process, made when there is room (NULL: none, decide afresh). *fresh:
 * nothing is known of it yet.
 */
static struct uvs_discover_entry *entry_of(struct uvs_discover *d, pid_t pid, uint64_t start,
					    const char *exe, bool *fresh)
{
	uint64_t h = hash_path(exe);
	struct uvs_discover_entry *e = NULL;
	size_t i;

	for (i = 0; i < d->n && !e; i++)
		if (d->cache[i].pid == pid && d->cache[i].start == start)
			e = &d->cache[i];
	*fresh = !e || e->exe_hash != h;
	/* The same process after an exec: what it was says nothing of what it is. */
	if (e && e->exe_hash != h)
		*e = (struct uvs_discover_entry){ .pid = pid, .start = start, .exe_hash = h };
	if (!e && d->n < UVS_DISCOVER_CACHE) {
		e = &d->cache[d->n++];
		*e = (struct uvs_discover_entry){ .pid = pid, .start = start, .exe_hash = h };
	}
	if (e)
		e->generation = d->generation;
	return e;
}

static bool is_node(pid_t pid, const char *exe)
{
	return uvs_discover_node_exe(exe) || uvs_maps_foreach(pid, maps_libnode, NULL) == 1;
}

static bool cmdline_matches(const struct uvs_discover *d, pid_t pid)
{
	char path[48], raw[UVS_CMDLINE_MATCH_MAX + 1];
	ssize_t len;

	if (!d->match_set)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	len = uvs_read_file(path, raw, sizeof(raw));
	return len > 0 && uvs_cmdline_match(&d->match, raw, (size_t)len);
}

/* Entries of processes the last scan did not see leave the cache (their pids may come back). */
static void prune(struct uvs_discover *d)
{
	size_t i = 0;

	while (i < d->n) {
		if (d->cache[i].generation != d->generation)
			d->cache[i] = d->cache[--d->n];
		else
			i++;
	}
}

size_t uvs_discover_scan(struct uvs_discover *d, bool (*watched)(void *ctx, pid_t pid), void *ctx,
			 pid_t *out, size_t cap)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!dir)
		return 0;
	d->generation++;
	while ((de = readdir(dir)) && n < cap) {
		char path[64], exe[UVS_PATH_MAX];
		struct uvs_discover_entry *e;
		uint64_t start;
		pid_t parent;
		ssize_t len;
		bool fresh;
		char *end;
		long v = strtol(de->d_name, &end, 10);
		pid_t pid = (pid_t)v;

		if (*end || v <= 0 || v > INT32_MAX || pid == d->self)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		len = readlink(path, exe, sizeof(exe) - 1);
		if (len <= 0) /* a kernel thread, a zombie, or not ours to read */
			continue;
		exe[len] = '\0';
		/* Our own children (the --on-alert commands) are never watched. */
		if (stat_fields(pid, &parent, &start) || parent == d->self)
			continue;
		e = entry_of(d, pid, start, exe, &fresh);
		if (e && !fresh && (!e->node || e->refused))
			continue;
		if (!e || fresh) {
			bool node = is_node(pid, exe);

			if (e)
				e->node = node;
			if (!node)
				continue;
		}
		if (watched(ctx, pid) || !cmdline_matches(d, pid))
			continue;
		out[n++] = pid;
	}
	closedir(dir);
	/* A scan cut short by cap did not see every process: keep what it did not reach. */
	if (n < cap)
		prune(d);
	return n;
}

void uvs_discover_refused(struct uvs_discover *d, pid_t pid)
{
	char path[64], exe[UVS_PATH_MAX];
	struct uvs_discover_entry *e;
	uint64_t start;
	ssize_t len;
	bool fresh;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	len = readlink(path, exe, sizeof(exe) - 1);
	if (len <= 0 || stat_fields(pid, NULL, &start))
		return;
	exe[len] = '\0';
	e = entry_of(d, pid, start, exe, &fresh);
	if (e) {
		if (fresh)
			e->node = true;
		e->refused = true;
	}
}
