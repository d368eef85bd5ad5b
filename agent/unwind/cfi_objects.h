/* SPDX-License-Identifier: MIT */
/*
 * The call frame information of the objects the targets map, shared: one copy of an object's
 * .eh_frame (and, when asked for, its .debug_frame) however many targets map it and however
 * many unwinders (one per target) walk through it. Node's .eh_frame and .eh_frame_hdr are
 * 3.3 MB that libelf reads into memory, its DWARF sections another 2 MB: per target, they
 * were most of what watching one more node process cost the agent.
 *
 * Objects are keyed as the symbol indexes are (symbols/object_key.h: build id, else file
 * identity), counted by reference, and closed when the last unwinder lets go. Thread-safe:
 * the table has a mutex, and each object one around libdw's lookups (libdw caches what a
 * lookup finds in the object).
 */
#ifndef UVSCOPE_CFI_OBJECTS_H
#define UVSCOPE_CFI_OBJECTS_H

#include <elfutils/libdw.h>
#include <stddef.h>
#include <stdint.h>

struct uvs_cfi_object;

/*
 * The CFI of the ELF object open at fd (the caller keeps fd; a file is read through a dup of
 * it, with pread, never mmap: a target that truncates a mapped file must not SIGBUS the
 * agent), shared or opened now: a new reference for uvs_cfi_object_put(). NULL with errno:
 * ENOEXEC or EINVAL when fd is no ELF object uvscope reads (target/elf.h), ENOMEM.
 */
struct uvs_cfi_object *uvs_cfi_object_get(int fd);

/* Drops a reference; the last one closes the object. Accepts NULL. */
void uvs_cfi_object_put(struct uvs_cfi_object *o);

/*
 * The CFI row for the object's virtual address addr (.eh_frame, else .debug_frame, read the
 * first time .eh_frame has no answer), for dwarf_frame_cfa() and dwarf_frame_register():
 * the caller frees it. The row points into the object: free it before the last put. NULL when
 * the object has no CFI for addr.
 */
Dwarf_Frame *uvs_cfi_object_row(struct uvs_cfi_object *o, uint64_t addr);

/* Objects open now (shared ones once), for tests. */
size_t uvs_cfi_objects_open(void);

#endif
