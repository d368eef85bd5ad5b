/* SPDX-License-Identifier: MIT */
/*
 * V8's perf map: the names of JIT code a target started with --perf-basic-prof (or
 * --perf-prof) writes to /tmp/perf-PID.map, one "START SIZE name" line (hex, no 0x) per code
 * object, for as long as it runs.
 *
 * The file only grows: it is read incrementally, from where the last read stopped, and a line
 * not yet complete waits for the next read. V8 reuses code space after a GC, so ranges
 * overlap: the later line wins where they do. Lines are bounded (UVS_PERF_MAP_MAX_LINE; a
 * longer one is skipped whole), entries and name bytes are capped; names are sanitized.
 */
#ifndef UVSCOPE_PERF_MAP_H
#define UVSCOPE_PERF_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UVS_PERF_MAP_MAX_LINE 2048                  /* bytes of one line, newline included */
#define UVS_PERF_MAP_MAX_ENTRIES (1u << 20)         /* ranges kept after overlaps are resolved */
#define UVS_PERF_MAP_MAX_NAME_BYTES (64u << 20)     /* all names together */

struct uvs_perf_map;

struct uvs_perf_map_stats {
	size_t entries;      /* ranges in the lookup table now */
	size_t lines;        /* well-formed lines read */
	size_t bad_lines;    /* malformed or overlong lines skipped */
	uint64_t bytes_read; /* of the file: where the next read starts */
	bool full;           /* a cap was reached: lines after it are not read */
};

/* An empty map (no file yet). NULL on ENOMEM. */
struct uvs_perf_map *uvs_perf_map_new(void);
void uvs_perf_map_free(struct uvs_perf_map *m);

/*
 * Takes the next len bytes of the file, in any chunks: complete lines are parsed, a partial
 * one is kept for the next call. Entries become visible to lookups at uvs_perf_map_commit().
 */
void uvs_perf_map_feed(struct uvs_perf_map *m, const char *buf, size_t len);

/* Makes the lines fed so far visible to lookups, later lines winning. 0 or -ENOMEM. */
int uvs_perf_map_commit(struct uvs_perf_map *m);

/*
 * The name of the range that contains addr, and its start; -ENOENT if none. The name stays
 * valid until uvs_perf_map_free(), even after later lines replace its range.
 */
int uvs_perf_map_lookup(const struct uvs_perf_map *m, uint64_t addr, const char **name,
			uint64_t *start);

void uvs_perf_map_stats(const struct uvs_perf_map *m, struct uvs_perf_map_stats *out);

/*
 * Reads what is new in the target's perf map, /proc/PID/root/tmp/perf-NSPID.map (NSPID: the
 * target's pid in its own PID namespace, from /proc/PID/status), and commits it. A file that
 * was replaced or shrank is read again from the start. Returns 0, -ENOENT when the target has
 * no perf map, or -errno.
 */
int uvs_perf_map_refresh(struct uvs_perf_map *m, int pid);

#endif
