// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the ELF reader (agent/target/elf.h) on any file. The input is written to
 * a memfd and opened by path, as the agent opens a target's binary, then every lookup the
 * agent makes is tried: the names libuv and node use, and those of the seed ELFs (built from
 * tests/fixtures/elf, see make-seeds.sh) so that the lookups find something to return.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "target/elf.h"
#include "target/entry_site.h"
#include "target/epoll_sites.h"

static const char *const functions[] = { "uv_run", "uv_version", "fixture_global_fn",
					 "lib_global_fn", "fixture_static_fn" };
static const char *const prefixes[] = { "uv__work_done", "fixture_pfx", "fixture_clone",
					"fixture_" };
static const char *const objects[] = { "nthreads", "fixture_data_object", "fixture_bss_object",
				       "lib_data_object" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What a found symbol promises: its bytes are in the file, where vaddr_to_offset says. */
static void check_symbol(struct uvs_elf *elf, const struct uvs_elf_symbol *sym, bool function)
{
	uint8_t code[16];
	char name[8];
	uint64_t off, start;

	if (uvs_elf_vaddr_to_offset(elf, sym->addr, &off) || off != sym->file_offset)
		abort();
	if (function && uvs_elf_read(elf, sym->file_offset, code, 1))
		abort();
	uvs_elf_read(elf, sym->file_offset, code, sizeof(code));
	/* A buffer of exactly cap bytes: ASan sees any write past it. */
	uvs_elf_symbol_at(elf, sym->addr, name, sizeof(name), &start);
	uvs_elf_symbol_at(elf, sym->addr + sym->size - 1, NULL, 0, NULL);
}

/*
 * A function's entry site (capstone over its bytes and its .cold part's): a site is inside
 * the function, and its file offset is where its bytes are.
 */
static void check_entry_site(struct uvs_elf *elf, const char *name,
			     const struct uvs_elf_symbol *sym)
{
	struct uvs_entry_site s;
	uint64_t off;
	char why[64];

	if (uvs_entry_site_of(elf, name, sym, UVS_ARG_RDI | UVS_ARG_RSI, true, &s, &off, why,
			      sizeof(why)))
		return;
	if (s.addr < sym->addr || s.addr - sym->addr >= sym->size ||
	    off != sym->file_offset + (s.addr - sym->addr))
		abort();
}

static void lookups(struct uvs_elf *elf)
{
	struct uvs_elf_symbol sym;
	uint8_t id[20];
	char hex[9];
	size_t i, len;

	for (i = 0; i < COUNT(functions); i++) {
		if (uvs_elf_find_function(elf, functions[i], &sym) == 0) {
			check_symbol(elf, &sym, true);
			check_entry_site(elf, functions[i], &sym);
		}
	}
	for (i = 0; i < COUNT(prefixes); i++) {
		if (uvs_elf_find_function_prefix(elf, prefixes[i], &sym) == 0)
			check_symbol(elf, &sym, true);
	}
	for (i = 0; i < COUNT(objects); i++) {
		if (uvs_elf_find_object(elf, objects[i], &sym) == 0)
			check_symbol(elf, &sym, false);
	}
	if (uvs_elf_build_id(elf, id, sizeof(id), &len) == 0)
		uvs_elf_build_id_hex(id, len, hex, sizeof(hex));
	uvs_elf_build_id(elf, NULL, 0, &len);
	uvs_elf_symbol_at(elf, uvs_elf_load_base(elf), hex, sizeof(hex), NULL);
	uvs_elf_is_dyn(elf);
	uvs_elf_has_symtab(elf);
	uvs_elf_imports(elf, "uv_queue_work");
	uvs_elf_imports(elf, "__libc_start_main");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	struct uvs_elf *elf;

	/* One memfd for the whole run, emptied and refilled for each input. */
	if (fd < 0) {
		fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) {
		perror("memfd");
		abort();
	}
	elf = uvs_elf_open(path);
	if (elf) {
		struct uvs_epoll_site sites[UVS_EPOLL_SITES_MAX];
		struct uvs_elf_symbol io_poll;
		char why[128];
		int n;

		lookups(elf);
		/* The epoll call sites: capstone over uv__io_poll's bytes, libelf over .rela.plt. */
		n = uvs_epoll_sites_find(elf, path, sites, UVS_EPOLL_SITES_MAX, why, sizeof(why));
		/* And where the DWARF says uv__io_poll keeps lfields at each site's hook. */
		if (n > 0 && uvs_elf_find_function(elf, "uv__io_poll", &io_poll) == 0)
			uvs_epoll_sites_find_lfields(path, io_poll.addr, sites, n);
	}
	uvs_elf_close(elf);
	return 0;
}
