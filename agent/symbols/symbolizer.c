// SPDX-License-Identifier: MIT
/*
 * The per-process symbolizer: mappings, the objects behind them, the perf map, kallsyms.
 * See symbolizer.h.
 *
 * Objects are remembered by (path, inode) for the symbolizer's whole life, across re-reads of
 * the maps: names handed out point into their indexes, which must outlive every lookup, and a
 * library mapped again need not be opened again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/address_space.h"
#include "symbols/kallsyms.h"
#include "symbols/maps_query.h"
#include "symbols/perf_map.h"
#include "symbols/sorted_array.h"
#include "symbols/symbolizer.h"
#include "symbols/symtab_cache.h"
#include "util/clock.h"

#define V8_BUILTIN_PREFIX "Builtins_"

enum object_state {
	OBJECT_UNOPENED = 0,
	OBJECT_OK,
	OBJECT_NOT_ELF, /* opened, but no ELF object (a memfd with JIT code, a data file) */
	OBJECT_FAILED,  /* could not be opened or indexed: never tried again */
};

struct object {
	char *path;    /* as the maps show it (sanitized) */
	uint64_t inode;
	enum object_state state;
	int fd;
	struct uvs_symtab *symtab;
};

struct uvs_symbolizer {
	int pid;
	struct uvs_address_space *as;
	struct object **map_objects; /* per mapping of as: its object, NULL until first used */
	struct object **objects;
	size_t nobjects, cap_objects;
	struct uvs_perf_map *perf_map;
	uint64_t perf_map_read_ns;   /* when the perf map was last read (monotonic) */
	struct uvs_maps_query *query; /* NULL when the maps could not be opened for it */
};

static int set_address_space(struct uvs_symbolizer *s, struct uvs_address_space *as)
{
	struct object **map_objects = calloc(uvs_address_space_count(as) + 1, sizeof(*map_objects));

	if (!map_objects)
		return -ENOMEM;
	uvs_address_space_free(s->as);
	free(s->map_objects);
	s->as = as;
	s->map_objects = map_objects;
	return 0;
}

static void read_perf_map(struct uvs_symbolizer *s)
{
	s->perf_map_read_ns = uvs_now_mono();
	/* -ENOENT (no --perf-basic-prof) is the usual case; other errors leave what was read. */
	uvs_perf_map_refresh(s->perf_map, s->pid);
}

struct uvs_symbolizer *uvs_symbolizer_new(int pid)
{
	struct uvs_symbolizer *s = calloc(1, sizeof(*s));
	struct uvs_address_space *as;
	int err;

	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->pid = pid;
	s->perf_map = uvs_perf_map_new();
	as = uvs_address_space_read(pid);
	if (!s->perf_map || !as) {
		err = s->perf_map ? errno : ENOMEM;
		uvs_address_space_free(as);
		uvs_symbolizer_free(s);
		errno = err;
		return NULL;
	}
	err = set_address_space(s, as);
	if (err) {
		uvs_address_space_free(as);
		uvs_symbolizer_free(s);
		errno = -err;
		return NULL;
	}
	read_perf_map(s);
	/* Without it, every unknown address costs a read of the maps as before. */
	s->query = uvs_maps_query_new(pid);
	return s;
}

void uvs_symbolizer_free(struct uvs_symbolizer *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nobjects; i++) {
		struct object *o = s->objects[i];

		if (o->fd >= 0)
			close(o->fd);
		uvs_symtab_put(o->symtab);
		free(o->path);
		free(o);
	}
	free(s->objects);
	free(s->map_objects);
	uvs_address_space_free(s->as);
	uvs_perf_map_free(s->perf_map);
	uvs_maps_query_free(s->query);
	free(s);
}

int uvs_symbolizer_refresh(struct uvs_symbolizer *s)
{
	struct uvs_address_space *as;
	int err;

	if (!s)
		return -EINVAL;
	read_perf_map(s);
	as = uvs_address_space_read(s->pid);
	if (!as)
		return -errno;
	err = set_address_space(s, as);
	if (err)
		uvs_address_space_free(as);
	return err;
}

int uvs_symbolizer_may_name(struct uvs_symbolizer *s, uint64_t pc)
{
	uint64_t now = uvs_now_mono();
	int mapped;

	if (!s || !s->query)
		return -EINVAL;
	mapped = uvs_maps_query_may_name(s->query, pc, now);
	/* A refresh read the perf map too: JIT names keep the cadence they had with one a second. */
	if (mapped == 0 && now - s->perf_map_read_ns >= UVS_SYMBOLIZER_PERF_MAP_INTERVAL_NS)
		read_perf_map(s);
	return mapped;
}

/* The object for mapping m (index i), found or added; NULL at the object bound or ENOMEM. */
static struct object *object_for(struct uvs_symbolizer *s, const struct uvs_mapping *m, size_t i)
{
	struct object *o;
	size_t k;

	if (s->map_objects[i])
		return s->map_objects[i];
	for (k = 0; k < s->nobjects; k++) {
		o = s->objects[k];
		if (o->inode == m->inode && !strcmp(o->path, m->path))
			return s->map_objects[i] = o;
	}
	if (s->nobjects == UVS_SYMBOLIZER_MAX_OBJECTS)
		return NULL;
	if (uvs_array_reserve((void **)&s->objects, &s->cap_objects, s->nobjects,
			      sizeof(*s->objects), 32))
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o || !(o->path = strdup(m->path))) {
		free(o);
		return NULL;
	}
	o->inode = m->inode;
	o->fd = -1;
	s->objects[s->nobjects++] = o;
	return s->map_objects[i] = o;
}

/* Opens and indexes o through mapping m, once. */
static void open_object(struct uvs_symbolizer *s, struct object *o, const struct uvs_mapping *m)
{
	if (o->state != OBJECT_UNOPENED)
		return;
	o->fd = uvs_mapping_open(s->pid, m);
	if (o->fd < 0) {
		o->state = OBJECT_FAILED;
		return;
	}
	o->symtab = uvs_symtab_cache_get(o->fd);
	if (o->symtab) {
		o->state = OBJECT_OK;
		return;
	}
	o->state = errno == ENOEXEC ? OBJECT_NOT_ELF : OBJECT_FAILED;
	/* Only an indexed object's fd is lent out (uvs_symbolizer_object_fd): no need to hold it. */
	close(o->fd);
	o->fd = -1;
}

/* The mapping of pc and its opened object (NULL for anonymous memory). -ENOENT: no mapping. */
static int resolve(struct uvs_symbolizer *s, uint64_t pc, const struct uvs_mapping **m,
		   struct object **o)
{
	size_t i;

	*m = uvs_address_space_find(s->as, pc);
	*o = NULL;
	if (!*m)
		return -ENOENT;
	if ((*m)->anonymous)
		return 0;
	i = (size_t)(*m - uvs_address_space_at(s->as, 0));
	*o = object_for(s, *m, i);
	if (*o)
		open_object(s, *o, *m);
	return 0;
}

static void set_name(struct uvs_native_sym *out, const char *name, uint64_t start, uint64_t pc)
{
	out->name = name;
	out->sym_offset = pc - start;
	out->v8_builtin = name && !strncmp(name, V8_BUILTIN_PREFIX, strlen(V8_BUILTIN_PREFIX));
}

/* JIT code: the perf map's name, reading its new lines first when it has none for pc. */
static void symbolize_jit(struct uvs_symbolizer *s, uint64_t pc, struct uvs_native_sym *out)
{
	const char *name;
	uint64_t start;

	out->kind = UVS_ADDR_ANON_EXEC;
	out->elf_addr = pc;
	if (uvs_perf_map_lookup(s->perf_map, pc, &name, &start) &&
	    uvs_now_mono() - s->perf_map_read_ns >= UVS_SYMBOLIZER_PERF_MAP_INTERVAL_NS) {
		read_perf_map(s);
	}
	if (uvs_perf_map_lookup(s->perf_map, pc, &name, &start))
		return;
	set_name(out, name, start, pc);
	out->from_perf_map = true;
}

int uvs_symbolizer_preload(struct uvs_symbolizer *s)
{
	size_t i, n;
	int indexed = 0;

	if (!s)
		return -EINVAL;
	n = uvs_address_space_count(s->as);
	for (i = 0; i < n; i++) {
		const struct uvs_mapping *m = uvs_address_space_at(s->as, i);
		struct object *o;

		if (!m->exec || m->anonymous)
			continue;
		o = object_for(s, m, i);
		if (!o)
			continue;
		if (o->state == OBJECT_UNOPENED) {
			open_object(s, o, m);
			indexed += o->state == OBJECT_OK;
		}
	}
	return indexed;
}

int uvs_symbolize_user(struct uvs_symbolizer *s, uint64_t pc, struct uvs_native_sym *out)
{
	const struct uvs_mapping *m;
	struct uvs_symtab_hit hit;
	struct object *o;
	uint64_t vaddr;

	if (!s || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (resolve(s, pc, &m, &o))
		return -ENOENT;
	/* Anonymous memory that is not executable (now): no code, unless the maps are stale. */
	if (m->anonymous && !m->exec)
		return -ENOENT;
	/* Executable memory of no ELF object: JIT code (V8's, or in a memfd). */
	if (m->exec && (m->anonymous || (o && o->state == OBJECT_NOT_ELF))) {
		symbolize_jit(s, pc, out);
		return 0;
	}
	out->kind = UVS_ADDR_OBJECT;
	/* The object's copy of the path: the mapping's goes with the next refresh. */
	out->object = o ? o->path : NULL;
	if (!o || o->state != OBJECT_OK ||
	    uvs_symtab_offset_to_vaddr(o->symtab, uvs_mapping_file_offset(m, pc), &vaddr))
		return 0;
	out->elf_addr = vaddr;
	out->load_bias = pc - vaddr;
	if (!uvs_symtab_lookup(o->symtab, vaddr, &hit))
		set_name(out, hit.name, hit.start, vaddr);
	return 0;
}

int uvs_symbolize_kernel(struct uvs_symbolizer *s, uint64_t pc, struct uvs_native_sym *out)
{
	const struct uvs_kallsyms *k;
	const char *name;
	uint64_t start;

	if (!s || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = UVS_ADDR_KERNEL;
	out->elf_addr = pc;
	k = uvs_kallsyms_system();
	if (!k || uvs_kallsyms_restricted(k))
		out->name = "[kernel]";
	else if (!uvs_kallsyms_lookup(k, pc, &name, &start))
		set_name(out, name, start, pc);
	return 0;
}

int uvs_symbolizer_object_fd(struct uvs_symbolizer *s, uint64_t pc, int *fd, uint64_t *bias,
			     const char **path)
{
	const struct uvs_mapping *m;
	struct object *o;
	uint64_t vaddr;

	if (!s || !fd || !bias)
		return -EINVAL;
	if (resolve(s, pc, &m, &o) || !o || o->state != OBJECT_OK ||
	    uvs_symtab_offset_to_vaddr(o->symtab, uvs_mapping_file_offset(m, pc), &vaddr))
		return -ENOENT;
	*fd = o->fd;
	*bias = pc - vaddr;
	if (path)
		*path = o->path;
	return 0;
}
