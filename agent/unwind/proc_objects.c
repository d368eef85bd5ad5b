// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "target/procfs.h"
#include "unwind/proc_objects.h"

/* vm.max_map_count's default: no process has more mappings unless its admin raised it. */
#define MAPPINGS_MAX 65530
/* A pc in no mapping reads the maps again, but not more often than this. */
#define RELOAD_INTERVAL_NS 1000000000ull

enum { FD_UNOPENED = -1, FD_FAILED = -2 };

/* One executable mapping; path empty for anonymous ones (JIT code), which have no object. */
struct mapping {
	uint64_t start, end, offset;
	uint64_t bias;
	int fd;      /* FD_UNOPENED until first asked for, FD_FAILED if it cannot be opened */
	char *path;
};

struct uvs_proc_objects {
	int pid;             /* -1: a saved maps file, opened by path, never reloaded */
	char *maps_path;
	struct mapping *maps; /* sorted by start, as the kernel lists them */
	size_t n, cap;
	uint64_t loaded_ns;
};


static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}


static void drop_mappings(struct uvs_proc_objects *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->maps[i].fd >= 0)
			close(p->maps[i].fd);
		free(p->maps[i].path);
	}
	p->n = 0;
}


static int add_mapping(struct uvs_proc_objects *p, const struct uvs_map *m)
{
	struct mapping *grown;
	size_t cap;

	if (p->n == p->cap) {
		if (p->cap >= MAPPINGS_MAX)
			return -E2BIG;
		cap = p->cap ? p->cap * 2 : 64;
		grown = realloc(p->maps, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		p->maps = grown;
		p->cap = cap;
	}
	/* Pseudo-files ([vdso], [vsyscall]) are not opened: treated as anonymous. */
	p->maps[p->n] = (struct mapping){
		.start = m->start,
		.end = m->end,
		.offset = m->offset,
		.fd = FD_UNOPENED,
		.path = strdup(m->path[0] == '/' ? m->path : ""),
	};
	if (!p->maps[p->n].path)
		return -ENOMEM;
	p->n++;
	return 0;
}


static int parse_line(struct uvs_proc_objects *p, const char *line, struct uvs_map *m)
{
	if (uvs_parse_maps_line(line, m) || !m->exec || m->end <= m->start)
		return 0;
	/* Out of order lines would break the binary search: such a file is not the kernel's. */
	if (p->n && m->start < p->maps[p->n - 1].end)
		return 0;
	return add_mapping(p, m);
}


static int load_maps(struct uvs_proc_objects *p)
{
	struct uvs_map *m = malloc(sizeof(*m));
	char *line = NULL;
	size_t linecap = 0;
	int err = 0;
	FILE *f;

	if (!m)
		return -ENOMEM;
	f = fopen(p->maps_path, "re");
	if (!f) {
		free(m);
		return -errno;
	}
	drop_mappings(p);
	while (!err && getline(&line, &linecap, f) > 0)
		err = parse_line(p, line, m);
	free(line);
	free(m);
	fclose(f);
	p->loaded_ns = now_ns();
	return err;
}


static struct uvs_proc_objects *create(int pid, const char *maps_path)
{
	struct uvs_proc_objects *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return NULL;
	p->pid = pid;
	p->maps_path = strdup(maps_path);
	if (!p->maps_path) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	err = load_maps(p);
	if (err) {
		uvs_proc_objects_free(p);
		errno = -err;
		return NULL;
	}
	return p;
}


struct uvs_proc_objects *uvs_proc_objects_new(int pid)
{
	char path[64];

	if (pid <= 0) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	return create(pid, path);
}


struct uvs_proc_objects *uvs_proc_objects_from_file(const char *maps_path)
{
	return create(-1, maps_path);
}


void uvs_proc_objects_free(struct uvs_proc_objects *p)
{
	if (!p)
		return;
	drop_mappings(p);
	free(p->maps);
	free(p->maps_path);
	free(p);
}


struct uvs_object_source uvs_proc_objects_source(struct uvs_proc_objects *p)
{
	return (struct uvs_object_source){ .object_at = uvs_proc_objects_at, .ctx = p };
}


static struct mapping *find(struct uvs_proc_objects *p, uint64_t pc)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pc < p->maps[mid].start)
			hi = mid;
		else if (pc >= p->maps[mid].end)
			lo = mid + 1;
		else
			return &p->maps[mid];
	}
	return NULL;
}


/*
 * The load bias of the mapping: the PT_LOAD segment whose pages the mapping's file offset falls
 * in gives the virtual address of that offset.
 */
static int mapping_bias(int fd, const struct mapping *m, uint64_t *bias)
{
	GElf_Phdr ph;
	size_t n, i;
	int err = -ENOEXEC;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &n))
		goto out;
	for (i = 0; i < n; i++) {
		uint64_t page_start;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		page_start = ph.p_offset & ~(uint64_t)0xfff;
		if (ph.p_filesz > UINT64_MAX - ph.p_offset || m->offset < page_start ||
		    m->offset >= ph.p_offset + ph.p_filesz)
			continue;
		*bias = m->start - m->offset + ph.p_offset - ph.p_vaddr;
		err = 0;
		break;
	}
out:
	elf_end(elf);
	return err;
}


static int open_mapping(struct uvs_proc_objects *p, struct mapping *m)
{
	char path[96];
	int fd;

	if (p->pid > 0) {
		snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", p->pid,
			 (unsigned long long)m->start, (unsigned long long)m->end);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		fd = open(m->path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (mapping_bias(fd, m, &m->bias)) {
		close(fd);
		return -ENOEXEC;
	}
	m->fd = fd;
	return 0;
}


int uvs_proc_objects_at(void *ctx, uint64_t pc, int *fd, uint64_t *bias, const char **path)
{
	struct uvs_proc_objects *p = ctx;
	struct mapping *m = find(p, pc);

	if (!m && p->pid > 0 && now_ns() - p->loaded_ns >= RELOAD_INTERVAL_NS) {
		if (load_maps(p) == 0)
			m = find(p, pc);
	}
	if (!m || !m->path[0])
		return -ENOENT;
	if (m->fd == FD_FAILED)
		return -EACCES;
	if (m->fd == FD_UNOPENED && open_mapping(p, m)) {
		m->fd = FD_FAILED;
		return -EACCES;
	}
	*fd = m->fd;
	*bias = m->bias;
	if (path)
		*path = m->path;
	return 0;
}
