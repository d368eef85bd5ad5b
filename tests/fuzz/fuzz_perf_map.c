// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the perf map parser (agent/symbols/perf_map.h) on any text, fed in chunks
 * whose sizes the input's first bytes choose, with commits between them. After each commit
 * the table must answer sanely: a found range holds the address, names are NUL-terminated and
 * within the line bound.
 */
#include <stdlib.h>
#include <string.h>

#include "symbols/perf_map.h"

static void check(const struct uvs_perf_map *m, uint64_t addr)
{
	const char *name;
	uint64_t start;

	if (uvs_perf_map_lookup(m, addr, &name, &start))
		return;
	if (start > addr || !name || strnlen(name, UVS_PERF_MAP_MAX_LINE) >= UVS_PERF_MAP_MAX_LINE)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uvs_perf_map *m = uvs_perf_map_new();
	struct uvs_perf_map_stats st;
	uint8_t chunks[4] = { 255, 255, 255, 255 };
	size_t pos, k = 0;

	if (!m)
		abort();
	if (size >= 4) {
		memcpy(chunks, data, 4);
		data += 4;
		size -= 4;
	}
	for (pos = 0; pos < size; k++) {
		size_t n = 1 + chunks[k % 4] * 4u;

		if (n > size - pos)
			n = size - pos;
		uvs_perf_map_feed(m, (const char *)data + pos, n);
		pos += n;
		if (k % 2 == 0 && uvs_perf_map_commit(m))
			abort();
	}
	if (uvs_perf_map_commit(m))
		abort();
	uvs_perf_map_stats(m, &st);
	if (st.bytes_read != size || st.entries > UVS_PERF_MAP_MAX_ENTRIES)
		abort();
	for (pos = 0; pos + 8 <= size && pos < 256; pos += 8) {
		uint64_t addr;

		memcpy(&addr, data + pos, 8);
		check(m, addr);
	}
	for (pos = 0; pos < 0x10000; pos += 0x10)
		check(m, pos);
	uvs_perf_map_free(m);
	return 0;
}
