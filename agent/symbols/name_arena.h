/* SPDX-License-Identifier: MIT */
/*
 * Append-only storage for names read from the target (perf map lines, kallsyms): copied,
 * NUL-terminated and sanitized once, in blocks that never move, so a returned pointer stays
 * valid until the arena is freed. Bounded: past `limit` bytes, adding fails.
 */
#ifndef UVSCOPE_NAME_ARENA_H
#define UVSCOPE_NAME_ARENA_H

#include <stddef.h>

struct uvs_name_block;

struct uvs_name_arena {
	struct uvs_name_block *head; /* the block being filled; older ones chained behind it */
	size_t used;                 /* bytes handed out, all blocks */
	size_t limit;                /* the bound on used */
};

/* An empty arena that holds at most limit bytes of names. */
void uvs_name_arena_init(struct uvs_name_arena *a, size_t limit);

/* A copy of s[0..len) (cut at its first NUL), sanitized; NULL when full or on ENOMEM. */
const char *uvs_name_arena_add(struct uvs_name_arena *a, const char *s, size_t len);

/* Frees every name; the arena is empty (and usable) again. */
void uvs_name_arena_free(struct uvs_name_arena *a);

#endif
