// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the sampled-phase map (agent/unwind/loop_phases.h) on any file: the ELF
 * reader finds uv_run, capstone decodes it, libdw reads its DWARF. The input is written to a
 * memfd and passed as an open fd, as the agent passes /proc/PID/map_files. The seeds are the
 * miniature libuv of tests/fixtures/elf/fake_libuv.c, with and without inlining and DWARF.
 * A map that is built must keep its promises: every entry inside uv_run, lookups in range.
 */
#include <linux/types.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unwind/loop_phases.h"
#include "uvscope/loop.h"

static void check_phase(int phase)
{
	if (phase < 0 || phase > UVS_PHASE_NONE)
		abort();
}

static void check_map(const struct uvs_phase_map *m)
{
	const struct uvs_phase_entry *e;
	uint64_t start, end;
	char line[256];
	size_t n, i;

	uvs_phase_map_uv_run(m, &start, &end);
	if (start >= end)
		abort();
	n = uvs_phase_map_entries(m, &e);
	for (i = 0; i < n; i++) {
		if (e[i].start >= e[i].end || e[i].start < start || e[i].end > end + 1)
			abort();
		check_phase(e[i].phase);
		check_phase(uvs_phase_map_lookup(m, e[i].start));
		check_phase(uvs_phase_map_lookup(m, e[i].end));
	}
	for (i = 0; i <= 64; i++)
		check_phase(uvs_phase_map_lookup(m, start + (end - start) * i / 64));
	check_phase(uvs_phase_map_lookup(m, 0));
	check_phase(uvs_phase_map_lookup(m, UINT64_MAX));
	uvs_phase_map_describe(m, line, sizeof(line));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uvs_phase_map *m;
	char why[128];
	int fd = memfd_create("fuzz-libuv", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		m = uvs_phase_map_new(fd, "fuzz-libuv", why, sizeof(why));
		if (m)
			check_map(m);
		uvs_phase_map_free(m);
	}
	close(fd);
	return 0;
}
