// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the symbol index builder (agent/symbols/symtab.h) on any file. The input
 * goes to a memfd, is opened as the agent opens a mapped object, indexed, and then probed:
 * every entry must be found again at its own start with a readable, NUL-terminated name, and
 * translations through the kept program headers must land inside them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbols/symtab.h"

static void probe(const struct uvs_symtab *t, uint64_t addr)
{
	struct uvs_symtab_hit hit, again;

	if (uvs_symtab_lookup(t, addr, &hit))
		return;
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
	uvs_symtab_count(t);
	uvs_symtab_memory(t);
	uvs_symtab_put(t);
	return 0;
}
