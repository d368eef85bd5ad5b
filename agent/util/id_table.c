// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "util/id_table.h"

#define ID_TABLE_MIN_CAP 64

int uvs_id_table_reserve(struct uvs_id_table *t)
{
	struct uvs_id_slot *slots;
	size_t cap, i, j;

	if ((t->used + 1) * 2 <= t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : ID_TABLE_MIN_CAP;
	if (cap > SIZE_MAX / sizeof(*slots) || cap / 2 > UINT32_MAX)
		return -ENOMEM;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if (!t->slots[i].id_plus1)
			continue;
		j = t->slots[i].hash & (cap - 1);
		while (slots[j].id_plus1)
			j = (j + 1) & (cap - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

int64_t uvs_id_table_find(const struct uvs_id_table *t, uint64_t hash, uvs_id_key_eq eq,
			  const void *ctx, const void *key, size_t *slot)
{
	uint32_t h = (uint32_t)hash;
	size_t mask = t->cap - 1, i = h & mask;

	/* The table is never full (reserve keeps it at most half full), so the probe ends. */
	while (t->slots[i].id_plus1) {
		if (t->slots[i].hash == h && eq(ctx, t->slots[i].id_plus1 - 1, key))
			return t->slots[i].id_plus1 - 1;
		i = (i + 1) & mask;
	}
	*slot = i;
	return -1;
}

void uvs_id_table_insert(struct uvs_id_table *t, size_t slot, uint64_t hash, uint32_t id)
{
	t->slots[slot].id_plus1 = id + 1;
	t->slots[slot].hash = (uint32_t)hash;
	t->used++;
}

void uvs_id_table_free(struct uvs_id_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = 0;
	t->used = 0;
}
