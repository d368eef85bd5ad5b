// SPDX-License-Identifier: MIT
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/func_dwarf.h"
#include "util/text.h"

/*
 * Bounds on what one function's DWARF may make us walk. uv_run in official node builds has
 * about 150 DIEs, 20 call sites, 60 inlined ranges and nests 5 deep.
 */
#define WALK_DEPTH_MAX 32
#define WALK_DIES_MAX 100000
#define CALLS_MAX 1024
#define INLINES_MAX 4096
#define RANGES_PER_DIE_MAX 1024
#define CUS_MAX 100000
#define NAME_MAX_BYTES 128
#define DEBUG_SECTIONS_MAX 64

/* Where libdw keeps the .debug_* sections in memory: the bounds of the strings it returns. */
struct debug_data {
	const char *start[DEBUG_SECTIONS_MAX];
	size_t size[DEBUG_SECTIONS_MAX];
	size_t n;
};

struct walk {
	struct uvs_func_dwarf *out;
	const struct debug_data *debug;
	size_t cap_calls, cap_inlines;
	size_t dies;
};


/*
 * libdw hands out a DW_FORM_string or strp name as a pointer into section data and does not
 * check that a NUL ends it inside the section: a corrupt file can make it run off the end.
 * The sections are the ones libdw loaded (elf_getdata returns the same buffers it holds).
 */
static void find_debug_data(Elf *elf, struct debug_data *dd)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, n = 0;

	dd->n = 0;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return;
	while ((scn = elf_nextscn(elf, scn)) && n++ < 65536 && dd->n < DEBUG_SECTIONS_MAX) {
		const char *name;
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || (strncmp(name, ".debug_", 7) && strncmp(name, ".zdebug_", 8)))
			continue;
		/* Only what libdw already read: reading anything more is not our business. */
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		dd->start[dd->n] = data->d_buf;
		dd->size[dd->n++] = data->d_size;
	}
}


/* True when s lies in one of the debug sections and a NUL ends it there. */
static bool bounded_string(const struct debug_data *dd, const char *s)
{
	size_t i;

	for (i = 0; i < dd->n; i++) {
		if (s >= dd->start[i] && s < dd->start[i] + dd->size[i])
			return memchr(s, '\0', dd->start[i] + dd->size[i] - s) != NULL;
	}
	return false;
}


/* A copy of the DIE's name (following DW_AT_abstract_origin / specification), sanitized. */
static char *die_name(const struct walk *w, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *s;
	char *copy;

	if (!dwarf_attr_integrate(die, DW_AT_name, &attr))
		return NULL;
	s = dwarf_formstring(&attr);
	if (!s || !bounded_string(w->debug, s))
		return NULL;
	copy = strndup(s, NAME_MAX_BYTES - 1);
	if (copy)
		uvs_sanitize(copy, NAME_MAX_BYTES);
	return copy;
}


static int grow(void **arr, size_t *cap, size_t n, size_t elem, size_t max)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -E2BIG;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > max)
		ncap = max;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}


/* The callee of a call site: DW_AT_call_origin (DWARF 5) or DW_AT_abstract_origin (GNU). */
static char *call_site_callee(const struct walk *w, Dwarf_Die *site)
{
	Dwarf_Attribute attr;
	Dwarf_Die callee;

	if (!dwarf_attr(site, DW_AT_call_origin, &attr) &&
	    !dwarf_attr(site, DW_AT_abstract_origin, &attr))
		return NULL;
	if (!dwarf_formref_die(&attr, &callee))
		return NULL;
	return die_name(w, &callee);
}


static int add_call_site(struct walk *w, Dwarf_Die *site)
{
	struct uvs_func_dwarf *out = w->out;
	Dwarf_Attribute attr;
	Dwarf_Addr ret;
	int err;

	/* DWARF 5 names the return address; a GNU call site's low_pc is the return address. */
	if (dwarf_attr(site, DW_AT_call_return_pc, &attr)) {
		if (dwarf_formaddr(&attr, &ret) != 0)
			return 0;
	} else if (dwarf_lowpc(site, &ret) != 0) {
		return 0;
	}
	/* A call's return address is past its first byte, at most at the function's end. */
	if (ret <= out->low || ret > out->high)
		return 0;
	err = grow((void **)&out->calls, &w->cap_calls, out->ncalls, sizeof(*out->calls),
		   CALLS_MAX);
	if (err)
		return err;
	out->calls[out->ncalls].ret = ret;
	out->calls[out->ncalls].callee = call_site_callee(w, site);
	out->ncalls++;
	return 0;
}


static int add_inline_range(struct walk *w, const char *name, Dwarf_Addr start, Dwarf_Addr end)
{
	struct uvs_func_dwarf *out = w->out;
	char *copy;
	int err;

	if (start < out->low)
		start = out->low;
	if (end > out->high)
		end = out->high;
	if (start >= end)
		return 0;
	err = grow((void **)&out->inlines, &w->cap_inlines, out->ninlines, sizeof(*out->inlines),
		   INLINES_MAX);
	if (err)
		return err;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	out->inlines[out->ninlines++] = (struct uvs_dwarf_inline){ start, end, copy };
	return 0;
}


static int add_inlined(struct walk *w, Dwarf_Die *die)
{
	Dwarf_Addr base, start, end;
	ptrdiff_t off = 0;
	char *name = die_name(w, die);
	int err = 0, n = 0;

	if (!name)
		return 0; /* an instance we cannot name cannot be a phase */
	while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0) {
		if (++n > RANGES_PER_DIE_MAX) {
			err = -E2BIG;
			break;
		}
		err = add_inline_range(w, name, start, end);
		if (err)
			break;
	}
	free(name);
	return err;
}


static int walk_children(struct walk *w, Dwarf_Die *parent, int depth)
{
	Dwarf_Die child;
	int err = 0, r;

	if (depth > WALK_DEPTH_MAX)
		return -E2BIG;
	if (dwarf_child(parent, &child) != 0)
		return 0;
	do {
		if (++w->dies > WALK_DIES_MAX)
			return -E2BIG;
		switch (dwarf_tag(&child)) {
		case DW_TAG_call_site:
		case DW_TAG_GNU_call_site:
			err = add_call_site(w, &child);
			break;
		case DW_TAG_inlined_subroutine:
			err = add_inlined(w, &child);
			if (!err)
				err = walk_children(w, &child, depth + 1);
			break;
		case DW_TAG_lexical_block:
			err = walk_children(w, &child, depth + 1);
			break;
		default:
			break;
		}
		if (err)
			return err;
		r = dwarf_siblingof(&child, &child);
	} while (r == 0);
	return r < 0 ? -EINVAL : 0;
}


/* The CU holding entry: from .debug_aranges, else by asking each CU (bounded). */
static bool find_cu(Dwarf *dw, uint64_t entry, Dwarf_Die *cu)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	int n = 0;

	if (dwarf_addrdie(dw, entry, cu))
		return true;
	while (n++ < CUS_MAX && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		if (dwarf_offdie(dw, off + hsize, cu) && dwarf_haspc(cu, entry) > 0)
			return true;
		off = next;
	}
	return false;
}


/* The concrete DW_TAG_subprogram (a direct child of the CU) whose entry is at entry. */
static bool find_subprogram(Dwarf_Die *cu, uint64_t entry, Dwarf_Die *fn)
{
	Dwarf_Addr lo;
	int n = 0;

	if (dwarf_child(cu, fn) != 0)
		return false;
	do {
		if (dwarf_tag(fn) != DW_TAG_subprogram)
			continue;
		if (dwarf_lowpc(fn, &lo) == 0) {
			if (lo == entry)
				return true;
		} else if (dwarf_haspc(fn, entry) > 0) {
			/* Split hot and cold (DW_AT_ranges, no low_pc): the range that starts here. */
			Dwarf_Addr base, start, end;
			ptrdiff_t off = 0;
			int k = 0;

			while (k++ < RANGES_PER_DIE_MAX &&
			       (off = dwarf_ranges(fn, off, &base, &start, &end)) > 0)
				if (start == entry)
					return true;
		}
	} while (++n < WALK_DIES_MAX && dwarf_siblingof(fn, fn) == 0);
	return false;
}


static int read_function(Dwarf *dw, const struct debug_data *dd, uint64_t entry,
			 struct uvs_func_dwarf *out)
{
	struct walk w = { .out = out, .debug = dd };
	Dwarf_Addr high;
	Dwarf_Die cu, fn;

	if (!find_cu(dw, entry, &cu) || !find_subprogram(&cu, entry, &fn))
		return -ENODATA;
	/* A function split into hot and cold parts has DW_AT_ranges: keep the hot part. */
	if (dwarf_highpc(&fn, &high) != 0) {
		Dwarf_Addr base, start, end;

		if (dwarf_ranges(&fn, 0, &base, &start, &end) <= 0 || start != entry)
			return -EINVAL;
		high = end;
	}
	if (high <= entry)
		return -EINVAL;
	out->low = entry;
	out->high = high;
	return walk_children(&w, &fn, 0);
}


/* One register or frame slot at pc, from the location (list) of die; -ENOENT otherwise. */
static int location_at(Dwarf_Die *die, uint64_t pc, struct uvs_dwarf_var_loc *loc)
{
	Dwarf_Attribute attr;
	Dwarf_Op *expr[1];
	size_t len[1];
	int n;

	if (!dwarf_attr(die, DW_AT_location, &attr))
		return -ENOENT;
	n = dwarf_getlocation_addr(&attr, pc, expr, len, 1);
	if (n != 1 || len[0] != 1)
		return -ENOENT;
	memset(loc, 0, sizeof(*loc));
	if (expr[0][0].atom >= DW_OP_reg0 && expr[0][0].atom <= DW_OP_reg31) {
		loc->reg = expr[0][0].atom - DW_OP_reg0;
		return 0;
	}
	if (expr[0][0].atom == DW_OP_regx && expr[0][0].number < 64) {
		loc->reg = (int)expr[0][0].number;
		return 0;
	}
	if (expr[0][0].atom == DW_OP_breg6) {
		loc->reg = 6;
		loc->in_memory = true;
		loc->rbp_offset = (int64_t)expr[0][0].number;
		return 0;
	}
	return -ENOENT;
}

/* Depth-first through lexical blocks (not into inlined functions: their names are theirs). */
static int find_var(const struct debug_data *dd, Dwarf_Die *parent, const char *name,
		    uint64_t pc, struct uvs_dwarf_var_loc *loc, int depth, size_t *dies)
{
	Dwarf_Die child;
	int err = -ENODATA;

	if (depth > WALK_DEPTH_MAX || dwarf_child(parent, &child) != 0)
		return -ENODATA;
	do {
		int tag = dwarf_tag(&child);
		const char *n;

		if (++*dies > WALK_DIES_MAX)
			return -E2BIG;
		if (tag == DW_TAG_variable || tag == DW_TAG_formal_parameter) {
			Dwarf_Attribute attr;

			/* An out-of-line copy names its variables through DW_AT_abstract_origin. */
			n = dwarf_attr_integrate(&child, DW_AT_name, &attr) ? dwarf_formstring(&attr) :
									       NULL;
			if (n && bounded_string(dd, n) && strcmp(n, name) == 0) {
				int e = location_at(&child, pc, loc);

				if (e == 0)
					return 0;
				err = e;
			}
		} else if (tag == DW_TAG_lexical_block && dwarf_haspc(&child, pc) > 0) {
			int e = find_var(dd, &child, name, pc, loc, depth + 1, dies);

			if (e == 0 || e == -E2BIG)
				return e;
			if (e != -ENODATA)
				err = e;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return err;
}

/* Opens the DWARF of the object on fd (the fd stays the caller's) and runs fn on it. */
static int with_dwarf(int fd, int (*fn)(Dwarf *dw, const struct debug_data *dd, void *ctx),
		      void *ctx)
{
	struct debug_data dd;
	Dwarf *dw;
	Elf *elf;
	int err;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -EINVAL;
	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!dw) {
		elf_end(elf);
		return -ENODATA;
	}
	find_debug_data(elf, &dd);
	err = fn(dw, &dd, ctx);
	dwarf_end(dw);
	elf_end(elf);
	return err;
}

struct var_query {
	uint64_t entry, pc;
	const char *name;
	struct uvs_dwarf_var_loc *loc;
};

static int var_loc_in(Dwarf *dw, const struct debug_data *dd, void *ctx)
{
	struct var_query *q = ctx;
	Dwarf_Die cu, fn;
	size_t dies = 0;

	if (!find_cu(dw, q->entry, &cu) || !find_subprogram(&cu, q->entry, &fn))
		return -ENODATA;
	return find_var(dd, &fn, q->name, q->pc, q->loc, 0, &dies);
}

int uvs_func_dwarf_var_loc(int fd, uint64_t entry, const char *name, uint64_t pc,
			   struct uvs_dwarf_var_loc *loc)
{
	struct var_query q = { .entry = entry, .pc = pc, .name = name, .loc = loc };

	return with_dwarf(fd, var_loc_in, &q);
}

struct function_query {
	uint64_t entry;
	struct uvs_func_dwarf *out;
};

static int function_in(Dwarf *dw, const struct debug_data *dd, void *ctx)
{
	struct function_query *q = ctx;

	return read_function(dw, dd, q->entry, q->out);
}

int uvs_func_dwarf_read(int fd, uint64_t entry, struct uvs_func_dwarf *out)
{
	struct function_query q = { .entry = entry, .out = out };
	int err;

	memset(out, 0, sizeof(*out));
	err = with_dwarf(fd, function_in, &q);
	if (err)
		uvs_func_dwarf_release(out);
	return err;
}


void uvs_func_dwarf_release(struct uvs_func_dwarf *d)
{
	size_t i;

	for (i = 0; i < d->ncalls; i++)
		free(d->calls[i].callee);
	for (i = 0; i < d->ninlines; i++)
		free(d->inlines[i].name);
	free(d->calls);
	free(d->inlines);
	memset(d, 0, sizeof(*d));
}
