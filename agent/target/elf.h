/* SPDX-License-Identifier: MIT */
/*
 * Symbol lookups in ELF files (the node binary, libuv, libnode.so) for attaching uprobes and
 * reading statics.
 *
 * The files come from processes we trace, so they are untrusted: opening validates the ELF,
 * program and section headers against the file size, and every lookup is bounded. Only ELF64
 * little-endian x86-64 executables and shared objects (ET_EXEC, ET_DYN) are accepted.
 *
 * Addresses ("addr", "vaddr") are the object's own virtual addresses (st_value, p_vaddr), not
 * runtime addresses. Lookups are linear scans of .symtab, then .dynsym; an object whose section
 * headers were removed altogether has no symbols here.
 *
 * Functions return 0 or -errno; pointer-returning functions return NULL and set errno.
 */
#ifndef UVSCOPE_ELF_SYMBOLS_H
#define UVSCOPE_ELF_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uvs_elf; /* opaque */

struct uvs_elf_symbol {
	uint64_t addr;        /* st_value (virtual address in the object) */
	uint64_t size;        /* st_size */
	uint64_t file_offset; /* where its first byte is in the file: what a uprobe needs */
	bool from_dynsym;     /* found in .dynsym, not .symtab */
};

/*
 * Opens and validates path; NULL with errno ENOEXEC when it is not an ELF64 x86-64 LE executable
 * or shared object, EINVAL when it is one but truncated or corrupt, or the open(2) errno.
 */
struct uvs_elf *uvs_elf_open(const char *path);

/* Like uvs_elf_open() on an open file; works on a dup of fd: the caller keeps (and closes) fd. */
struct uvs_elf *uvs_elf_open_fd(int fd);

/* Closes elf and frees everything it holds; accepts NULL. */
void uvs_elf_close(struct uvs_elf *elf);

/*
 * Frees libelf's copies of the section data that lookups read (the symbol and string tables:
 * 10-17 MB for node), keeping elf usable: the next lookup reads what it needs again. For an
 * object kept open after a burst of lookups (attaching). 0, or -EINVAL if the file no longer
 * reads as it did (then lookups find nothing).
 */
int uvs_elf_drop_tables(struct uvs_elf *elf);

/*
 * Finds the defined STT_FUNC or STT_GNU_IFUNC symbol called name (.symtab first, then .dynsym;
 * the first match in table order) whose address has bytes in the file; -ENOENT when absent.
 * For an IFUNC, addr is the resolver's.
 */
int uvs_elf_find_function(struct uvs_elf *elf, const char *name, struct uvs_elf_symbol *out);

/*
 * Same for a defined STT_OBJECT symbol (data statics such as libuv's `nthreads`); for an object
 * in .bss file_offset is nominal (no file bytes behind it): use addr and uvs_elf_load_base().
 */
int uvs_elf_find_object(struct uvs_elf *elf, const char *name, struct uvs_elf_symbol *out);

/*
 * Finds the first defined function (table order) whose raw (mangled) name starts with prefix,
 * preferring names without a GCC clone suffix (".part.0", ".isra.0") past the prefix and never
 * returning a ".cold" piece (not a function entry) unless the prefix itself asks for it.
 */
int uvs_elf_find_function_prefix(struct uvs_elf *elf, const char *prefix,
				 struct uvs_elf_symbol *out);

/*
 * Calls fn(ctx, raw name, symbol) for every defined function whose bytes are in the file,
 * .symtab first, then .dynsym (a function in both is visited twice); stops at the first
 * non-zero return of fn and returns it. 0 after a full walk, -EINVAL when neither table can be
 * read. For lookups that a raw name or prefix cannot express (a demangled name, a clone).
 */
int uvs_elf_foreach_function(struct uvs_elf *elf,
			     int (*fn)(void *ctx, const char *name, const struct uvs_elf_symbol *sym),
			     void *ctx);

/*
 * 1 when the object imports name: .dynsym has it undefined (the dynamic linker binds it to
 * another object's definition), else 0; -EINVAL when .dynsym cannot be read.
 */
int uvs_elf_imports(struct uvs_elf *elf, const char *name);

/*
 * Names the function whose [st_value, st_value + st_size) contains addr into name (truncated
 * to cap, NUL-terminated when cap > 0) and its start into *start (either may be NULL);
 * -ENOENT if none.
 */
int uvs_elf_symbol_at(struct uvs_elf *elf, uint64_t addr, char *name, size_t cap, uint64_t *start);

/* True for ET_DYN (PIE executable or shared library): loaded at a random base. */
bool uvs_elf_is_dyn(const struct uvs_elf *elf);

/* False for stripped objects (no .symtab; only .dynsym, if anything, is left). */
bool uvs_elf_has_symtab(const struct uvs_elf *elf);

/*
 * Copies the NT_GNU_BUILD_ID note (PT_NOTE segments first, then SHT_NOTE sections) into buf and
 * its length into *len; -ENOENT if none, -ENOSPC if cap is too small (*len is set anyway).
 */
int uvs_elf_build_id(struct uvs_elf *elf, uint8_t *buf, size_t cap, size_t *len);

/* Writes id as lowercase hex into out, NUL-terminated, truncated to cap (nothing if cap is 0). */
void uvs_elf_build_id_hex(const uint8_t *id, size_t len, char *out, size_t cap);

/*
 * Reads len bytes at file_offset (pread); -ERANGE when the range goes past the file size seen
 * at open, -EIO if the file has shrunk since.
 */
int uvs_elf_read(struct uvs_elf *elf, uint64_t file_offset, void *buf, size_t len);

/*
 * The file range [*offset, *offset + *size) of the first section called name (".rodata");
 * -ENOENT when there is none with bytes in the file (SHT_NOBITS, compressed, or no section
 * headers at all). The range lies inside the file: pass it to uvs_elf_read().
 */
int uvs_elf_section_range(struct uvs_elf *elf, const char *name, uint64_t *offset,
			  uint64_t *size);

/*
 * Translates vaddr through the first PT_LOAD whose [p_vaddr, p_vaddr + p_memsz) contains it
 * (vaddr - p_vaddr + p_offset); past p_filesz (.bss) the offset is nominal. -ENOENT if none.
 */
int uvs_elf_vaddr_to_offset(struct uvs_elf *elf, uint64_t vaddr, uint64_t *offset);

/*
 * Reads len bytes of the object's memory image at vaddr as the loader maps it: bytes from the
 * file up to the PT_LOAD's p_filesz, zeros past it (.bss). -ENOENT when no PT_LOAD holds vaddr,
 * -ERANGE when the range runs past its p_memsz. For the initial values of statics.
 */
int uvs_elf_read_vaddr(struct uvs_elf *elf, uint64_t vaddr, void *buf, size_t len);

/*
 * p_vaddr - p_offset of the first PT_LOAD mapping file offset 0 (else of the first PT_LOAD):
 * usually 0 for PIE and shared objects, 0x400000 for non-PIE x86-64. A runtime address is
 * addr - load_base + (start of the mapping of offset 0 in /proc/PID/maps).
 */
uint64_t uvs_elf_load_base(const struct uvs_elf *elf);

/* One symbol-table entry as uvs_elf_foreach_symbol() hands it out (for indexes built elsewhere). */
struct uvs_elf_sym_entry {
	const char *name;      /* raw (mangled) name, NUL-terminated inside the string table */
	uint64_t value;        /* st_value */
	uint64_t size;         /* st_size */
	uint64_t section_end;  /* sh_addr + sh_size of its section: where a sizeless symbol ends */
	unsigned char type;    /* STT_* */
	unsigned char bind;    /* STB_* */
	uint32_t name_offset;  /* st_name: where name is in its table (uvs_elf_string_table) */
	bool exec_section;     /* its section is SHF_EXECINSTR (.text, .plt, ...) */
	bool from_dynsym;
};

/*
 * Calls fn for every defined symbol (not SHN_UNDEF, SHN_ABS or SHN_COMMON) with a name, in
 * .symtab then in .dynsym, at most max_per_table per table; stops when fn returns non-zero
 * (that value is returned). Returns 0, or -EINVAL when a table cannot be read.
 */
int uvs_elf_foreach_symbol(struct uvs_elf *elf, size_t max_per_table,
			   int (*fn)(const struct uvs_elf_sym_entry *sym, void *arg), void *arg);

/*
 * The file range [*offset, *offset + *size) of the string table of .dynsym (dynsym true) or
 * .symtab: a symbol's name is at offset + its name_offset, up to the first NUL before the
 * range's end. The range lies inside the file as it was at open. -ENOENT when there is no such
 * table. For indexes that read names from the file when they need them, not all at once.
 */
int uvs_elf_string_table(struct uvs_elf *elf, bool dynsym, uint64_t *offset, uint64_t *size);

/* A new O_CLOEXEC descriptor of the file elf reads, which the caller closes; -errno. */
int uvs_elf_dup_fd(const struct uvs_elf *elf);

/* A PT_LOAD program header. */
struct uvs_elf_segment {
	uint64_t vaddr, memsz, offset, filesz;
};

/* Copies up to cap PT_LOADs (in header order) into out; returns how many the object has. */
size_t uvs_elf_segments(const struct uvs_elf *elf, struct uvs_elf_segment *out, size_t cap);

#endif /* UVSCOPE_ELF_SYMBOLS_H */
