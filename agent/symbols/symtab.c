// SPDX-License-Identifier: MIT
/*
 * The address-sorted symbol index of one ELF object. See symtab.h.
 *
 * Building gathers the raw symbols (their names still point into libelf's string tables),
 * sorts them, merges aliases at one address and gives sizeless symbols their extent. An entry
 * keeps where its name is in the file's string table, not the name: node's 78,000 demangled
 * names are 9 MB and demangling them is most of the build, while a profile names a few
 * thousand. A name is read (pread on the index's own descriptor of the file), demangled and
 * kept the first time a lookup returns its entry.
 */
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/demangle.h"
#include "symbols/name_arena.h"
#include "symbols/sorted_array.h"
#include "symbols/symtab.h"
#include "util/hash.h"
#include "util/id_table.h"

/* How far back a lookup looks for a symbol that encloses a smaller one before it. */
#define UVS_SYMTAB_ENCLOSING_SCAN 16
/* An entry's size field: the extent in the low bits, which string table in the top one. */
#define SIZE_MASK 0x7fffffffu
#define DYNSTR_BIT 0x80000000u

struct entry {
	uint64_t addr;
	uint32_t size; /* extent, clamped (no function is 2 GiB long); DYNSTR_BIT: in .dynstr */
	uint32_t name; /* st_name: the name's offset in its string table */
};
_Static_assert(sizeof(struct entry) == 16, "symtab entry layout");

/* A name made for an entry (entries never change: the index of made names is beside them). */
struct made {
	const char *name; /* in the arena */
	uint32_t entry;
	uint32_t pad;
};

/* A string table's range in the file. */
struct strtab {
	uint64_t offset, size;
};

struct uvs_symtab {
	int refs;
	int fd; /* the object's file, names are read from; -1 when the index has no entries */
	struct entry *entries;
	size_t n;
	struct strtab strtab[2]; /* .symtab's, .dynsym's */
	/* Made names: lookups run on several threads (symbolizers of different targets). */
	pthread_mutex_t lock;
	struct uvs_name_arena names;
	bool names_full; /* a name found no room: later ones are not read for nothing */
	struct made *made;
	size_t nmade, made_cap;
	struct uvs_id_table made_ids;
	struct uvs_elf_segment segs[UVS_SYMTAB_MAX_SEGMENTS];
	size_t nsegs;
};

/* A symbol as gathered, before merging. */
struct raw {
	uint64_t addr, size, section_end;
	const char *name;     /* inside libelf's copy of the string table */
	uint32_t name_offset; /* st_name */
	bool from_dynsym;
	unsigned rank;        /* lower wins among aliases at one address */
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
		.name = s->name, .name_offset = s->name_offset, .from_dynsym = s->from_dynsym,
		.rank = rank_of(s),
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

static int fill_entries(struct uvs_symtab *t, const struct raw *v, size_t n)
{
	size_t i;

	t->entries = malloc((n ? n : 1) * sizeof(*t->entries));
	if (!t->entries)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint64_t size = extent(v, n, i);

		t->entries[i] = (struct entry){
			.addr = v[i].addr,
			.size = (size > SIZE_MASK ? SIZE_MASK : (uint32_t)size) |
				(v[i].from_dynsym ? DYNSTR_BIT : 0),
			.name = v[i].name_offset,
		};
	}
	t->n = n;
	return 0;
}

/* Where names will be read from: the string tables' ranges and a descriptor of the file. */
static int keep_file(struct uvs_symtab *t, struct uvs_elf *elf)
{
	int k;

	for (k = 0; k < 2; k++)
		if (uvs_elf_string_table(elf, k == 1, &t->strtab[k].offset, &t->strtab[k].size))
			t->strtab[k].size = 0; /* no names there: lookups of its entries fail */
	t->fd = uvs_elf_dup_fd(elf);
	return t->fd < 0 ? t->fd : 0;
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
	t->fd = -1;
	pthread_mutex_init(&t->lock, NULL);
	uvs_name_arena_init(&t->names, UVS_SYMTAB_NAME_BYTES);
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
	if (!err && t->n)
		err = keep_file(t, elf);
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
	if (t->fd >= 0)
		close(t->fd);
	free(t->entries);
	uvs_name_arena_free(&t->names);
	free(t->made);
	uvs_id_table_free(&t->made_ids);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static bool covers(const struct entry *e, uint64_t addr)
{
	return addr >= e->addr && addr - e->addr < (e->size & SIZE_MASK);
}

/*
 * Reads e's raw name from the file into buf (UVS_SYMTAB_MAX_NAME + 1 bytes), NUL-terminated;
 * *whole when the name ended before UVS_SYMTAB_MAX_NAME bytes (worth demangling). The read
 * stays inside the string table whatever the entry says: the file is the target's.
 */
static int read_name(const struct uvs_symtab *t, const struct entry *e, char *buf, bool *whole)
{
	const struct strtab *tab = &t->strtab[e->size & DYNSTR_BIT ? 1 : 0];
	size_t want, got = 0;

	if (e->name >= tab->size)
		return -EIO;
	want = tab->size - e->name < UVS_SYMTAB_MAX_NAME ? tab->size - e->name : UVS_SYMTAB_MAX_NAME;
	while (got < want) {
		ssize_t r = pread(t->fd, buf + got, want - got, (off_t)(tab->offset + e->name + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* the file shrank since the index was built */
		got += r;
	}
	if (!got)
		return -EIO;
	buf[got] = '\0';
	*whole = memchr(buf, '\0', got) != NULL;
	if (got == UVS_SYMTAB_MAX_NAME)
		buf[UVS_SYMTAB_MAX_NAME - 1] = '\0'; /* a name that long is kept cut */
	return 0;
}

static bool made_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct uvs_symtab *t = ctx;

	return t->made[id].entry == *(const uint32_t *)key;
}

/* Makes entry i's display name (demangled, sanitized) and keeps it. Called with t->lock. */
static int make_name(struct uvs_symtab *t, uint32_t i, size_t slot, uint64_t hash,
		     const char **name)
{
	char raw[UVS_SYMTAB_MAX_NAME + 1];
	const char *kept;
	char *dem = NULL;
	bool whole;
	int err;

	if (t->names_full)
		return -ENOSPC;
	if (uvs_array_reserve((void **)&t->made, &t->made_cap, t->nmade, sizeof(*t->made), 64))
		return -ENOMEM;
	err = read_name(t, &t->entries[i], raw, &whole);
	if (err)
		return err;
	/* libiberty's time grows with a name's length: a cut one is not demangled. */
	if (whole)
		dem = uvs_demangle(raw);
	kept = uvs_name_arena_add(&t->names, dem ? dem : raw, UVS_SYMTAB_MAX_NAME - 1);
	free(dem);
	if (!kept) {
		t->names_full = t->names.used + UVS_SYMTAB_MAX_NAME > t->names.limit;
		return t->names_full ? -ENOSPC : -ENOMEM;
	}
	t->made[t->nmade] = (struct made){ .name = kept, .entry = i };
	uvs_id_table_insert(&t->made_ids, slot, hash, (uint32_t)t->nmade);
	t->nmade++;
	*name = kept;
	return 0;
}

/* Entry i's display name, made at its first lookup. */
static int name_of(struct uvs_symtab *t, uint32_t i, const char **name)
{
	uint64_t hash = uvs_hash_final(uvs_hash_word(UVS_HASH_SEED, i));
	size_t slot;
	int64_t id;
	int err = 0;

	pthread_mutex_lock(&t->lock);
	if (uvs_id_table_reserve(&t->made_ids)) {
		err = -ENOMEM;
	} else {
		id = uvs_id_table_find(&t->made_ids, hash, made_eq, t, &i, &slot);
		if (id >= 0)
			*name = t->made[id].name;
		else
			err = make_name(t, i, slot, hash, name);
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

int uvs_symtab_lookup(struct uvs_symtab *t, uint64_t addr, struct uvs_symtab_hit *out)
{
	size_t lo, i, stop;
	int err;

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
		err = name_of(t, (uint32_t)i, &out->name);
		if (err)
			return err;
		out->start = e->addr;
		out->size = e->size & SIZE_MASK;
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

size_t uvs_symtab_memory(struct uvs_symtab *t)
{
	size_t n;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = sizeof(*t) + t->n * sizeof(*t->entries) + t->names.used +
	    t->made_cap * sizeof(*t->made) + t->made_ids.cap * sizeof(*t->made_ids.slots);
	pthread_mutex_unlock(&t->lock);
	return n;
}
