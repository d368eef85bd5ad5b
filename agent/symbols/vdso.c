// SPDX-License-Identifier: MIT
/* This process's vDSO copied into a memfd, once. See vdso.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbols/address_space.h"
#include "symbols/vdso.h"

/* The vDSO is two pages on x86-64 today; anything far larger is not what we expect. */
#define VDSO_MAX_BYTES (1u << 20)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int vdso_fd = -ENOENT;

/* The [vdso] mapping of this process, from its own maps (the auxv gives only the start). */
static int own_vdso(uint64_t *start, uint64_t *len)
{
	struct uvs_address_space *as = uvs_address_space_read(getpid());
	uint64_t at = getauxval(AT_SYSINFO_EHDR);
	const struct uvs_mapping *m;
	int err = -ENOENT;

	if (!as)
		return -errno;
	m = at ? uvs_address_space_find(as, at) : NULL;
	if (m && m->vdso && m->start == at && m->end - m->start <= VDSO_MAX_BYTES) {
		*start = m->start;
		*len = m->end - m->start;
		err = 0;
	}
	uvs_address_space_free(as);
	return err;
}

static void copy_vdso(void)
{
	uint64_t start = 0, len = 0;
	int fd, err = own_vdso(&start, &len);

	if (err) {
		vdso_fd = err;
		return;
	}
	fd = memfd_create("uvscope-vdso", MFD_CLOEXEC);
	if (fd < 0) {
		vdso_fd = -errno;
		return;
	}
	if (write(fd, (const void *)(uintptr_t)start, len) != (ssize_t)len) {
		close(fd);
		vdso_fd = -EIO;
		return;
	}
	vdso_fd = fd;
}

int uvs_vdso_open(void)
{
	int fd;

	pthread_once(&once, copy_vdso);
	if (vdso_fd < 0)
		return vdso_fd;
	/* A file description of its own: readers pread, but each may close theirs. */
	fd = fcntl(vdso_fd, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}
