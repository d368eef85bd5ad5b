/* SPDX-License-Identifier: MIT */
/*
 * Hashing for the agent's in-memory tables (interned frames, stacks, strings): a multiply-
 * and-xor step per 64-bit word (bytes are taken eight at a time), and a final avalanche so
 * that the low bits, which pick a slot in a power-of-two table, depend on every input bit.
 * Not for anything an attacker must not be able to collide: tables that use it stay correct
 * under collisions, only slower.
 */
#ifndef UVSCOPE_HASH_H
#define UVSCOPE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define UVS_HASH_SEED 0xcbf29ce484222325ull /* any odd constant: FNV-1a's offset basis */

/* Folds one word into h. */
static inline uint64_t uvs_hash_word(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

/* Folds n bytes into h, eight at a time (names are hashed per sample: this is hot). */
static inline uint64_t uvs_hash_bytes(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = uvs_hash_word(h, w);
	}
	w = 0;
	memcpy(&w, p, n);
	return uvs_hash_word(h, w ^ ((uint64_t)n << 56));
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
