/* SPDX-License-Identifier: MIT */
/*
 * The function symbols of one ELF object as an index sorted by address: address -> name in a
 * binary search, for naming the native frames of sampled stacks.
 *
 * Built once per object from .symtab and .dynsym (STT_FUNC, STT_GNU_IFUNC, and STT_NOTYPE
 * symbols with a size in an executable section, as V8's embedded builtins may be). A symbol
 * without a size reaches to the next symbol (or the end of its section). The index also keeps
 * the object's PT_LOADs, so a file offset of a mapping translates to an ELF virtual address.
 *
 * Names are not held at build: the index keeps a descriptor of the file and reads a name from
 * its string table the first time a lookup returns it, then demangles (libiberty), sanitizes
 * and keeps it. Node's names are 9 MB demangled; a profile names a few thousand of them.
 *
 * Reference-counted: symtab_cache.h shares one index among every process that maps the same
 * object, and a name stays valid while a reference is held. Lookups are thread-safe.
 */
#ifndef UVSCOPE_SYMTAB_H
#define UVSCOPE_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/elf.h"

/* Bounds on what one object may make us hold (node 20 has ~110k symbols in .symtab). */
#define UVS_SYMTAB_MAX_SYMS (4u * 1000 * 1000)      /* per table */
#define UVS_SYMTAB_MAX_NAME 4096                    /* bytes of one (demangled) name */
#define UVS_SYMTAB_MAX_SEGMENTS 64                  /* PT_LOADs kept */
/* Names made and kept, per index: room for all of node 24's (18 MB), a bound for hostile files. */
#define UVS_SYMTAB_NAME_BYTES (32u * 1024 * 1024)

struct uvs_symtab;

struct uvs_symtab_hit {
	const char *name;   /* demangled and sanitized; valid while the index is referenced */
	uint64_t start;     /* ELF virtual address of the symbol */
	uint64_t size;      /* its extent as the index uses it (sizeless ones: to the next) */
};

/*
 * Builds the index of an opened object. NULL and errno: ENOMEM, EINVAL (a symbol table
 * libelf cannot read). An object with no symbols at all gives an empty index, not an error.
 */
struct uvs_symtab *uvs_symtab_build(struct uvs_elf *elf);

/* Another reference to t; returns t. */
struct uvs_symtab *uvs_symtab_get(struct uvs_symtab *t);

/* Drops a reference; the last one frees the index. Accepts NULL. */
void uvs_symtab_put(struct uvs_symtab *t);

/*
 * The symbol whose range contains the ELF virtual address addr; -ENOENT if none. For a
 * return address pass (return address - 1), so a call that ends a function is not named
 * after the function that follows it. A symbol whose name cannot be made gives -EIO (the file
 * no longer has it: it shrank), -ENOSPC (UVS_SYMTAB_NAME_BYTES of names already made) or
 * -ENOMEM.
 */
int uvs_symtab_lookup(struct uvs_symtab *t, uint64_t addr, struct uvs_symtab_hit *out);

/*
 * Translates an offset in the object's file to its ELF virtual address through the PT_LOAD
 * whose file bytes [p_offset, p_offset + p_filesz) contain it; -ENOENT if none does.
 */
int uvs_symtab_offset_to_vaddr(const struct uvs_symtab *t, uint64_t offset, uint64_t *vaddr);

/* Symbols in the index (after merging aliases and duplicates of .symtab and .dynsym). */
size_t uvs_symtab_count(const struct uvs_symtab *t);

/* Heap bytes the index holds (entries, and the names made so far). */
size_t uvs_symtab_memory(struct uvs_symtab *t);

#endif
