/* SPDX-License-Identifier: MIT */
/*
 * An object's separate debug file, found by its build id as GDB and elfutils find it:
 * DEBUG_ROOT/.build-id/xx/yyyy….debug (Debian's *-dbgsym packages, Fedora's debuginfo).
 * The file is accepted only when its own build id is the object's.
 */
#ifndef UVSCOPE_DEBUG_FILE_H
#define UVSCOPE_DEBUG_FILE_H

#include <stddef.h>

#include "target/elf.h"

#define UVS_DEBUG_ROOT "/usr/lib/debug"

/*
 * Opens the debug file of elf under debug_root; returns an fd (O_RDONLY, O_CLOEXEC; the
 * caller closes it) with its path in path (cap bytes), or -ENOENT when the object has no
 * build id or there is no such file, -ESTALE when the file's build id is another, or the
 * error of opening it. path holds the path looked at whenever the object has a build id.
 */
int uvs_debug_file_open(struct uvs_elf *elf, const char *debug_root, char *path, size_t cap);

#endif
