/* SPDX-License-Identifier: MIT */
/*
 * Which object file maps a pc of the target: the one question the CFI unwinder asks about the
 * target's address space, behind a callback so that any map of objects can answer it (the
 * minimal /proc/PID/maps reader of proc_objects.h today, the symbolizer's
 * uvs_symbolizer_object_fd later: the signature is the same).
 */
#ifndef UVSCOPE_OBJECT_SOURCE_H
#define UVSCOPE_OBJECT_SOURCE_H

#include <stdint.h>

struct uvs_object_source {
	/*
	 * Finds the file mapped executable at pc. On success returns 0 with *fd an open,
	 * readable descriptor of the file (owned by the source; it need only stay open until
	 * object_at returns, the unwinder keeps a dup of each object it reads),
	 * *bias = pc - (the ELF virtual address of pc), and *path its name for messages (may be
	 * NULL). Returns -ENOENT when no file maps pc (an anonymous mapping: JIT code), another
	 * -errno when the file cannot be opened.
	 */
	int (*object_at)(void *ctx, uint64_t pc, int *fd, uint64_t *bias, const char **path);
	void *ctx;
};

#endif
