// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/elf.h"
#include "unwind/call_insns.h"
#include "unwind/debug_file.h"
#include "unwind/func_dwarf.h"
#include "unwind/loop_phases.h"
#include "uvscope/loop.h"
#include "util/text.h"

/* uv_run is about 1.2 KiB in every official build; more than this is not uv_run. */
#define UV_RUN_BYTES_MAX (64 * 1024)
#define PATH_BYTES_MAX 4096
#define SYMBOL_BYTES_MAX 128

struct uvs_phase_map {
	uint64_t start, end; /* uv_run */
	struct uvs_phase_entry *entries; /* calls by address, then inlined ranges by address */
	size_t nentries, ncalls;
	size_t dwarf_calls_rejected; /* DWARF call sites the decode did not prove */
	char *path;
	char *dwarf_path; /* the separate debug file the DWARF came from; NULL: the object */
};

/* The functions uv_run calls (or inlines) to run a phase, in every libuv 1.x. */
static const struct {
	const char *name;
	int phase;
} phase_functions[] = {
	{ "uv__run_timers", UVS_PHASE_TIMERS },
	{ "uv__run_pending", UVS_PHASE_PENDING },
	{ "uv__run_idle", UVS_PHASE_IDLE },
	{ "uv__run_prepare", UVS_PHASE_PREPARE },
	{ "uv__io_poll", UVS_PHASE_POLL_IO },
	{ "uv__run_check", UVS_PHASE_CHECK },
	{ "uv__run_closing_handles", UVS_PHASE_CLOSE },
};
#define NPHASE_FUNCTIONS (sizeof(phase_functions) / sizeof(phase_functions[0]))


/*
 * The phase a function runs, or -1. A symbol may carry a GCC clone suffix
 * ("uv__io_poll.part.0"): the name counts up to the first dot.
 */
static int phase_of_function(const char *name)
{
	size_t len, i;

	if (!name)
		return -1;
	len = strcspn(name, ".");
	for (i = 0; i < NPHASE_FUNCTIONS; i++) {
		if (strlen(phase_functions[i].name) == len &&
		    memcmp(phase_functions[i].name, name, len) == 0)
			return phase_functions[i].phase;
	}
	return -1;
}


static int set_why(char *why, size_t cap, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_why(char *why, size_t cap, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && cap) {
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return err;
}


/* The inlined range of ranges[0..n) that holds byte, or NULL. */
static const struct uvs_phase_entry *range_at(const struct uvs_phase_entry *ranges, size_t n,
					      uint64_t byte)
{
	size_t i;

	/* Inlined phase ranges are few (under 20): a scan beats keeping them disjoint. */
	for (i = 0; i < n; i++) {
		if (ranges[i].start <= byte && byte < ranges[i].end)
			return &ranges[i];
	}
	return NULL;
}


static const struct uvs_phase_entry *call_at(const struct uvs_phase_map *m, uint64_t ret)
{
	size_t lo = 0, hi = m->ncalls;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->entries[mid].start == ret)
			return &m->entries[mid];
		if (m->entries[mid].start < ret)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}


static const struct uvs_dwarf_call *dwarf_call_at(const struct uvs_func_dwarf *d, uint64_t ret)
{
	size_t i;

	for (i = 0; i < d->ncalls; i++) {
		if (d->calls[i].ret == ret)
			return &d->calls[i];
	}
	return NULL;
}


static int compare_entries(const void *a, const void *b)
{
	const struct uvs_phase_entry *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind == UVS_PHASE_ENTRY_CALL ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}


/* The inlined instances of phase functions become the range entries of the map. */
static int add_inlined_entries(struct uvs_phase_map *m, const struct uvs_func_dwarf *d)
{
	size_t i;

	for (i = 0; i < d->ninlines; i++) {
		const struct uvs_dwarf_inline *in = &d->inlines[i];
		int phase = phase_of_function(in->name);
		/* The DWARF may claim more than the symbol: keep what is in uv_run's code. */
		uint64_t start = in->start > m->start ? in->start : m->start;
		uint64_t end = in->end < m->end ? in->end : m->end;
		struct uvs_phase_entry *e;

		if (phase < 0 || start >= end)
			continue;
		e = &m->entries[m->nentries++];
		*e = (struct uvs_phase_entry){ .start = start, .end = end,
					       .phase = phase, .kind = UVS_PHASE_ENTRY_INLINED,
					       .source = UVS_PHASE_FROM_DWARF };
		e->callee = strdup(in->name);
		if (!e->callee)
			return -ENOMEM;
	}
	return 0;
}


/* The callee of a direct call the DWARF does not name: its symbol, sanitized. */
static char *symbol_name(struct uvs_elf *elf, uint64_t target)
{
	char name[SYMBOL_BYTES_MAX];
	uint64_t start;

	if (uvs_elf_symbol_at(elf, target, name, sizeof(name), &start) != 0 || start != target)
		return NULL;
	uvs_sanitize(name, sizeof(name));
	return strdup(name);
}


/*
 * Every call the decode of uv_run found becomes a call entry: named by its DWARF call site
 * when there is one, else by the symbol at its target. Its phase is the callee's when the
 * callee runs a phase, else the inlined phase around the call, else none.
 */
static void add_call_entries(struct uvs_phase_map *m, size_t nranges,
			     const struct uvs_call_insn *calls, size_t ncalls,
			     const struct uvs_func_dwarf *d, struct uvs_elf *elf)
{
	size_t i;

	for (i = 0; i < ncalls; i++) {
		const struct uvs_dwarf_call *dc = dwarf_call_at(d, calls[i].ret);
		struct uvs_phase_entry *e = &m->entries[m->nentries++];
		const struct uvs_phase_entry *around;

		*e = (struct uvs_phase_entry){ .start = calls[i].ret, .end = calls[i].ret + 1,
					       .kind = UVS_PHASE_ENTRY_CALL,
					       .source = dc ? UVS_PHASE_FROM_DWARF
							    : UVS_PHASE_FROM_DISASM };
		if (dc && dc->callee)
			e->callee = strdup(dc->callee);
		else if (calls[i].direct)
			e->callee = symbol_name(elf, calls[i].target);
		e->phase = phase_of_function(e->callee);
		if (e->phase < 0) {
			around = range_at(m->entries, nranges, calls[i].ret - 1);
			e->phase = around ? around->phase : UVS_PHASE_NONE;
		}
	}
}


static size_t count_rejected(const struct uvs_func_dwarf *d, const struct uvs_call_insn *calls,
			     size_t ncalls)
{
	size_t i, j, rejected = 0;

	for (i = 0; i < d->ncalls; i++) {
		for (j = 0; j < ncalls && calls[j].ret != d->calls[i].ret; j++)
			;
		rejected += j == ncalls;
	}
	return rejected;
}


/* The phases no entry reaches, as names into buf; 0 when every phase is covered. */
static int missing_phases(const struct uvs_phase_map *m, char *buf, size_t cap)
{
	size_t i, j, off = 0;
	int missing = 0;

	buf[0] = '\0';
	for (i = 0; i < NPHASE_FUNCTIONS; i++) {
		for (j = 0; j < m->nentries && m->entries[j].phase != phase_functions[i].phase; j++)
			;
		if (j < m->nentries)
			continue;
		missing++;
		off += snprintf(buf + off, off < cap ? cap - off : 0, "%s%s", missing > 1 ? ", " : "",
				phase_functions[i].name);
	}
	return missing;
}


/*
 * Fills m->entries: the inlined ranges first (a call takes the phase of the range around it),
 * then the calls; sorted at the end, calls before ranges.
 */
static int assemble(struct uvs_phase_map *m, const struct uvs_call_insn *calls, size_t ncalls,
		    const struct uvs_func_dwarf *d, struct uvs_elf *elf)
{
	size_t nranges;
	int err;

	m->entries = calloc(ncalls + d->ninlines + 1, sizeof(*m->entries));
	if (!m->entries)
		return -ENOMEM;
	err = add_inlined_entries(m, d);
	if (err)
		return err;
	nranges = m->nentries;
	add_call_entries(m, nranges, calls, ncalls, d, elf);
	qsort(m->entries, m->nentries, sizeof(*m->entries), compare_entries);
	m->ncalls = m->nentries - nranges;
	m->dwarf_calls_rejected = count_rejected(d, calls, ncalls);
	return 0;
}


/* uv_run's symbol and code bytes; -errno with why set. */
static int read_uv_run(struct uvs_elf *elf, const char *path, struct uvs_elf_symbol *sym,
		       uint8_t **code, char *why, size_t cap)
{
	int err;

	err = uvs_elf_find_function(elf, "uv_run", sym);
	if (err)
		return set_why(why, cap, err, "no uv_run symbol in %s: it does not hold libuv", path);
	if (sym->size == 0 || sym->size > UV_RUN_BYTES_MAX || sym->addr + sym->size < sym->addr)
		return set_why(why, cap, -EINVAL, "uv_run in %s has an unlikely size (%llu bytes)",
			       path, (unsigned long long)sym->size);
	*code = malloc(sym->size);
	if (!*code)
		return set_why(why, cap, -ENOMEM, "out of memory reading uv_run in %s", path);
	err = uvs_elf_read(elf, sym->file_offset, *code, sym->size);
	if (err)
		return set_why(why, cap, err, "cannot read uv_run in %s: %s", path, strerror(-err));
	return 0;
}


/*
 * uv_run's DWARF: in the object, else in its separate debug file under debug_root (NULL: do
 * not look). m->dwarf_path says where it came from when it is not the object.
 */
static int read_dwarf(struct uvs_phase_map *m, int fd, struct uvs_elf *elf, const char *debug_root,
		      uint64_t entry, struct uvs_func_dwarf *d, char *why, size_t cap)
{
	char debug_path[PATH_BYTES_MAX] = "";
	int err = uvs_func_dwarf_read(fd, entry, d), debug_fd;

	if (err == -ENODATA && debug_root) {
		debug_fd = uvs_debug_file_open(elf, debug_root, debug_path, sizeof(debug_path));
		if (debug_fd >= 0) {
			err = uvs_func_dwarf_read(debug_fd, entry, d);
			close(debug_fd);
			if (!err) {
				m->dwarf_path = strdup(debug_path);
				if (!m->dwarf_path)
					return -ENOMEM;
				uvs_sanitize(m->dwarf_path, PATH_BYTES_MAX);
				return 0;
			}
		}
	}
	if (err == -ENODATA)
		return set_why(why, cap, err,
			       "no DWARF for libuv in %s%s%s%s: sampled phases are unavailable%s",
			       m->path, debug_path[0] ? " (nor in " : "", debug_path,
			       debug_path[0] ? ")" : "",
			       uvs_elf_has_symtab(elf) ? "; use --phases" : "");
	if (err)
		return set_why(why, cap, err,
			       "cannot read the DWARF of uv_run in %s (%s): sampled phases are "
			       "unavailable", m->path, strerror(-err));
	return 0;
}


static int build(struct uvs_phase_map *m, int fd, const char *debug_root, char *why, size_t cap)
{
	struct uvs_func_dwarf dwarf = { 0 };
	struct uvs_call_insn *calls = NULL;
	struct uvs_elf_symbol sym;
	struct uvs_elf *elf;
	uint64_t decoded_to;
	uint8_t *code = NULL;
	char missing[256];
	size_t ncalls = 0;
	int err;

	elf = uvs_elf_open_fd(fd);
	if (!elf)
		return set_why(why, cap, -errno, "cannot read %s as ELF: %s", m->path,
			       strerror(errno));
	err = read_uv_run(elf, m->path, &sym, &code, why, cap);
	if (!err)
		err = read_dwarf(m, fd, elf, debug_root, sym.addr, &dwarf, why, cap);
	if (!err) {
		err = uvs_call_insns(code, sym.size, sym.addr, &calls, &ncalls, &decoded_to);
		if (err)
			set_why(why, cap, err, "cannot decode uv_run in %s", m->path);
	}
	if (!err) {
		m->start = sym.addr;
		m->end = sym.addr + sym.size;
		err = assemble(m, calls, ncalls, &dwarf, elf);
		if (err)
			set_why(why, cap, err, "out of memory mapping the phases of %s", m->path);
	}
	if (!err && missing_phases(m, missing, sizeof(missing)))
		err = set_why(why, cap, -ENOENT,
			      "uv_run in %s: no call or inlined range found for %s: sampled phases "
			      "are unavailable", m->path, missing);
	free(calls);
	free(code);
	uvs_func_dwarf_release(&dwarf);
	uvs_elf_close(elf);
	return err;
}


struct uvs_phase_map *uvs_phase_map_new(int elf_fd, const char *path, char *why, size_t cap)
{
	return uvs_phase_map_new_debug(elf_fd, path, UVS_DEBUG_ROOT, why, cap);
}


struct uvs_phase_map *uvs_phase_map_new_debug(int elf_fd, const char *path, const char *debug_root,
					      char *why, size_t cap)
{
	struct uvs_phase_map *m = calloc(1, sizeof(*m));
	int fd = elf_fd, err;

	if (why && cap)
		why[0] = '\0';
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	m->path = path ? strndup(path, PATH_BYTES_MAX - 1) : strdup("libuv");
	if (!m->path) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	uvs_sanitize(m->path, PATH_BYTES_MAX);
	if (fd < 0 && path)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = set_why(why, cap, path ? -errno : -EINVAL, "cannot open %s: %s", m->path,
			      strerror(path ? errno : EINVAL));
	} else {
		err = build(m, fd, debug_root, why, cap);
		if (fd != elf_fd)
			close(fd);
	}
	if (err) {
		uvs_phase_map_free(m);
		errno = -err;
		return NULL;
	}
	return m;
}


void uvs_phase_map_free(struct uvs_phase_map *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nentries; i++)
		free((char *)m->entries[i].callee);
	free(m->entries);
	free(m->path);
	free(m->dwarf_path);
	free(m);
}


bool uvs_phase_map_in_uv_run(const struct uvs_phase_map *m, uint64_t ret_addr)
{
	return ret_addr > m->start && ret_addr - 1 < m->end;
}


int uvs_phase_map_lookup(const struct uvs_phase_map *m, uint64_t ret_addr)
{
	const struct uvs_phase_entry *e;

	if (!uvs_phase_map_in_uv_run(m, ret_addr))
		return UVS_PHASE_NONE;
	e = call_at(m, ret_addr);
	if (!e)
		e = range_at(m->entries + m->ncalls, m->nentries - m->ncalls, ret_addr - 1);
	return e ? e->phase : UVS_PHASE_NONE;
}


int uvs_phase_map_stack_phase(const struct uvs_phase_map *m, const struct uvs_raw_frame *frames,
			      size_t n, uint64_t load_bias, int *frame_index)
{
	size_t i;

	if (frame_index)
		*frame_index = -1;
	if (n > UVS_USER_FRAMES_MAX)
		n = UVS_USER_FRAMES_MAX;
	for (i = n; i-- > 0;) {
		uint64_t ret = frames[i].pc - load_bias + (i == 0);

		if (!uvs_phase_map_in_uv_run(m, ret))
			continue;
		if (frame_index)
			*frame_index = (int)i;
		return uvs_phase_map_lookup(m, ret);
	}
	return UVS_PHASE_NONE;
}


void uvs_phase_map_uv_run(const struct uvs_phase_map *m, uint64_t *start, uint64_t *end)
{
	*start = m->start;
	*end = m->end;
}


size_t uvs_phase_map_entries(const struct uvs_phase_map *m,
			     const struct uvs_phase_entry **entries)
{
	*entries = m->entries;
	return m->nentries;
}


const char *uvs_phase_map_describe(const struct uvs_phase_map *m, char *buf, size_t cap)
{
	size_t i, from_disasm = 0;

	for (i = 0; i < m->ncalls; i++)
		from_disasm += m->entries[i].source == UVS_PHASE_FROM_DISASM;
	if (cap == 0)
		return buf;
	snprintf(buf, cap,
		 "sampled phases: %zu calls (%zu without a DWARF call site), %zu inlined ranges in "
		 "uv_run of %s%s%s%s",
		 m->ncalls, from_disasm, m->nentries - m->ncalls, m->path,
		 m->dwarf_path ? ", DWARF from " : "", m->dwarf_path ? m->dwarf_path : "",
		 m->dwarf_calls_rejected ? " (some DWARF call sites ignored: not after a call)" : "");
	return buf;
}
