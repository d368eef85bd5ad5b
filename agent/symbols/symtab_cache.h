/* SPDX-License-Identifier: MIT */
/*
 * The process-wide cache of symbol indexes (symtab.h): one index per ELF object however many
 * target processes map it, so attaching to ten node processes builds node's index once.
 *
 * Objects are keyed by their GNU build id; an object without one by its file identity
 * (device, inode, size, mtime), which a rebuilt or replaced file changes (object_key.h). At most
 * UVS_SYMTAB_CACHE_MAX indexes are kept, the least recently used one is dropped first; an
 * index dropped while a symbolizer still uses it lives on until that symbolizer lets go.
 * Thread-safe (one mutex around the table; building happens outside it).
 */
#ifndef UVSCOPE_SYMTAB_CACHE_H
#define UVSCOPE_SYMTAB_CACHE_H

#include "symbols/symtab.h"

#define UVS_SYMTAB_CACHE_MAX 32

/*
 * The index of the ELF object open at fd (the caller keeps fd), from the cache or built now:
 * a new reference the caller drops with uvs_symtab_put(). NULL and errno: ENOEXEC (not an ELF
 * object we read), EINVAL (corrupt), ENOMEM.
 */
struct uvs_symtab *uvs_symtab_cache_get(int fd);

/* Drops every cached index (the ones in use live on); for tests and at exit. */
void uvs_symtab_cache_clear(void);

/* Indexes in the cache now. */
size_t uvs_symtab_cache_size(void);

#endif
