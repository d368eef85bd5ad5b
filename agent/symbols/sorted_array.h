/* SPDX-License-Identifier: MIT */
/*
 * The two array chores every index in agent/symbols shares: growing an array by doubling,
 * and the binary search for the last entry that starts at or before an address.
 */
#ifndef UVSCOPE_SORTED_ARRAY_H
#define UVSCOPE_SORTED_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Makes room for one more element in *v (n used of *cap, elements of elem bytes), doubling
 * from first_cap; 0 or -ENOMEM (*v is then unchanged).
 */
int uvs_array_reserve(void **v, size_t *cap, size_t n, size_t elem, size_t first_cap);

/*
 * In n entries of stride bytes sorted by the uint64_t at key_off in each, how many have
 * key <= x: the index just past the last entry starting at or before x (0: none).
 */
size_t uvs_array_count_le(const void *base, size_t n, size_t stride, size_t key_off,
			  uint64_t x);

#endif
