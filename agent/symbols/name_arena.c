// SPDX-License-Identifier: MIT
/* Append-only, non-moving name storage. See name_arena.h. */
#include <stdlib.h>
#include <string.h>

#include "symbols/name_arena.h"
#include "util/text.h"

#define BLOCK_BYTES (256u * 1024)

struct uvs_name_block {
	struct uvs_name_block *next;
	size_t used, cap;
	char data[];
};

void uvs_name_arena_init(struct uvs_name_arena *a, size_t limit)
{
	a->head = NULL;
	a->used = 0;
	a->limit = limit;
}

const char *uvs_name_arena_add(struct uvs_name_arena *a, const char *s, size_t len)
{
	struct uvs_name_block *b = a->head;
	char *out;

	len = strnlen(s, len);
	if (len + 1 > a->limit - a->used || len + 1 > a->limit)
		return NULL;
	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > BLOCK_BYTES ? len + 1 : BLOCK_BYTES;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	out = b->data + b->used;
	memcpy(out, s, len);
	out[len] = '\0';
	uvs_sanitize(out, len + 1);
	b->used += len + 1;
	a->used += len + 1;
	return out;
}

void uvs_name_arena_free(struct uvs_name_arena *a)
{
	while (a->head) {
		struct uvs_name_block *next = a->head->next;

		free(a->head);
		a->head = next;
	}
	a->used = 0;
}
