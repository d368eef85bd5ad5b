// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "target/importers.h"

/* A process maps a few dozen objects; far more is not worth reading one by one. */
#define MAX_OBJECTS 4096

struct search {
	pid_t pid;
	const char *except;
	const char *name;
	char *who;
	size_t cap;
	size_t objects;
	size_t unreadable;
	uint64_t last_inode; /* an object's executable mappings are usually one line; skip repeats */
};

static int check_mapping(const struct uvs_map *m, void *arg)
{
	struct search *s = arg;
	char path[96];
	struct uvs_elf *elf;
	int fd, imports;

	if (!m->exec || m->path[0] != '/' || strcmp(m->path, s->except) == 0 ||
	    (m->inode && m->inode == s->last_inode))
		return 0;
	s->last_inode = m->inode;
	if (++s->objects > MAX_OBJECTS)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)s->pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	/* O_NONBLOCK: a FIFO planted where a mapped file was must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	elf = fd >= 0 ? uvs_elf_open_fd(fd) : NULL;
	if (fd >= 0)
		close(fd);
	imports = elf ? uvs_elf_imports(elf, s->name) : -EINVAL;
	uvs_elf_close(elf);
	if (imports < 0) {
		s->unreadable++;
		return 0;
	}
	if (imports == 0)
		return 0;
	snprintf(s->who, s->cap, "%s", m->path);
	return 1;
}

int uvs_target_importer(const struct uvs_target *t, const struct uvs_object *except,
			const char *name, char *who, size_t cap, size_t *unreadable)
{
	struct search s = { .pid = t->pid, .except = except->path, .name = name, .who = who,
			    .cap = cap };
	int ret;

	if (cap)
		who[0] = '\0';
	ret = uvs_maps_foreach(t->pid, check_mapping, &s);
	if (unreadable)
		*unreadable = s.unreadable;
	return ret;
}
