/* SPDX-License-Identifier: MIT */
/*
 * Hashing for the agent's in-memory tables (interned frames, stacks, strings): FNV-1a over
 * bytes, a multiply-and-xor step per 64-bit word, and a final avalanche so that the low bits,
 * which pick a slot in a power-of-two table, depend on every input bit. Not for anything an
 * attacker must not be able to collide: tables that use it stay correct under collisions, only
 * slower.
 */
#ifndef UVSCOPE_HASH_H
#define UVSCOPE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define UVS_HASH_SEED 0xcbf29ce484222325ull /* FNV-1a's 64-bit offset basis */

static inline uint64_t uvs_hash_bytes(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

/* Folds one word into h: cheaper than hashing its bytes one by one. */
static inline uint64_t uvs_hash_word(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

/* MurmurHash3's finalizer. */
static inline uint64_t uvs_hash_final(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

#endif /* UVSCOPE_HASH_H */
