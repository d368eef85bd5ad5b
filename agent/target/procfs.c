// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "target/procfs.h"
#include "util/text.h"

ssize_t uvs_read_file(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	if (cap == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < cap - 1) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return (ssize_t)len;
}

int uvs_parse_maps_line(const char *line, struct uvs_map *m)
{
	char perms[5] = "";
	unsigned int dev_major, dev_minor;
	unsigned long long start, end, offset, inode;
	int consumed = 0;
	const char *path;
	size_t len;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &start, &end, perms, &offset,
		   &dev_major, &dev_minor, &inode, &consumed) != 7 ||
	    consumed <= 0 || end < start || strlen(perms) != 4)
		return -EINVAL;
	m->start = start;
	m->end = end;
	m->offset = offset;
	m->inode = inode;
	m->read = perms[0] == 'r';
	m->exec = perms[2] == 'x';
	path = line + consumed;
	while (*path == ' ' || *path == '\t')
		path++;
	len = strcspn(path, "\n");
	if (len >= sizeof(m->path))
		return -EINVAL;
	memcpy(m->path, path, len);
	m->path[len] = '\0';
	/* File names are the target's to choose; every use of a path is for display or equality. */
	uvs_sanitize(m->path, sizeof(m->path));
	return 0;
}

int uvs_maps_foreach(pid_t pid, int (*fn)(const struct uvs_map *m, void *arg), void *arg)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	struct uvs_map *m;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	m = malloc(sizeof(*m));
	if (!m) {
		fclose(f);
		return -ENOMEM;
	}
	while (getline(&line, &cap, f) > 0) {
		if (uvs_parse_maps_line(line, m))
			continue;
		ret = fn(m, arg);
		if (ret)
			break;
	}
	free(line);
	free(m);
	fclose(f);
	return ret;
}

int uvs_maps_text_foreach(const char *text, size_t len,
			  int (*fn)(const struct uvs_map *m, void *arg), void *arg)
{
	size_t line_cap = UVS_PATH_MAX + 256, pos = 0;
	struct uvs_map *m = malloc(sizeof(*m));
	char *line = malloc(line_cap);
	int ret = 0;

	if (!m || !line) {
		free(m);
		free(line);
		return -ENOMEM;
	}
	while (pos < len && !ret) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - text) : len) - pos;

		if (n < line_cap) {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			/* A NUL inside the line would hide the rest of it: skipped as malformed. */
			if (strlen(line) == n && !uvs_parse_maps_line(line, m))
				ret = fn(m, arg);
		}
		pos += n + 1;
	}
	free(m);
	free(line);
	return ret;
}

int uvs_read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int uvs_parse_syscall_file(const char *text, long *nr, uint64_t *sp, uint64_t *pc)
{
	return uvs_parse_syscall_args(text, nr, NULL, sp, pc);
}

int uvs_parse_syscall_args(const char *text, long *nr, uint64_t *arg0, uint64_t *sp, uint64_t *pc)
{
	unsigned long long v[8];
	char *end;
	long n;
	int i;

	if (strncmp(text, "running", 7) == 0 && (text[7] == '\n' || text[7] == '\0'))
		return -EAGAIN;
	errno = 0;
	n = strtol(text, &end, 10);
	if (errno || end == text)
		return -EINVAL;
	*nr = n;
	/* "-1 sp pc" when blocked outside a syscall, "nr a0..a5 sp pc" inside one. */
	for (i = 0; i < 8; i++) {
		const char *p = end;

		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		errno = 0;
		v[i] = strtoull(p, &end, 16);
		if (errno || end == p)
			return -EINVAL;
	}
	if (i < 2)
		return -EINVAL;
	*sp = v[i - 2];
	*pc = v[i - 1];
	if (arg0) {
		/* Only inside a syscall, with its six arguments, is there a first one. */
		if (n < 0 || i != 8)
			return -ENODATA;
		*arg0 = v[0];
	}
	return 0;
}

char uvs_parse_stat_state(const char *text)
{
	const char *close = strrchr(text, ')');

	if (!close || close[1] != ' ' || !close[2])
		return 0;
	return close[2];
}

enum uvs_thread_presence uvs_thread_presence(pid_t pid, pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
	if (stat(path, &st) == 0)
		return UVS_THREAD_PRESENT;
	return errno == ENOENT || errno == ESRCH ? UVS_THREAD_GONE : UVS_THREAD_UNKNOWN;
}

char uvs_thread_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	if (uvs_read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	return uvs_parse_stat_state(buf);
}
