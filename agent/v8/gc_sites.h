/* SPDX-License-Identifier: MIT */
/*
 * Where V8's garbage collector may take a uprobe in the target: every function whose demangled
 * name begins with "v8::internal::Heap::PerformGarbageCollection(" (the function and its GCC
 * clones, such as Node 18's ".constprop.1331") in the object that holds V8 and node.
 */
#ifndef UVSCOPE_V8_GC_SITES_H
#define UVSCOPE_V8_GC_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "target/process.h"

#define UVS_GC_PERFORM_PREFIX "v8::internal::Heap::PerformGarbageCollection("
#define UVS_GC_MAX_SITES 4

struct uvs_gc_sites {
	const struct uvs_object *object; /* the file to probe (its open_path) */
	size_t n;
	uint64_t file_offset[UVS_GC_MAX_SITES]; /* symbol starts: proven instruction boundaries */
	uint64_t addr[UVS_GC_MAX_SITES];        /* runtime addresses */
};

/*
 * Finds the sites in .symtab and .dynsym (Node 24 has the symbol in .symtab only, Debian's
 * libnode in .dynsym only) and checks the safety rules: the file is the one running (its
 * build-id is in the target's memory) and its code runs from the file (not copied away by
 * --use-largepages). Returns 0, or -errno with one sentence in why.
 */
int uvs_gc_sites_find(const struct uvs_target *t, struct uvs_gc_sites *out, char *why, size_t cap);

/*
 * The sites of prefix (a demangled prefix ending in "(") in elf, deduplicated by file offset,
 * never a ".cold" piece (no function entry); at most cap. Returns how many, or -errno.
 */
int uvs_gc_sites_scan(struct uvs_elf *elf, const char *prefix, uint64_t *file_offset,
		      uint64_t *addr, size_t cap);

#endif
