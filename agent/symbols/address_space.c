// SPDX-License-Identifier: MIT
/* A target's mappings from /proc/PID/maps, sorted for lookups. See address_space.h. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/sorted_array.h"
#include "symbols/address_space.h"
#include "symbols/vdso.h"
#include "target/procfs.h"

#define DELETED_SUFFIX " (deleted)"

struct uvs_address_space {
	struct uvs_mapping *maps;
	size_t n, cap;
	bool full; /* more mappings than UVS_ADDRESS_SPACE_MAX_MAPPINGS: the rest are dropped */
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

bool uvs_mapping_name_anonymous(const char *name)
{
	/* [heap], [stack], [anon:name] (prctl) and the like have no file behind them. */
	return !name[0] || (name[0] == '[' && strcmp(name, "[vdso]") != 0);
}

static int add(const struct uvs_map *in, void *arg)
{
	struct uvs_address_space *as = arg;
	struct uvs_mapping *m;
	bool pseudo = in->path[0] == '[';

	if (as->n == UVS_ADDRESS_SPACE_MAX_MAPPINGS) {
		as->full = true;
		return 0;
	}
	if (uvs_array_reserve((void **)&as->maps, &as->cap, as->n, sizeof(*as->maps), 256))
		return -ENOMEM;
	m = &as->maps[as->n];
	*m = (struct uvs_mapping){
		.start = in->start, .end = in->end, .offset = in->offset, .inode = in->inode,
		.read = in->read, .exec = in->exec, .path = "",
		.vdso = !strcmp(in->path, "[vdso]"),
	};
	m->anonymous = uvs_mapping_name_anonymous(in->path);
	if (in->path[0]) {
		char *p = strdup(in->path);

		if (!p)
			return -ENOMEM;
		m->path = p;
	}
	m->deleted = !m->anonymous && !pseudo && ends_with(in->path, DELETED_SUFFIX);
	as->n++;
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct uvs_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The kernel lists mappings in order; text from elsewhere may not be. */
static void sort_if_needed(struct uvs_address_space *as)
{
	size_t i;

	for (i = 1; i < as->n; i++) {
		if (as->maps[i].start < as->maps[i - 1].start) {
			qsort(as->maps, as->n, sizeof(*as->maps), cmp_start);
			return;
		}
	}
}

static struct uvs_address_space *finish(struct uvs_address_space *as, int err)
{
	if (err) {
		uvs_address_space_free(as);
		errno = err < 0 ? -err : err;
		return NULL;
	}
	sort_if_needed(as);
	return as;
}

struct uvs_address_space *uvs_address_space_read(int pid)
{
	struct uvs_address_space *as = calloc(1, sizeof(*as));

	if (!as) {
		errno = ENOMEM;
		return NULL;
	}
	return finish(as, uvs_maps_foreach(pid, add, as));
}

struct uvs_address_space *uvs_address_space_parse(const char *text, size_t len)
{
	struct uvs_address_space *as = calloc(1, sizeof(*as));

	if (!as) {
		errno = ENOMEM;
		return NULL;
	}
	return finish(as, uvs_maps_text_foreach(text, len, add, as));
}

void uvs_address_space_free(struct uvs_address_space *as)
{
	size_t i;

	if (!as)
		return;
	for (i = 0; i < as->n; i++) {
		if (as->maps[i].path[0])
			free((char *)as->maps[i].path);
	}
	free(as->maps);
	free(as);
}

const struct uvs_mapping *uvs_address_space_find(const struct uvs_address_space *as,
						 uint64_t addr)
{
	size_t lo;

	if (!as)
		return NULL;
	lo = uvs_array_count_le(as->maps, as->n, sizeof(*as->maps),
				offsetof(struct uvs_mapping, start), addr);
	if (lo == 0 || addr >= as->maps[lo - 1].end)
		return NULL;
	return &as->maps[lo - 1];
}

size_t uvs_address_space_count(const struct uvs_address_space *as)
{
	return as ? as->n : 0;
}

const struct uvs_mapping *uvs_address_space_at(const struct uvs_address_space *as, size_t i)
{
	return as && i < as->n ? &as->maps[i] : NULL;
}

bool uvs_mapping_is_jit(const struct uvs_mapping *m)
{
	return m && m->anonymous && m->exec;
}

uint64_t uvs_mapping_file_offset(const struct uvs_mapping *m, uint64_t addr)
{
	return addr - m->start + m->offset;
}

/* O_NONBLOCK: a FIFO planted where a mapped file was must not hang us. */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK)

int uvs_mapping_open(int pid, const struct uvs_mapping *m)
{
	char path[UVS_PATH_MAX + 64];
	struct stat st;
	int fd;

	if (!m || m->anonymous)
		return -ENOENT;
	if (m->vdso)
		return uvs_vdso_open();
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	fd = open(path, OPEN_FLAGS);
	if (fd >= 0)
		return fd;
	if (m->deleted || m->path[0] != '/')
		return -errno;
	/* The path is the target's (sanitized: a name with odd bytes does not open, as wanted). */
	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, m->path);
	fd = open(path, OPEN_FLAGS);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (uint64_t)st.st_ino != m->inode) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}
