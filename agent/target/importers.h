/* SPDX-License-Identifier: MIT */
/*
 * Which objects mapped in the target import a function: for instance an addon (.node) that
 * calls libuv's uv_queue_work itself instead of through node's own wrappers.
 */
#ifndef UVSCOPE_IMPORTERS_H
#define UVSCOPE_IMPORTERS_H

#include <stddef.h>

#include "target/process.h"

/*
 * Whether an object mapped executable in the target, other than `except` (the object that
 * defines the function), imports `name` (has it undefined in .dynsym). Each object is opened
 * through /proc/PID/map_files, so the file mapped is the one read. Returns 1 with the first such
 * object's path in who, 0 when none does, or -errno when the maps cannot be read. Objects that
 * cannot be opened or read are counted in *unreadable (may be NULL).
 */
int uvs_target_importer(const struct uvs_target *t, const struct uvs_object *except,
			const char *name, char *who, size_t cap, size_t *unreadable);

#endif
