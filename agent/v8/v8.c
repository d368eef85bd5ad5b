// SPDX-License-Identifier: MIT
/*
 * Names JavaScript frames from V8's heap. See v8.h for the contract and the frame layout,
 * metadata.h and layouts.c for the facts per V8 version.
 *
 * Path from a frame to its name, each step type-checked:
 *   fp-16 -> JSFunction -> shared: SharedFunctionInfo
 *     -> name_or_scope_info: a String (the name of a function never compiled) or a
 *        ScopeInfo (name, inferred name, start position: scope_info.c)
 *     -> script_or_debug_info (V8 10, 11) / script (12+): a Script (a DebugInfo while the
 *        inspector debugs the function: then no file and no line, rather than a guess)
 *        -> name: the file (a String; undefined for eval code: "")
 *        -> line_ends: a FixedArray of Smis (line terminator positions), present only once
 *           V8 needed them (an error's stack, the inspector, --perf-basic-prof). Without it,
 *           the line terminators of the source before the start position are counted
 *           (a bounded read, once per function thanks to the cache); an external source
 *           (node's own modules) cannot be read: line 0, unknown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/elf.h"
#include "util/text.h"
#include "v8/heap.h"
#include "v8/layouts.h"
#include "v8/scope_info.h"
#include "v8/v8.h"

#define CACHE_SLOTS 2048               /* functions whose names are kept (power of two) */
#define LINE_ENDS_MAX (1u << 24)       /* entries of Script::line_ends we believe */
#define SOURCE_SCAN_MAX (4u << 20)     /* characters of source read to count lines */
#define MARKER_MAX 128                 /* frame-type markers are StackFrame::Type << 1 */

struct cache_entry {
	uint64_t function;        /* tagged JSFunction, 0 = empty */
	uint64_t shared;          /* its SharedFunctionInfo when read */
	uint64_t name_or_scope;   /* shared->name_or_scope_info when read */
	uint64_t epoch;
	struct uvs_js_name name;
};

struct uvs_v8 {
	struct uvs_v8_meta meta;
	const struct uvs_v8_scope_layout *layout;
	struct uvs_v8_heap heap;
	uint64_t epoch;
	struct uvs_v8_stats stats;
	char version[48];
	struct cache_entry cache[CACHE_SLOTS];
};

struct uvs_v8 *uvs_v8_new(const struct uvs_v8_meta *meta, struct uvs_mem_reader mem,
			  char *why, size_t cap)
{
	const struct uvs_v8_scope_layout *layout;
	struct uvs_v8 *v;
	bool exact;

	if (cap)
		why[0] = '\0';
	layout = uvs_v8_scope_layout_for(meta->major, meta->minor, meta->build, &exact);
	if (!layout) {
		if (cap)
			snprintf(why, cap, "V8 %u.%u is older than any layout uvscope knows (10.2): "
				 "JS frames are shown as [JS: unknown]", meta->major, meta->minor);
		errno = ENOTSUP;
		return NULL;
	}
	/* The metadata says where ScopeInfo's variable part starts: it must agree. */
	if (meta->scopeinfo_first_vars &&
	    meta->scopeinfo_first_vars != (layout->position_first ? 5 : 3)) {
		if (cap)
			snprintf(why, cap, "V8 %u.%u lays out ScopeInfo unlike the table uvscope has "
				 "for it: JS frames are shown as [JS: unknown]", meta->major,
				 meta->minor);
		errno = ENOTSUP;
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		if (cap)
			snprintf(why, cap, "out of memory");
		return NULL;
	}
	v->meta = *meta;
	v->layout = layout;
	v->heap.meta = &v->meta;
	v->heap.mem = mem;
	v->epoch = 1;
	snprintf(v->version, sizeof(v->version), "%u.%u.%u.%u", meta->major, meta->minor,
		 meta->build, meta->patch);
	if (!exact)
		snprintf(why, cap, "V8 %s is not one uvscope was tested on: its names are read "
			 "with the layout of V8 as in Node %s (the nearest older)", v->version,
			 layout->node);
	return v;
}

struct uvs_v8 *uvs_v8_open(int pid, const char *node_path, char *why, size_t cap)
{
	struct uvs_v8_meta meta;
	struct uvs_elf *elf;
	char reason[200];
	int err;

	elf = uvs_elf_open(node_path);
	if (!elf) {
		err = errno;
		if (cap)
			snprintf(why, cap, "cannot read %s (%s): JS frames are shown as [JS: unknown]",
				 node_path, strerror(err));
		errno = err;
		return NULL;
	}
	err = uvs_v8_meta_read(elf, &meta, reason, sizeof(reason));
	uvs_elf_close(elf);
	if (err) {
		if (cap)
			snprintf(why, cap, "%s in %s: JS frames are shown as [JS: unknown]", reason,
				 node_path);
		errno = -err;
		return NULL;
	}
	return uvs_v8_new(&meta, uvs_mem_reader_pid(pid), why, cap);
}

void uvs_v8_free(struct uvs_v8 *v)
{
	free(v);
}

const char *uvs_v8_version(const struct uvs_v8 *v)
{
	return v->version;
}

void uvs_v8_new_epoch(struct uvs_v8 *v)
{
	v->epoch++;
	uvs_v8_heap_forget(&v->heap);
}

void uvs_v8_get_stats(const struct uvs_v8 *v, struct uvs_v8_stats *out)
{
	*out = v->stats;
	out->read_errors = v->heap.read_errors;
	out->reads = v->heap.reads;
}

/* ---- lines ------------------------------------------------------------------------------ */

/* 1-based line of source position pos from Script::line_ends; 0 when it cannot be read. */
static uint32_t line_from_line_ends(struct uvs_v8 *v, uint64_t line_ends, int32_t pos)
{
	const struct uvs_v8_meta *m = &v->meta;
	uint64_t len_word, word;
	uint32_t lo = 0, hi;

	if (uvs_v8_read_field(&v->heap, line_ends, m->fixed_array_length, &len_word) ||
	    !UVS_V8_IS_SMI(len_word))
		return 0;
	if (UVS_V8_SMI_VALUE(len_word) <= 0 || (uint32_t)UVS_V8_SMI_VALUE(len_word) > LINE_ENDS_MAX)
		return 0;
	hi = (uint32_t)UVS_V8_SMI_VALUE(len_word);
	/* The first entry >= pos: the line's end. Entries before it are earlier lines. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (uvs_v8_read_field(&v->heap, line_ends, m->fixed_array_data + 8 * mid, &word) ||
		    !UVS_V8_IS_SMI(word))
			return 0;
		if (UVS_V8_SMI_VALUE(word) < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo + 1;
}

static uint32_t start_line(struct uvs_v8 *v, uint64_t script, int32_t pos)
{
	uint64_t line_ends, source;
	int64_t n;

	if (pos < 0)
		return 0;
	if (uvs_v8_read_field(&v->heap, script, v->meta.script_line_ends, &line_ends) == 0 &&
	    uvs_v8_is_type(&v->heap, line_ends, v->meta.type_fixed_array))
		return line_from_line_ends(v, line_ends, pos);
	if (uvs_v8_read_field(&v->heap, script, v->meta.script_source, &source))
		return 0;
	n = uvs_v8_count_lines(&v->heap, source, (uint32_t)pos, SOURCE_SCAN_MAX);
	return n < 0 || n >= UINT32_MAX ? 0 : (uint32_t)n + 1;
}

/* ---- names ------------------------------------------------------------------------------ */

/* A JSFunction or one of its subtypes (class and builtin constructors), same layout. */
static bool is_function(struct uvs_v8 *v, uint64_t obj)
{
	uint16_t t;

	return uvs_v8_instance_type(&v->heap, obj, &t) == 0 && t >= v->meta.type_js_function &&
	       t - v->meta.type_js_function <= v->layout->function_subtypes;
}

/* Reads the string str into buf and sanitizes it; false when it is not a readable string. */
static bool read_text(struct uvs_v8 *v, uint64_t str, char *buf, size_t cap)
{
	if (uvs_v8_read_string(&v->heap, str, buf, cap) < 0) {
		buf[0] = '\0';
		return false;
	}
	uvs_sanitize(buf, cap);
	return true;
}

/* The function's name and start position from name_or_scope_info; false if unreadable. */
static bool function_name(struct uvs_v8 *v, uint64_t nos, struct uvs_js_name *out,
			  int32_t *start)
{
	struct uvs_v8_scope_names sn;
	uint16_t type;

	*start = -1;
	if (UVS_V8_IS_SMI(nos)) {
		/* kNoSharedNameSentinel: a function without a name, not compiled yet. */
		snprintf(out->name, sizeof(out->name), "(anonymous)");
		return nos == 0;
	}
	if (uvs_v8_instance_type(&v->heap, nos, &type))
		return false;
	if (uvs_v8_type_is_string(&v->heap, type)) {
		if (!read_text(v, nos, out->name, sizeof(out->name)))
			return false;
	} else if (type == v->meta.type_scope_info) {
		if (uvs_v8_scope_info_read(&v->heap, v->layout, nos, &sn))
			return false;
		*start = sn.start;
		out->name[0] = '\0';
		if (sn.name && !read_text(v, sn.name, out->name, sizeof(out->name)))
			return false;
		/* V8's own debug name: the inferred name when the function has none. */
		if (!out->name[0] && sn.inferred &&
		    !read_text(v, sn.inferred, out->name, sizeof(out->name)))
			return false;
	} else {
		return false;
	}
	if (!out->name[0])
		snprintf(out->name, sizeof(out->name), "(anonymous)");
	return true;
}

/* File and line from the SharedFunctionInfo's script; absent ones stay "" / 0. */
static void script_file_line(struct uvs_v8 *v, uint64_t shared, int32_t start,
			     struct uvs_js_name *out)
{
	uint64_t script, name;

	if (uvs_v8_read_field(&v->heap, shared, v->meta.sfi_script_or_debug_info, &script) ||
	    !uvs_v8_is_type(&v->heap, script, v->meta.type_script))
		return;
	if (uvs_v8_read_field(&v->heap, script, v->meta.script_name, &name) == 0 &&
	    UVS_V8_IS_HEAP_OBJECT(name))
		read_text(v, name, out->file, sizeof(out->file)); /* undefined: "" */
	out->line = start_line(v, script, start);
}

static struct cache_entry *cache_slot(struct uvs_v8 *v, uint64_t function)
{
	/* Heap objects are 8-aligned; mix the bits above so that neighbours spread. */
	uint64_t h = (function >> 3) * 0x9e3779b97f4a7c15ull;

	return &v->cache[h >> (64 - 11)];
}

/* A cached name still proven right for function, or NULL. */
static struct cache_entry *cache_lookup(struct uvs_v8 *v, uint64_t function)
{
	struct cache_entry *e = cache_slot(v, function);
	uint64_t shared, nos;

	if (e->function != function)
		return NULL;
	if (uvs_v8_read_field(&v->heap, function, v->meta.function_shared, &shared) ||
	    shared != e->shared)
		return NULL;
	if (e->epoch != v->epoch) {
		/* A GC ran: the function may be another object now; the same SFI and the same
		 * name_or_scope_info at the same addresses say it is not. */
		if (uvs_v8_read_field(&v->heap, shared, v->meta.sfi_name_or_scope_info, &nos) ||
		    nos != e->name_or_scope ||
		    !is_function(v, function))
			return NULL;
		e->epoch = v->epoch;
	}
	return e;
}

static enum uvs_v8_frame_kind name_function(struct uvs_v8 *v, uint64_t function,
					    struct uvs_js_name *out)
{
	struct cache_entry *e = cache_lookup(v, function);
	uint64_t shared, nos;
	int32_t start;

	if (e) {
		v->stats.cache_hits++;
		*out = e->name;
		return UVS_V8_FRAME_JS;
	}
	if (!is_function(v, function) ||
	    uvs_v8_read_field(&v->heap, function, v->meta.function_shared, &shared) ||
	    !uvs_v8_is_type(&v->heap, shared, v->meta.type_sfi) ||
	    uvs_v8_read_field(&v->heap, shared, v->meta.sfi_name_or_scope_info, &nos) ||
	    !function_name(v, nos, out, &start))
		return UVS_V8_FRAME_JS_UNKNOWN;
	script_file_line(v, shared, start, out);
	v->stats.names_read++;
	e = cache_slot(v, function);
	e->function = function;
	e->shared = shared;
	e->name_or_scope = nos;
	e->epoch = v->epoch;
	e->name = *out;
	return UVS_V8_FRAME_JS;
}

enum uvs_v8_frame_kind uvs_v8_name_frame(struct uvs_v8 *v, const struct uvs_raw_frame *f,
					 bool pc_in_v8_code, struct uvs_js_name *out)
{
	enum uvs_v8_frame_kind kind;
	const char *type;

	memset(out, 0, sizeof(*out));
	if (!pc_in_v8_code || f->fp < 16)
		return UVS_V8_FRAME_NOT_V8;
	if (UVS_V8_IS_SMI(f->slot_m8)) {
		if (f->slot_m8 == 0 || f->slot_m8 >= MARKER_MAX)
			return UVS_V8_FRAME_NOT_V8;
		type = uvs_v8_meta_frametype_name(&v->meta, (int64_t)(f->slot_m8 >> 1));
		snprintf(out->frame_type, sizeof(out->frame_type), "%s", type ? type : "v8");
		return UVS_V8_FRAME_TYPED;
	}
	if (!UVS_V8_IS_HEAP_OBJECT(f->slot_m8))
		return UVS_V8_FRAME_NOT_V8;
	kind = UVS_V8_IS_HEAP_OBJECT(f->slot_m16) ? name_function(v, f->slot_m16, out)
						   : UVS_V8_FRAME_JS_UNKNOWN;
	if (kind == UVS_V8_FRAME_JS_UNKNOWN) {
		v->stats.validation_failures++;
		memset(out, 0, sizeof(*out));
	}
	return kind;
}
