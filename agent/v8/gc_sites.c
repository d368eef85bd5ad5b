// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "symbols/demangle.h"
#include "util/log.h"
#include "v8/gc_sites.h"

struct scan {
	const char *prefix;
	char ident[96];     /* "24PerformGarbageCollection": the mangled form of the last name */
	uint64_t *file_offset;
	uint64_t *addr;
	size_t n, cap;
	bool full;
};

/*
 * An Itanium-mangled name spells every identifier as <length><identifier>, so a function named
 * by the prefix has the prefix's last identifier in its raw name: only those few symbols are
 * demangled, not the 100,000 of a node binary.
 */
static int mangled_ident(const char *prefix, char *out, size_t cap)
{
	const char *end = strchr(prefix, '('), *start = prefix, *p;

	if (!end)
		return -EINVAL;
	for (p = prefix; p + 1 < end; p++)
		if (p[0] == ':' && p[1] == ':')
			start = p + 2;
	if (end == start ||
	    snprintf(out, cap, "%d%.*s", (int)(end - start), (int)(end - start), start) >= (int)cap)
		return -EINVAL;
	return 0;
}

static int visit(void *ctx, const char *name, const struct uvs_elf_symbol *sym)
{
	struct scan *s = ctx;
	size_t i;

	if (!strstr(name, s->ident) || strstr(name, ".cold") ||
	    !uvs_demangled_has_prefix(name, s->prefix))
		return 0;
	for (i = 0; i < s->n; i++)
		if (s->file_offset[i] == sym->file_offset)
			return 0; /* the same function in .dynsym after .symtab */
	if (s->n == s->cap) {
		s->full = true;
		return 0;
	}
	s->file_offset[s->n] = sym->file_offset;
	s->addr[s->n++] = sym->addr;
	return 0;
}

int uvs_gc_sites_scan(struct uvs_elf *elf, const char *prefix, uint64_t *file_offset,
		      uint64_t *addr, size_t cap)
{
	struct scan s = { .prefix = prefix, .file_offset = file_offset, .addr = addr, .cap = cap };
	int err = mangled_ident(prefix, s.ident, sizeof(s.ident));

	if (!err)
		err = uvs_elf_foreach_function(elf, visit, &s);
	if (err)
		return err;
	if (s.full)
		uvs_debug("more than %zu functions named %s...: probing the first %zu", cap, prefix,
			  cap);
	return (int)s.n;
}

int uvs_gc_sites_find(const struct uvs_target *t, struct uvs_gc_sites *out, char *why, size_t cap)
{
	const struct uvs_object *o = t->has_node_object ? &t->node : &t->uv;
	int n;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->object = o;
	n = uvs_gc_sites_scan(o->elf, UVS_GC_PERFORM_PREFIX, out->file_offset, out->addr,
			      UVS_GC_MAX_SITES);
	if (n <= 0) {
		snprintf(why, cap, "%s has no symbol v8::internal::Heap::PerformGarbageCollection "
			 "(stripped, or not a node with V8)", o->path);
		return n < 0 ? n : -ENOENT;
	}
	if (!uvs_object_build_id_in_memory(t, o)) {
		snprintf(why, cap, "the build-id of %s was not found in the process's memory: "
			 "refusing to place uprobes in a file that may not be the one running",
			 o->path);
		return -ESTALE;
	}
	out->n = (size_t)n;
	for (i = 0; i < out->n; i++) {
		out->addr[i] += o->bias;
		if (!uvs_object_maps_code(t, o, out->addr[i])) {
			snprintf(why, cap, "V8 is not running from %s (node --use-largepages "
				 "copies its code to anonymous memory): a uprobe there would "
				 "never fire", o->path);
			return -EFAULT;
		}
	}
	return 0;
}
