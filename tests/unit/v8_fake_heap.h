/* SPDX-License-Identifier: MIT */
/*
 * A synthetic V8 heap in our own memory, for the unit tests and the fuzz target of agent/v8:
 * maps, strings, ScopeInfo, Script, SharedFunctionInfo and JSFunction objects laid out as
 * V8 11.3 (Node 20) or 13.6 (Node 24) lays them out, at FAKE_BASE in a fake address space that
 * a uvs_mem_reader serves (EFAULT outside it).
 */
#ifndef UVSCOPE_V8_FAKE_HEAP_H
#define UVSCOPE_V8_FAKE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/memory.h"
#include "v8/metadata.h"

#define FAKE_BASE 0x10000000ull
#define FAKE_SIZE (64u * 1024)

struct fake_heap {
	uint8_t mem[FAKE_SIZE];
	size_t top;
	bool v13; /* V8 13.6 layouts, else 11.3 */
	struct uvs_v8_meta meta;
	uint64_t meta_map, map_function, map_sfi, map_scope_info, map_script, map_fixed_array;
	uint64_t map_one_byte, map_two_byte, map_cons, map_thin, map_sliced, map_external, map_uncached;
	uint64_t map_oddball, undefined;
};

/* Lays out the maps; v13 picks V8 13.6's version and ScopeInfo layout. */
void fake_heap_init(struct fake_heap *h, bool v13);
struct uvs_mem_reader fake_heap_reader(struct fake_heap *h);

uint64_t fake_alloc(struct fake_heap *h, size_t size, uint64_t map);
void fake_set(struct fake_heap *h, uint64_t obj, uint32_t off, uint64_t value);
uint64_t fake_get(struct fake_heap *h, uint64_t obj, uint32_t off);
uint64_t fake_smi(int32_t v);

uint64_t fake_string(struct fake_heap *h, const char *s);
uint64_t fake_string16(struct fake_heap *h, const uint16_t *s, size_t n);
uint64_t fake_cons(struct fake_heap *h, uint64_t first, uint64_t second);
uint64_t fake_thin(struct fake_heap *h, uint64_t actual);
uint64_t fake_sliced(struct fake_heap *h, uint64_t parent, int32_t offset, int32_t len);
/* An external one-byte string over text copied into the fake space; uncached: no data pointer. */
uint64_t fake_external(struct fake_heap *h, const char *text, bool uncached);
uint64_t fake_fixed_array_smis(struct fake_heap *h, const int32_t *v, size_t n);

/*
 * A function-scope ScopeInfo: name (a string, or 0 for Smi 0: no name), inferred name (a string
 * or 0: the flag off), start/end positions, and nlocals context locals (so that the name slots
 * move as they do in V8).
 */
uint64_t fake_scope_info(struct fake_heap *h, uint64_t name, uint64_t inferred, int32_t start,
			 int32_t end, int nlocals);
uint64_t fake_script(struct fake_heap *h, uint64_t name, uint64_t source, uint64_t line_ends);
uint64_t fake_sfi(struct fake_heap *h, uint64_t name_or_scope_info, uint64_t script);
uint64_t fake_function(struct fake_heap *h, uint64_t sfi);

#endif
