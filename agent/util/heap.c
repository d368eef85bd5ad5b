// SPDX-License-Identifier: MIT
/* See heap.h. */
#include <malloc.h>

#include "util/heap.h"

void uvs_heap_setup(void)
{
	/* Failure leaves glibc's defaults: more memory, nothing wrong. */
	mallopt(M_MMAP_THRESHOLD, UVS_HEAP_MMAP_BYTES);
	/* Setting the mmap threshold also fixes the trim threshold; keep glibc's default value. */
	mallopt(M_TRIM_THRESHOLD, UVS_HEAP_MMAP_BYTES);
}

void uvs_heap_release(void)
{
	malloc_trim(0);
}
