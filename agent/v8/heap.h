/* SPDX-License-Identifier: MIT */
/*
 * Validated reads of V8 heap objects in the target's memory, and V8 strings decoded to UTF-8.
 *
 * Every value comes from a process we do not trust and whose heap moves under us (a GC may run
 * between two reads): a tagged pointer must carry the heap-object tag (low bits 01), the word
 * at its offset 0 must be a Map whose own map is the meta map (instance type MAP_TYPE), and
 * the Map's instance type must be the one expected. Every length is bounded, every recursion
 * (cons strings) has a depth limit. A failed check is an error return, never a guess.
 */
#ifndef UVSCOPE_V8_HEAP_H
#define UVSCOPE_V8_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/memory.h"
#include "v8/metadata.h"

/* Tagged values without pointer compression: a Smi is value << 32, a pointer ends in 01. */
#define UVS_V8_IS_SMI(v) (((v) & 1) == 0)
#define UVS_V8_SMI_VALUE(v) ((int32_t)((uint64_t)(v) >> 32))
#define UVS_V8_IS_HEAP_OBJECT(v) (((v) & 3) == 1)

/* Longest string kept (bytes of UTF-8), as the API promises. */
#define UVS_V8_STRING_MAX 256

/* Maps already proven to be Maps, with their instance types (until the next GC epoch). */
#define UVS_V8_MAP_CACHE 64

struct uvs_v8_known_map {
	uint64_t map; /* tagged; 0 = empty */
	uint16_t type;
};

struct uvs_v8_heap {
	const struct uvs_v8_meta *meta;
	struct uvs_mem_reader mem;
	uint64_t reads;       /* reads made (each a process_vm_readv for a real target) */
	uint64_t read_errors; /* reads the target's memory refused (EFAULT and the like) */
	struct uvs_v8_known_map maps[UVS_V8_MAP_CACHE];
};

/*
 * Forgets the maps proven so far: after a GC a Map may have moved and its old address may
 * hold anything. (V8 rarely moves maps, but the cache only saves reads, not correctness.)
 */
void uvs_v8_heap_forget(struct uvs_v8_heap *h);

/* Reads the tagged word at field offset `off` of the object at tagged pointer obj. */
int uvs_v8_read_field(struct uvs_v8_heap *h, uint64_t obj, uint32_t off, uint64_t *out);

/*
 * The instance type of tagged pointer obj, after checking the tag and that its map is a Map:
 * 0, -EINVAL (not a heap object, or its map is not a Map) or the read's -errno.
 */
int uvs_v8_instance_type(struct uvs_v8_heap *h, uint64_t obj, uint16_t *type);

/* True when obj is a heap object of instance type `type` (reads and checks its map). */
bool uvs_v8_is_type(struct uvs_v8_heap *h, uint64_t obj, uint16_t type);

/* True when instance type t is one of V8's strings. */
bool uvs_v8_type_is_string(const struct uvs_v8_heap *h, uint16_t t);

/*
 * Decodes the V8 string at tagged pointer str into out as UTF-8, at most
 * min(cap - 1, UVS_V8_STRING_MAX) bytes (cut at a character boundary, and then ending in "…"
 * where at least 4 bytes fit), NUL-terminated, NOT yet sanitized. Sequential one- and two-byte, cons, thin, sliced and external strings are read,
 * but not "uncached" external strings (only the embedder's C++ object knows where their
 * characters are): -ENOTSUP. Returns the number of bytes
 * written, -EINVAL when str is not a valid string, or the read's -errno.
 */
int uvs_v8_read_string(struct uvs_v8_heap *h, uint64_t str, char *out, size_t cap);

/*
 * Counts the line terminators (\n, \r not before \n, U+2028, U+2029: V8's own) among the
 * first `upto` characters of the string at tagged pointer str, reading at most `budget`
 * characters. Returns the count, -E2BIG when upto exceeds the budget, -ENOTSUP for uncached
 * external strings, -EINVAL or the read's -errno. 1 + the count is the 1-based line of position upto.
 */
int64_t uvs_v8_count_lines(struct uvs_v8_heap *h, uint64_t str, uint32_t upto, uint32_t budget);

#endif
