/* SPDX-License-Identifier: MIT */
/*
 * JavaScript function names for stack frames, read from V8's heap in the target, with no
 * flag in the target: from the JSFunction a JavaScript frame keeps at fp-16, its
 * SharedFunctionInfo gives the name (ScopeInfo) and the Script (name = file, source and
 * line_ends = the start line). Offsets and type numbers come from the node binary's V8
 * post-mortem metadata (metadata.h), what it lacks from a table per V8 version (layouts.h).
 *
 * Frame layout (x86-64, every V8 version here): a typed frame (entry, exit, stub, builtin,
 * construct, internal ...) keeps a marker at fp-8, StackFrame::Type << 1 (an even word below
 * 128); a standard frame (interpreted, baseline, optimized) keeps its context there (a tagged
 * pointer, odd) and its JSFunction at fp-16. An interpreted frame also keeps its BytecodeArray
 * at fp-32 and the bytecode offset at fp-40 (not used: the sampler copies only fp-8 and
 * fp-16, and the stack has moved on by the time the agent reads it).
 *
 * Never a wrong name: each object on the path is type-checked through its map (whose own map
 * must be the meta map), and any failed check or read makes the frame UVS_V8_FRAME_JS_UNKNOWN.
 * A GC moves objects, so a name cached by JSFunction address is used again only while the
 * epoch is unchanged and function->shared still equals the cached SharedFunctionInfo; after
 * uvs_v8_new_epoch() the entry must also show the same name_or_scope_info to be kept.
 */
#ifndef UVSCOPE_V8_H
#define UVSCOPE_V8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "target/memory.h"
#include "uvscope/stacks.h"
#include "v8/metadata.h"

struct uvs_v8;

/*
 * Reads the metadata of the node binary at node_path (readable by the agent: /proc/PID/exe or
 * a map_files path) and returns a namer for process pid. NULL with errno set when there is no
 * usable metadata; why says so in one sentence, e.g. "no V8 post-mortem metadata (v8dbg_*) in
 * /usr/lib/...: JS frames are shown as [JS: unknown]". A V8 version newer than the table's
 * newest gets the nearest older layout, and why says that too (with a non-NULL result).
 */
struct uvs_v8 *uvs_v8_open(int pid, const char *node_path, char *why, size_t cap);

/* A namer over any memory, with metadata already read (unit tests, fuzzing). */
struct uvs_v8 *uvs_v8_new(const struct uvs_v8_meta *meta, struct uvs_mem_reader mem,
			  char *why, size_t cap);

/* Frees v; accepts NULL. */
void uvs_v8_free(struct uvs_v8 *v);

/* The target's V8 version, "11.3.244.8". */
const char *uvs_v8_version(const struct uvs_v8 *v);

enum uvs_v8_frame_kind {
	UVS_V8_FRAME_NOT_V8 = 0, /* slots do not look like any V8 frame */
	UVS_V8_FRAME_JS,         /* a JS function, named in *out */
	UVS_V8_FRAME_JS_UNKNOWN, /* a JS frame whose function could not be validated */
	UVS_V8_FRAME_TYPED,      /* a V8 frame with a type marker (entry, exit, stub, ...) */
};

struct uvs_js_name {
	char name[128];      /* "handleRequest", "(anonymous)"; sanitized */
	char file[256];      /* script name/URL, "" when none; sanitized */
	uint32_t line;       /* 1-based start line, 0 when unknown */
	char frame_type[32]; /* for TYPED frames: "entry", "exit", "stub", ...; "v8" if unnamed */
};

/*
 * Names frame f. pc_in_v8_code: the caller found f->pc in JIT code (an anonymous executable
 * mapping) or in a Builtins_* symbol of the node binary; when false the answer is NOT_V8
 * without reading anything. *out is written for JS (name, file, line) and TYPED (frame_type)
 * frames and cleared otherwise.
 */
enum uvs_v8_frame_kind uvs_v8_name_frame(struct uvs_v8 *v, const struct uvs_raw_frame *f,
					 bool pc_in_v8_code, struct uvs_js_name *out);

/* A garbage collection may have moved objects: cached names must prove themselves again. */
void uvs_v8_new_epoch(struct uvs_v8 *v);

/* Counters for the agent line. */
struct uvs_v8_stats {
	uint64_t names_read;          /* functions resolved from the heap (cache misses) */
	uint64_t cache_hits;          /* names taken from the cache */
	uint64_t validation_failures; /* frames answered JS_UNKNOWN */
	uint64_t read_errors;         /* target memory reads that failed */
	uint64_t reads;               /* target memory reads made */
};
void uvs_v8_get_stats(const struct uvs_v8 *v, struct uvs_v8_stats *out);

#endif
