// SPDX-License-Identifier: MIT
/*
 * A test tool around agent/unwind/loop_phases: prints the phase map of a libuv object, then
 * answers lookups, so integration tests can check the map against stacks that an independent
 * sampler (bpftrace) takes from a live process.
 *
 *   phase-map OBJECT            the table, one entry a line:
 *                                 call 0x18ac8a7 poll_io uv__io_poll dwarf
 *                                 inlined 0x18ac7e0-0x18ac810 pending uv__run_pending dwarf
 *   phase-map OBJECT -          then reads return addresses (hex) from stdin, one a line, and
 *                               prints "0xADDR PHASE" for each ("-" when not in uv_run)
 *
 * Exit status 2 when the map cannot be built (the reason on stderr).
 */
#include <inttypes.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot.h"
#include "unwind/loop_phases.h"

static const char *phase_text(int phase)
{
	return phase == UVS_PHASE_NONE ? "none" : uvs_phase_name((enum uvs_phase)phase);
}


static void print_table(const struct uvs_phase_map *m)
{
	const struct uvs_phase_entry *e;
	uint64_t start, end;
	size_t n, i;

	uvs_phase_map_uv_run(m, &start, &end);
	printf("uv_run 0x%" PRIx64 "-0x%" PRIx64 "\n", start, end);
	n = uvs_phase_map_entries(m, &e);
	for (i = 0; i < n; i++) {
		const char *src = e[i].source == UVS_PHASE_FROM_DWARF ? "dwarf" : "disasm";
		const char *callee = e[i].callee ? e[i].callee : "*indirect*";

		if (e[i].kind == UVS_PHASE_ENTRY_CALL)
			printf("call 0x%" PRIx64 " %s %s %s\n", e[i].start, phase_text(e[i].phase),
			       callee, src);
		else
			printf("inlined 0x%" PRIx64 "-0x%" PRIx64 " %s %s %s\n", e[i].start, e[i].end,
			       phase_text(e[i].phase), callee, src);
	}
}


static void answer_lookups(const struct uvs_phase_map *m)
{
	char line[64];

	while (fgets(line, sizeof(line), stdin)) {
		uint64_t addr = strtoull(line, NULL, 16);

		if (!uvs_phase_map_in_uv_run(m, addr))
			printf("0x%" PRIx64 " -\n", addr);
		else
			printf("0x%" PRIx64 " %s\n", addr, phase_text(uvs_phase_map_lookup(m, addr)));
		fflush(stdout);
	}
}


int main(int argc, char **argv)
{
	struct uvs_phase_map *m;
	char why[512], line[512];

	if (argc < 2) {
		fprintf(stderr, "usage: phase-map OBJECT [-]\n");
		return 64;
	}
	m = uvs_phase_map_new(-1, argv[1], why, sizeof(why));
	if (!m) {
		fprintf(stderr, "phase-map: %s\n", why);
		return 2;
	}
	printf("# %s\n", uvs_phase_map_describe(m, line, sizeof(line)));
	print_table(m);
	if (argc > 2 && strcmp(argv[2], "-") == 0) {
		printf("---\n");
		fflush(stdout);
		answer_lookups(m);
	}
	uvs_phase_map_free(m);
	return 0;
}
