/* SPDX-License-Identifier: MIT */
/*
 * A hash index from keys to dense ids (0, 1, 2, ... in insertion order), for interning: the
 * caller keeps the keys in its own array at their ids, and this table only finds the id of a
 * key. Open addressing with linear probing, at most half full, so memory is a few bytes per key
 * on top of the caller's array.
 *
 * Use: uvs_id_table_reserve(), then uvs_id_table_find(); on a miss, store the key at the next
 * id and uvs_id_table_insert() it at the slot find gave.
 */
#ifndef UVSCOPE_ID_TABLE_H
#define UVSCOPE_ID_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uvs_id_slot {
	uint32_t id_plus1; /* 0: empty */
	uint32_t hash;	   /* the key's hash, low half: compares fail fast, growing needs no keys */
};

struct uvs_id_table {
	struct uvs_id_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t used;
};

/* True when the key the caller stores at id equals key. */
typedef bool (*uvs_id_key_eq)(const void *ctx, uint32_t id, const void *key);

/* Room for one more key (the table grows at half full). Returns 0 or -ENOMEM. */
int uvs_id_table_reserve(struct uvs_id_table *t);

/*
 * The id of the key with this hash for which eq() holds, or -1 when there is none; then *slot
 * is where to insert it. Needs a reserve() since the last insert.
 */
int64_t uvs_id_table_find(const struct uvs_id_table *t, uint64_t hash, uvs_id_key_eq eq,
			  const void *ctx, const void *key, size_t *slot);

/* Records id at the slot find() returned for a missing key. */
void uvs_id_table_insert(struct uvs_id_table *t, size_t slot, uint64_t hash, uint32_t id);

void uvs_id_table_free(struct uvs_id_table *t);

#endif /* UVSCOPE_ID_TABLE_H */
