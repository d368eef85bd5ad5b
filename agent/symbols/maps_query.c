// SPDX-License-Identifier: MIT
/* Whether an address of a target is mapped now, by PROCMAP_QUERY. See maps_query.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "symbols/address_space.h"
#include "symbols/maps_query.h"

#define SECOND_NS 1000000000ull

/*
 * The kernel's UAPI (include/uapi/linux/fs.h, Linux 6.11), spelled out here: the C library's
 * headers on the build machine may be older than the kernel the agent runs on. An older
 * kernel answers the ioctl with ENOTTY.
 */
struct procmap_query_abi {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
_Static_assert(sizeof(struct procmap_query_abi) == 104, "struct procmap_query is 104 bytes");
#define PROCMAP_QUERY_VMA_EXEC 0x04
#define PROCMAP_QUERY_IOCTL _IOWR('f', 17, struct procmap_query_abi)

struct unmapped {
	uint64_t addr;
	uint64_t at_ns; /* when the kernel said so; 0: empty slot */
};

struct uvs_maps_query {
	int fd;
	char name[4096 + 32]; /* the mapping's name, as the maps would show it */
	bool unsupported;
	uint64_t second_ns; /* start of the second whose questions are counted */
	unsigned asked;
	struct unmapped seen[UVS_MAPS_QUERY_REMEMBER];
};

struct uvs_maps_query *uvs_maps_query_new(int pid)
{
	struct uvs_maps_query *q = calloc(1, sizeof(*q));
	char path[64];

	if (!q) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	/* Opened once, at attach: the permission to read a process's maps is checked at open. */
	q->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (q->fd < 0) {
		int err = errno;

		free(q);
		errno = err;
		return NULL;
	}
	return q;
}

void uvs_maps_query_free(struct uvs_maps_query *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q);
}

static struct unmapped *slot(struct uvs_maps_query *q, uint64_t addr)
{
	uint64_t h = addr * 0x9e3779b97f4a7c15ull;

	return &q->seen[(h >> 32) % UVS_MAPS_QUERY_REMEMBER];
}

int uvs_maps_query_may_name(struct uvs_maps_query *q, uint64_t addr, uint64_t now_ns)
{
	struct procmap_query_abi pq;
	struct unmapped *s = slot(q, addr);

	if (q->unsupported)
		return -ENOTTY;
	if (s->at_ns && s->addr == addr && now_ns - s->at_ns < SECOND_NS)
		return 0;
	if (now_ns - q->second_ns >= SECOND_NS) {
		q->second_ns = now_ns;
		q->asked = 0;
	}
	if (q->asked == UVS_MAPS_QUERY_PER_SECOND)
		return -EAGAIN;
	q->asked++;
	memset(&pq, 0, sizeof(pq));
	pq.size = sizeof(pq);
	pq.query_addr = addr;
	pq.vma_name_addr = (uint64_t)(uintptr_t)q->name;
	pq.vma_name_size = sizeof(q->name);
	/* No flags: the mapping that covers addr, or ENOENT. */
	if (ioctl(q->fd, PROCMAP_QUERY_IOCTL, &pq) == 0) {
		if (pq.vma_name_size == 0)
			q->name[0] = '\0';
		q->name[sizeof(q->name) - 1] = '\0';
		/* The symbolizer's own rule (symbols/address_space.h): data no file names is no code. */
		if ((pq.vma_flags & PROCMAP_QUERY_VMA_EXEC) || !uvs_mapping_name_anonymous(q->name))
			return 1;
	} else if (errno != ENOENT) {
		if (errno == ENOTTY || errno == EINVAL)
			q->unsupported = true;
		return -errno;
	}
	s->addr = addr;
	s->at_ns = now_ns ? now_ns : 1;
	return 0;
}
