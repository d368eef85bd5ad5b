// SPDX-License-Identifier: MIT
/*
 * The address-sorted symbol index of one ELF object. See symtab.h.
 *
 * Building runs in two passes: the raw symbols are gathered (their names still point into
 * libelf's string tables) and sorted, aliases at one address are merged, sizeless symbols get
 * their extent; only then are the survivors demangled and copied, so no time goes to names
 * that are dropped.
 */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/sorted_array.h"
#include "symbols/demangle.h"
#include "symbols/symtab.h"
#include "util/text.h"

/* Names of one index, all in one buffer: offsets are 32-bit, so it stays under 4 GiB. */
#define UVS_SYMTAB_MAX_NAME_BYTES (1u << 30)
/* How far back a lookup looks for a symbol that encloses a smaller one before it. */
#define UVS_SYMTAB_ENCLOSING_SCAN 16

struct entry {
	uint64_t addr;
	uint32_t size; /* clamped: no function is 4 GiB long */
	uint32_t name; /* offset in names */
};
_Static_assert(sizeof(struct entry) == 16, "symtab entry layout");

struct uvs_symtab {
	int refs;
	struct entry *entries;
	size_t n;
	char *names;
	size_t names_len;
	struct uvs_elf_segment segs[UVS_SYMTAB_MAX_SEGMENTS];
	size_t nsegs;
};

/* A symbol as gathered, before merging. */
struct raw {
	uint64_t addr, size, section_end;
	const char *name; /* inside libelf's copy of the string table */
	unsigned rank;    /* lower wins among aliases at one address */
};

struct gather {
	struct raw *v;
	size_t n, cap;
};

static bool wanted(const struct uvs_elf_sym_entry *s)
{
	if (s->type == STT_FUNC || s->type == STT_GNU_IFUNC)
		return true;
	/* V8's embedded builtins are NOTYPE labels with sizes in some builds. */
	return s->type == STT_NOTYPE && s->size && s->exec_section;
}

/*
 * Among aliases (the C1/C2 constructors, a function and its .dynsym copy) the one with a size
 * from .symtab that is global names the address best; what is left is equal for a profile.
 */
static unsigned rank_of(const struct uvs_elf_sym_entry *s)
{
	return (s->size ? 0 : 4) + (s->from_dynsym ? 2 : 0) + (s->bind == STB_LOCAL ? 1 : 0);
}

static int gather_one(const struct uvs_elf_sym_entry *s, void *arg)
{
	struct gather *g = arg;

	if (!wanted(s))
		return 0;
	if (g->n == 2 * (size_t)UVS_SYMTAB_MAX_SYMS)
		return 0; /* both tables full: a bound, not an error */
	if (uvs_array_reserve((void **)&g->v, &g->cap, g->n, sizeof(*g->v), 1024))
		return -ENOMEM;
	g->v[g->n++] = (struct raw){
		.addr = s->value, .size = s->size, .section_end = s->section_end,
		.name = s->name, .rank = rank_of(s),
	};
	return 0;
}

static int cmp_raw(const void *a, const void *b)
{
	const struct raw *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->name, y->name); /* a stable choice whatever qsort does */
}

/* Keeps the best-ranked symbol of each address, in place; returns how many are left. */
static size_t merge_aliases(struct raw *v, size_t n)
{
	size_t i, out = 0;

	for (i = 0; i < n; i++) {
		if (out && v[out - 1].addr == v[i].addr)
			continue;
		v[out++] = v[i];
	}
	return out;
}

/* A sizeless symbol reaches the next symbol, but not past the end of its section. */
static uint64_t extent(const struct raw *v, size_t n, size_t i)
{
	uint64_t end = v[i].section_end;

	if (v[i].size)
		return v[i].size;
	if (i + 1 < n && v[i + 1].addr < end)
		end = v[i + 1].addr;
	return end > v[i].addr ? end - v[i].addr : 1;
}

/* Appends the display form of raw name to t->names; returns its offset, or -ENOMEM. */
static int64_t add_name(struct uvs_symtab *t, size_t *cap, const char *raw)
{
	/* A name past the bound is not demangled: libiberty's time grows with its length. */
	char *dem = strnlen(raw, UVS_SYMTAB_MAX_NAME) < UVS_SYMTAB_MAX_NAME ? uvs_demangle(raw) : NULL;
	const char *s = dem ? dem : raw;
	size_t len = strnlen(s, UVS_SYMTAB_MAX_NAME - 1);
	int64_t off = (int64_t)t->names_len;

	if (t->names_len + len + 1 > UVS_SYMTAB_MAX_NAME_BYTES) {
		free(dem);
		return -ENOMEM;
	}
	if (t->names_len + len + 1 > *cap) {
		size_t ncap = *cap * 2 > t->names_len + len + 1 ? *cap * 2 : t->names_len + len + 1;
		char *p = realloc(t->names, ncap);

		if (!p) {
			free(dem);
			return -ENOMEM;
		}
		t->names = p;
		*cap = ncap;
	}
	memcpy(t->names + t->names_len, s, len);
	t->names[t->names_len + len] = '\0';
	uvs_sanitize(t->names + t->names_len, len + 1);
	t->names_len += len + 1;
	free(dem);
	return off;
}

static int fill_entries(struct uvs_symtab *t, const struct raw *v, size_t n)
{
	size_t i, cap = 64 * 1024;

	t->entries = malloc((n ? n : 1) * sizeof(*t->entries));
	t->names = malloc(cap);
	if (!t->entries || !t->names)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint64_t size = extent(v, n, i);
		int64_t name = add_name(t, &cap, v[i].name);

		if (name < 0)
			return (int)name;
		t->entries[i] = (struct entry){
			.addr = v[i].addr,
			.size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size,
			.name = (uint32_t)name,
		};
	}
	t->n = n;
	/* Give back what the doubling over-allocated: indexes live long. */
	if (t->names_len) {
		char *p = realloc(t->names, t->names_len);

		if (p)
			t->names = p;
	}
	return 0;
}

struct uvs_symtab *uvs_symtab_build(struct uvs_elf *elf)
{
	struct gather g = { 0 };
	struct uvs_symtab *t;
	int err;

	t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->refs = 1;
	t->nsegs = uvs_elf_segments(elf, t->segs, UVS_SYMTAB_MAX_SEGMENTS);
	if (t->nsegs > UVS_SYMTAB_MAX_SEGMENTS)
		t->nsegs = UVS_SYMTAB_MAX_SEGMENTS;
	err = uvs_elf_foreach_symbol(elf, UVS_SYMTAB_MAX_SYMS, gather_one, &g);
	if (!err) {
		if (g.n)
			qsort(g.v, g.n, sizeof(*g.v), cmp_raw);
		g.n = merge_aliases(g.v, g.n);
		err = fill_entries(t, g.v, g.n);
	}
	free(g.v);
	if (err) {
		uvs_symtab_put(t);
		errno = -err;
		return NULL;
	}
	return t;
}

struct uvs_symtab *uvs_symtab_get(struct uvs_symtab *t)
{
	if (t)
		__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
	return t;
}

void uvs_symtab_put(struct uvs_symtab *t)
{
	if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(t->entries);
	free(t->names);
	free(t);
}

static bool covers(const struct entry *e, uint64_t addr)
{
	return addr >= e->addr && addr - e->addr < e->size;
}

int uvs_symtab_lookup(const struct uvs_symtab *t, uint64_t addr, struct uvs_symtab_hit *out)
{
	size_t lo, i, stop;

	if (!t || !out)
		return -EINVAL;
	/* Just past the last entry starting at or before addr. */
	lo = uvs_array_count_le(t->entries, t->n, sizeof(*t->entries), offsetof(struct entry, addr),
				addr);
	if (lo == 0)
		return -ENOENT;
	/*
	 * Usually that entry covers addr. When it does not, a larger symbol that starts earlier
	 * may still enclose it (a local label with a size inside a function): look a few back.
	 */
	stop = lo > UVS_SYMTAB_ENCLOSING_SCAN ? lo - UVS_SYMTAB_ENCLOSING_SCAN : 0;
	for (i = lo; i-- > stop;) {
		const struct entry *e = &t->entries[i];

		if (!covers(e, addr))
			continue;
		out->name = t->names + e->name;
		out->start = e->addr;
		out->size = e->size;
		return 0;
	}
	return -ENOENT;
}

int uvs_symtab_offset_to_vaddr(const struct uvs_symtab *t, uint64_t offset, uint64_t *vaddr)
{
	size_t i;

	if (!t || !vaddr)
		return -EINVAL;
	for (i = 0; i < t->nsegs; i++) {
		const struct uvs_elf_segment *s = &t->segs[i];

		if (offset >= s->offset && offset - s->offset < s->filesz) {
			*vaddr = offset - s->offset + s->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

size_t uvs_symtab_count(const struct uvs_symtab *t)
{
	return t ? t->n : 0;
}

size_t uvs_symtab_memory(const struct uvs_symtab *t)
{
	return t ? sizeof(*t) + t->n * sizeof(*t->entries) + t->names_len : 0;
}
