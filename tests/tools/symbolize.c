// SPDX-License-Identifier: MIT
/*
 * The symbolizer (agent/symbols) from the command line, for the integration test and for
 * measuring it; not part of uvscope.
 *
 *   uvs-symbolize PID ADDR...      one line per address: kind, name, object, offset, ELF address
 *                                  (ADDR in hex; prefix k for a kernel address: k0xffff...)
 *   uvs-symbolize --bench FILE [N] builds FILE's index and reports its build time, size and
 *                                  RSS, then N (default 10,000,000) lookups of addresses spread
 *                                  over its symbols and their rate, twice (names are made at
 *                                  their first lookup: the second pass only finds them)
 *   uvs-symbolize --rate PID ADDR N  N calls of uvs_symbolize_user on a live process, at
 *                                  addresses spread over 16 MiB from ADDR (the per-frame cost)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "symbols/symbolizer.h"
#include "symbols/symtab.h"
#include "symbols/symtab_cache.h"
#include "target/elf.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* VmRSS of this process in KiB, from /proc/self/status. */
static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static const char *kind_name(enum uvs_addr_kind k)
{
	switch (k) {
	case UVS_ADDR_UNMAPPED:
		return "unmapped";
	case UVS_ADDR_OBJECT:
		return "object";
	case UVS_ADDR_ANON_EXEC:
		return "jit";
	case UVS_ADDR_KERNEL:
		return "kernel";
	}
	return "?";
}

static int bench(const char *path, long lookups)
{
	struct uvs_symtab_hit hit;
	struct uvs_symtab *t;
	struct uvs_elf *elf;
	double t0, t1;
	long rss0, i, found = 0;
	uint64_t lo = UINT64_MAX, hi = 0;
	int pass;

	elf = uvs_elf_open(path);
	if (!elf) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	rss0 = rss_kib();
	t0 = now_s();
	t = uvs_symtab_build(elf);
	t1 = now_s();
	uvs_elf_close(elf);
	if (!t) {
		fprintf(stderr, "cannot index %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("build_ms %.1f symbols %zu index_bytes %zu rss_delta_kib %ld\n", (t1 - t0) * 1e3,
	       uvs_symtab_count(t), uvs_symtab_memory(t), rss_kib() - rss0);
	/* The span of addresses the index knows, probed from both ends. */
	for (i = 0; i < 1 << 24 && uvs_symtab_count(t); i++) {
		uint64_t a = (uint64_t)i << 12;

		if (!uvs_symtab_lookup(t, a, &hit)) {
			lo = hit.start;
			break;
		}
	}
	hi = lo + (64ull << 20);
	/* Twice the same addresses: the first pass makes the names it finds, the second reuses them. */
	for (pass = 0; pass < 2; pass++) {
		uint64_t x = 88172645463325252ull;

		found = 0;
		t0 = now_s();
		for (i = 0; i < lookups; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
			found += !uvs_symtab_lookup(t, lo + x % (hi - lo), &hit);
		}
		t1 = now_s();
		printf("%s %ld found %ld seconds %.3f per_second %.0f index_bytes %zu rss_kib %ld\n",
		       pass ? "lookups_again" : "lookups", lookups, found, t1 - t0,
		       lookups / (t1 - t0), uvs_symtab_memory(t), rss_kib() - rss0);
	}
	uvs_symtab_put(t);
	return 0;
}

static int symbolize(int pid, char **addrs, int n)
{
	struct uvs_symbolizer *s = uvs_symbolizer_new(pid);
	int i;

	if (!s) {
		fprintf(stderr, "cannot symbolize pid %d: %s\n", pid, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		bool kernel = addrs[i][0] == 'k';
		uint64_t pc = strtoull(addrs[i] + kernel, NULL, 16);
		struct uvs_native_sym sym;
		int err = kernel ? uvs_symbolize_kernel(s, pc, &sym) : uvs_symbolize_user(s, pc, &sym);

		if (err == -ENOENT && !kernel && !uvs_symbolizer_refresh(s))
			err = uvs_symbolize_user(s, pc, &sym);
		printf("%s\t%s\t%s\t%s\t0x%llx\t0x%llx\t%s%s\n", addrs[i], kind_name(sym.kind),
		       sym.name ? sym.name : "-", sym.object ? sym.object : "-",
		       (unsigned long long)sym.sym_offset, (unsigned long long)sym.elf_addr,
		       sym.from_perf_map ? "perf-map" : "", sym.v8_builtin ? " builtin" : "");
	}
	uvs_symbolizer_free(s);
	uvs_symtab_cache_clear();
	return 0;
}

static int rate(int pid, uint64_t addr, long n)
{
	struct uvs_symbolizer *s = uvs_symbolizer_new(pid);
	struct uvs_native_sym sym;
	long i, named = 0;
	double t0, t1;

	if (!s) {
		fprintf(stderr, "cannot symbolize pid %d: %s\n", pid, strerror(errno));
		return 1;
	}
	t0 = now_s();
	uvs_symbolize_user(s, addr, &sym); /* opens and indexes the object */
	t1 = now_s();
	printf("first_call_ms %.1f\n", (t1 - t0) * 1e3);
	t0 = now_s();
	for (i = 0; i < n; i++)
		named += !uvs_symbolize_user(s, addr + ((uint64_t)i * 4099) % (16u << 20), &sym) &&
			 sym.name;
	t1 = now_s();
	printf("calls %ld named %ld seconds %.3f per_second %.0f\n", n, named, t1 - t0,
	       n / (t1 - t0));
	uvs_symbolizer_free(s);
	uvs_symtab_cache_clear();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--rate"))
		return rate(atoi(argv[2]), strtoull(argv[3], NULL, 16), atol(argv[4]));
	if (argc >= 3 && !strcmp(argv[1], "--bench"))
		return bench(argv[2], argc > 3 ? atol(argv[3]) : 10000000);
	if (argc >= 3)
		return symbolize(atoi(argv[1]), argv + 2, argc - 2);
	fprintf(stderr, "usage: uvs-symbolize PID ADDR... | uvs-symbolize --bench FILE [N] | "
			"uvs-symbolize --rate PID ADDR N\n");
	return 2;
}
