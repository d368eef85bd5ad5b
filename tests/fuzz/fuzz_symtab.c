// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the symbol index builder (agent/symbols/symtab.h) on any file. The input
 * goes to a memfd, is opened as the agent opens a mapped object, indexed, and then probed:
 * every entry must be found again at its own start with a readable, NUL-terminated name, and
 * translations through the kept program headers must land inside them. Names are read from
 * the file at their first lookup: the probes run again after the file was cut short (by a
 * length the input picks) and rewritten with other bytes, as a target may do to its binary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbols/symtab.h"

static void probe(struct uvs_symtab *t, uint64_t addr)
{
	struct uvs_symtab_hit hit, again;

	if (uvs_symtab_lookup(t, addr, &hit))
		return;
	/* A name made once is kept: the second lookup must give the same one. */
	if (uvs_symtab_lookup(t, addr, &again) || again.name != hit.name)
		abort();
	if (addr < hit.start || addr - hit.start >= hit.size || !hit.name)
		abort();
	if (strnlen(hit.name, UVS_SYMTAB_MAX_NAME) >= UVS_SYMTAB_MAX_NAME)
		abort();
	/* A symbol's start is inside a symbol (itself, or an alias that encloses it). */
	if (uvs_symtab_lookup(t, hit.start, &again))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct uvs_symtab *t;
	struct uvs_elf *elf;
	uint64_t addr, vaddr;
	size_t i;

	if (fd < 0) {
		fd = memfd_create("fuzz_symtab", MFD_CLOEXEC);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) {
		perror("memfd");
		abort();
	}
	elf = uvs_elf_open_fd(fd);
	if (!elf)
		return 0;
	t = uvs_symtab_build(elf);
	uvs_elf_close(elf);
	if (!t)
		return 0;
	/* Addresses from the input itself, so the probes hit what the fuzzer built. */
	for (i = 0; i + 8 <= size && i < 64 * 8; i += 8) {
		memcpy(&addr, data + i, 8);
		probe(t, addr);
		probe(t, addr & 0xffffff);
		if (!uvs_symtab_offset_to_vaddr(t, addr & 0xffffff, &vaddr))
			probe(t, vaddr);
	}
	for (addr = 0; addr < 0x500000; addr += 0x1000)
		probe(t, addr);
	/* The file changes under the index: cut (to a length from the input) and overwritten. */
	if (size >= 8) {
		uint64_t keep;
		static const char junk[4096] = { 'x' };

		memcpy(&keep, data + size - 8, 8);
		keep %= size;
		if (ftruncate(fd, (off_t)keep) ||
		    pwrite(fd, junk, keep < sizeof(junk) ? keep : sizeof(junk), keep / 2) < 0) {
			perror("memfd");
			abort();
		}
		for (i = 0; i + 8 <= size && i < 64 * 8; i += 8) {
			memcpy(&addr, data + i, 8);
			probe(t, addr);
			probe(t, addr & 0xffffff);
		}
	}
	uvs_symtab_count(t);
	uvs_symtab_memory(t);
	uvs_symtab_put(t);
	return 0;
}
