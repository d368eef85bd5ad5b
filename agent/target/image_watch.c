// SPDX-License-Identifier: MIT
#include "target/image_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "target/procfs.h"
#include "util/text.h"

static int first_readable(const struct uvs_map *m, void *arg)
{
	uint64_t *addr = arg;

	if (!m->read || m->end <= m->start)
		return 0;
	*addr = m->start;
	return 1;
}

int uvs_image_watch_open(struct uvs_image_watch *w, pid_t pid)
{
	char path[64];
	uint8_t byte;
	int err;

	w->fd = -1;
	w->addr = 0;
	err = uvs_maps_foreach(pid, first_readable, &w->addr);
	if (err < 0)
		return err;
	if (err == 0)
		return -ENOENT; /* no readable mapping: nothing to hold */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	w->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->fd < 0)
		return -errno;
	/* The image may have changed between the maps and the open: then it reads nothing. */
	if (pread(w->fd, &byte, 1, (off_t)w->addr) != 1) {
		err = errno ? -errno : -ESRCH;
		uvs_image_watch_close(w);
		return err;
	}
	return 0;
}

int uvs_image_watch_same(const struct uvs_image_watch *w)
{
	uint8_t byte;
	ssize_t n;

	if (w->fd < 0)
		return -EBADF;
	do
		n = pread(w->fd, &byte, 1, (off_t)w->addr);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return 1;
	/* 0 bytes: the address space this fd holds has no user left (exec or exit). */
	if (n == 0 || errno == ESRCH)
		return 0;
	return -errno;
}

int uvs_image_exe(pid_t pid, char *exe, size_t cap)
{
	char path[64];
	ssize_t n;

	if (!cap)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, cap - 1);
	if (n <= 0) {
		int err = n < 0 ? -errno : -ENOENT;

		snprintf(exe, cap, "unknown");
		return err;
	}
	exe[n] = '\0';
	uvs_sanitize(exe, cap);
	return 0;
}

void uvs_image_watch_close(struct uvs_image_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
