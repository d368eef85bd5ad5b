// SPDX-License-Identifier: MIT
/* See sorted_array.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/sorted_array.h"

int uvs_array_reserve(void **v, size_t *cap, size_t n, size_t elem, size_t first_cap)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : first_cap;
	if (ncap < *cap || ncap > SIZE_MAX / elem)
		return -ENOMEM;
	p = realloc(*v, ncap * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

size_t uvs_array_count_le(const void *base, size_t n, size_t stride, size_t key_off,
			  uint64_t x)
{
	const unsigned char *b = base;
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t key;

		memcpy(&key, b + mid * stride + key_off, sizeof(key));
		if (key <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
