// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/symbols/address_space.c (on captured and synthesized maps texts) and
 * agent/symbols/symbolizer.c (on this test process itself: a library it dlopens, an
 * anonymous executable mapping it makes, a perf map it writes). No root needed: a process may
 * read its own maps and open its own mapped files.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture_files.h"
#include "fixture_syms.h"
#include "symbols/address_space.h"
#include "symbols/symbolizer.h"
#include "symbols/symtab.h"
#include "symbols/symtab_cache.h"

/* Node 18 on x86-64, trimmed: JIT code below the heap, as that version places it. */
static const char node18_maps[] =
	"00400000-00b6f000 r--p 00000000 fe:00 247823                             /usr/bin/node\n"
	"00b72000-025fe000 r-xp 00772000 fe:00 247823                             /usr/bin/node\n"
	"0563e000-0565d000 rw-p 0523d000 fe:00 247823                             /usr/bin/node\n"
	"0565d000-05689000 rw-p 00000000 00:00 0 \n"
	"07ac5000-07b05000 rwxp 00000000 00:00 0 \n"
	"16464000-16610000 rw-p 00000000 00:00 0                                  [heap]\n"
	"this line is not a mapping\n"
	"7f0000000000-7f0000001000 r-xp 00000000 00:01 4242                       /memfd:jit (deleted)\n"
	"7f0000002000-7f0000003000 r-xp 00001000 fe:00 999                        /opt/app/lib.so (deleted)\n"
	"7f0000004000-7f0000005000 r-xp 00000000 00:00 0                          [anon:v8 code]\n"
	"7ff965e44000-7ff965f9a000 r-xp 00026000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ff9663a3000-7ff9663a5000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7fff8c504000-7fff8c525000 rw-p 00000000 00:00 0                          [stack]\n";

static struct uvs_address_space *parse(const char *text)
{
	struct uvs_address_space *as = uvs_address_space_parse(text, strlen(text));

	cr_assert(as, "parse: %s", strerror(errno));
	return as;
}

Test(address_space, finds_the_mapping_of_an_address)
{
	struct uvs_address_space *as = parse(node18_maps);
	const struct uvs_mapping *m;

	cr_expect_eq(uvs_address_space_count(as), 12, "the malformed line is skipped");
	m = uvs_address_space_find(as, 0x18ac720); /* uv_run in node 20 */
	cr_assert(m);
	cr_expect_str_eq(m->path, "/usr/bin/node");
	cr_expect(m->exec && !m->anonymous && !m->deleted);
	cr_expect_eq(uvs_mapping_file_offset(m, 0x18ac720), 0x18ac720 - 0xb72000 + 0x772000);
	/* Boundaries: start is in, end is out. */
	cr_expect_eq(uvs_address_space_find(as, 0xb72000), m);
	cr_expect_eq(uvs_address_space_find(as, 0x25fdfff), m);
	cr_expect_null(uvs_address_space_find(as, 0x25fe000));
	cr_expect_null(uvs_address_space_find(as, 0));
	cr_expect_null(uvs_address_space_find(as, 0x3fffff));
	cr_expect_null(uvs_address_space_find(as, UINT64_MAX));
	uvs_address_space_free(as);
}

Test(address_space, jit_code_is_told_by_the_mapping_not_the_address)
{
	struct uvs_address_space *as = parse(node18_maps);

	/* Low, between node's own mappings and the heap: still JIT. */
	cr_expect(uvs_mapping_is_jit(uvs_address_space_find(as, 0x7ac5100)));
	cr_expect(uvs_mapping_is_jit(uvs_address_space_find(as, 0x7f0000004100)), "[anon:...]");
	cr_expect_not(uvs_mapping_is_jit(uvs_address_space_find(as, 0xb72100)));
	cr_expect_not(uvs_mapping_is_jit(uvs_address_space_find(as, 0x5660000)), "not executable");
	cr_expect_not(uvs_mapping_is_jit(uvs_address_space_find(as, 0x16464000)), "[heap]");
	cr_expect_not(uvs_mapping_is_jit(uvs_address_space_find(as, 0x7ff9663a3000)), "[vdso]");
	cr_expect(uvs_address_space_find(as, 0x7ff9663a3000)->vdso);
	cr_expect(uvs_address_space_find(as, 0x16464000)->anonymous);
	uvs_address_space_free(as);
}

Test(address_space, deleted_files_are_marked_and_not_opened_by_path)
{
	struct uvs_address_space *as = parse(node18_maps);
	const struct uvs_mapping *lib = uvs_address_space_find(as, 0x7f0000002000);
	const struct uvs_mapping *memfd = uvs_address_space_find(as, 0x7f0000000000);

	cr_assert(lib && memfd);
	cr_expect(lib->deleted && !lib->anonymous);
	cr_expect(memfd->deleted && !memfd->anonymous);
	/* No such mapping in this process: map_files fails, and a deleted path is never tried. */
	cr_expect_lt(uvs_mapping_open(getpid(), lib), 0);
	cr_expect_eq(uvs_mapping_open(getpid(), uvs_address_space_find(as, 0x7ac5000)), -ENOENT);
	uvs_address_space_free(as);
}

Test(address_space, unsorted_and_hostile_text)
{
	static const char text[] =
		"7f0000002000-7f0000003000 r-xp 00000000 fe:00 1 /b\n"
		"00001000-00002000 r-xp 00000000 fe:00 2 /a\n"
		"00003000-00002000 r-xp 00000000 fe:00 3 /backwards\n"
		"zzzz-00002000 r-xp 00000000 fe:00 3 /bad\n"
		"00005000-00006000 r-xp 00000000 fe:00 4 /esc\x1b[2Jape";
	struct uvs_address_space *as = parse(text);

	cr_expect_eq(uvs_address_space_count(as), 3);
	cr_expect_str_eq(uvs_address_space_find(as, 0x1800)->path, "/a");
	cr_expect_str_eq(uvs_address_space_find(as, 0x7f0000002800)->path, "/b");
	cr_expect_str_eq(uvs_address_space_find(as, 0x5000)->path, "/esc?[2Jape");
	uvs_address_space_free(as);
	as = parse("");
	cr_expect_eq(uvs_address_space_count(as), 0);
	cr_expect_null(uvs_address_space_find(as, 0x1000));
	uvs_address_space_free(as);
}

/*
 * The PIE fixture as the loader maps it at 0x555555554000 (its PT_LOADs, readelf -l): every
 * function's runtime address goes mapping -> file offset -> ELF address -> name.
 */
Test(address_space, runtime_addresses_of_a_pie_resolve_through_its_mappings)
{
	static const char maps[] =
		"555555554000-555555555000 r--p 00000000 fe:00 77 /x/pie\n"
		"555555555000-555555556000 r-xp 00001000 fe:00 77 /x/pie\n"
		"555555556000-555555557000 r--p 00002000 fe:00 77 /x/pie\n"
		"555555557000-555555559000 rw-p 00002000 fe:00 77 /x/pie\n";
	const uint64_t base = 0x555555554000;
	struct uvs_address_space *as = parse(maps);
	struct uvs_elf *elf = uvs_elf_open(fx("pie"));
	struct uvs_symtab *t;
	struct fixture_sym *v;
	size_t n, i;

	cr_assert(elf);
	t = uvs_symtab_build(elf);
	cr_assert(t);
	v = fixture_functions("pie", &n);
	for (i = 0; i < n; i++) {
		uint64_t pc = base + v[i].value + (v[i].size ? v[i].size - 1 : 0), vaddr;
		const struct uvs_mapping *m = uvs_address_space_find(as, pc);
		struct uvs_symtab_hit hit;

		cr_assert(m && m->exec, "%s at 0x%llx", v[i].name, (unsigned long long)pc);
		cr_assert_eq(uvs_symtab_offset_to_vaddr(t, uvs_mapping_file_offset(m, pc), &vaddr), 0);
		cr_expect_eq(pc - vaddr, base, "load bias of %s", v[i].name);
		cr_assert_eq(uvs_symtab_lookup(t, vaddr, &hit), 0);
		cr_expect_eq(hit.start, v[i].value, "%s", v[i].name);
	}
	free(v);
	uvs_symtab_put(t);
	uvs_elf_close(elf);
	uvs_address_space_free(as);
}

/* ---- the symbolizer on this process ------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

Test(symbolizer, names_a_function_of_a_loaded_library)
{
	void *lib = dlopen(fx("libfixture.so"), RTLD_NOW);
	struct uvs_symbolizer *s;
	struct uvs_native_sym sym;
	const struct fixture_sym *f;
	struct fixture_sym *v;
	uint64_t pc, bias;
	const char *path;
	size_t n;
	int fd;

	cr_assert(lib, "dlopen: %s", dlerror());
	pc = (uint64_t)(uintptr_t)dlsym(lib, "lib_global_fn");
	cr_assert(pc);
	v = fixture_functions("libfixture.so", &n);
	f = fixture_function(v, n, "lib_global_fn");
	s = uvs_symbolizer_new(getpid());
	cr_assert(s, "%s", strerror(errno));
	cr_assert_eq(uvs_symbolize_user(s, pc + 3, &sym), 0);
	cr_expect_eq(sym.kind, UVS_ADDR_OBJECT);
	cr_assert(sym.name);
	cr_expect_str_eq(sym.name, "lib_global_fn");
	cr_expect_eq(sym.sym_offset, 3);
	cr_expect_eq(sym.elf_addr, f->value + 3);
	cr_expect_eq(sym.load_bias, pc - f->value);
	cr_expect(sym.object && ends_with(sym.object, "/libfixture.so"), "%s", sym.object);
	cr_expect_not(sym.from_perf_map || sym.v8_builtin);
	/* The static function, found only in .symtab, from its address in the library. */
	cr_assert_eq(uvs_symbolize_user(s, pc - f->value + fixture_function(v, n, "lib_static_fn")->value,
					&sym), 0);
	cr_expect_str_eq(sym.name, "lib_static_fn");
	cr_assert_eq(uvs_symbolizer_object_fd(s, pc, &fd, &bias, &path), 0);
	cr_expect_eq(bias, pc - f->value);
	cr_expect_geq(fd, 0);
	cr_expect(ends_with(path, "/libfixture.so"));
	uvs_symbolizer_free(s);
	uvs_symtab_cache_clear();
	free(v);
	dlclose(lib);
}

Test(symbolizer, names_a_function_of_its_own_executable)
{
	struct uvs_symbolizer *s = uvs_symbolizer_new(getpid());
	struct uvs_native_sym sym;

	cr_assert(s);
	cr_assert_eq(uvs_symbolize_user(s, (uint64_t)(uintptr_t)uvs_symtab_lookup + 1, &sym), 0);
	cr_assert(sym.name);
	cr_expect_str_eq(sym.name, "uvs_symtab_lookup");
	cr_expect_eq(sym.sym_offset, 1);
	uvs_symbolizer_free(s);
	uvs_symtab_cache_clear();
}

Test(symbolizer, unmapped_addresses_until_a_refresh_maps_them)
{
	struct uvs_symbolizer *s = uvs_symbolizer_new(getpid());
	void *lib;
	struct uvs_native_sym sym;
	uint64_t pc;

	cr_assert(s);
	cr_expect_eq(uvs_symbolize_user(s, 16, &sym), -ENOENT);
	cr_expect_eq(sym.kind, UVS_ADDR_UNMAPPED);
	/* Mapped after the symbolizer read the maps: unknown until refreshed. */
	lib = dlopen(fx("libfixture.so"), RTLD_NOW);
	cr_assert(lib);
	pc = (uint64_t)(uintptr_t)dlsym(lib, "lib_global_fn");
	cr_expect_eq(uvs_symbolize_user(s, pc, &sym), -ENOENT);
	cr_assert_eq(uvs_symbolizer_refresh(s), 0);
	cr_assert_eq(uvs_symbolize_user(s, pc, &sym), 0);
	cr_expect_str_eq(sym.name, "lib_global_fn");
	uvs_symbolizer_free(s);
	uvs_symtab_cache_clear();
	dlclose(lib);
}

Test(symbolizer, jit_code_is_named_by_the_perf_map)
{
	char path[64], line[128];
	struct uvs_symbolizer *s;
	struct uvs_native_sym sym;
	uint8_t *code;
	uint64_t pc;
	int fdo;
	uint64_t bias;
	FILE *f;

	code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(code, MAP_FAILED);
	pc = (uint64_t)(uintptr_t)code;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	unlink(path);
	s = uvs_symbolizer_new(getpid());
	cr_assert(s);
	cr_assert_eq(uvs_symbolize_user(s, pc + 0x10, &sym), 0);
	cr_expect_eq(sym.kind, UVS_ADDR_ANON_EXEC);
	cr_expect_null(sym.name);
	cr_expect_null(sym.object);
	cr_expect_eq(uvs_symbolizer_object_fd(s, pc, &fdo, &bias, NULL), -ENOENT);
	/* What node --perf-basic-prof writes: "START SIZE name", hex without 0x. */
	f = fopen(path, "w");
	cr_assert(f);
	snprintf(line, sizeof(line), "%llx 40 JS:*hot /app/x.js:3:10\n", (unsigned long long)pc);
	fputs(line, f);
	fprintf(f, "%llx 10 Builtins_InterpreterEntryTrampoline\n",
		(unsigned long long)pc + 0x100);
	fclose(f);
	cr_assert_eq(uvs_symbolizer_refresh(s), 0);
	cr_assert_eq(uvs_symbolize_user(s, pc + 0x10, &sym), 0);
	cr_expect_eq(sym.kind, UVS_ADDR_ANON_EXEC);
	cr_assert(sym.name);
	cr_expect_str_eq(sym.name, "JS:*hot /app/x.js:3:10");
	cr_expect(sym.from_perf_map);
	cr_expect_eq(sym.sym_offset, 0x10);
	cr_assert_eq(uvs_symbolize_user(s, pc + 0x105, &sym), 0);
	cr_expect(sym.v8_builtin);
	cr_assert_eq(uvs_symbolize_user(s, pc + 0x200, &sym), 0);
	cr_expect_null(sym.name, "past every perf map range");
	uvs_symbolizer_free(s);
	unlink(path);
	munmap(code, 4096);
}

Test(symbolizer, kernel_addresses)
{
	struct uvs_symbolizer *s = uvs_symbolizer_new(getpid());
	struct uvs_native_sym sym;

	cr_assert(s);
	cr_assert_eq(uvs_symbolize_kernel(s, 0xffffffff81000010ull, &sym), 0);
	cr_expect_eq(sym.kind, UVS_ADDR_KERNEL);
	cr_expect_null(sym.object);
	/* Which name depends on the host (and on kptr_restrict for this user); one is given. */
	cr_expect(sym.name != NULL || sym.sym_offset == 0);
	uvs_symbolizer_free(s);
}

Test(symbolizer, names_vdso_functions)
{
	/* The dynamic loader's own view of the vDSO is the reference. */
	void *vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
	struct uvs_symbolizer *s;
	struct uvs_native_sym sym;
	uint64_t pc;

	cr_assert(vdso, "dlopen linux-vdso.so.1: %s", dlerror());
	pc = (uint64_t)(uintptr_t)dlsym(vdso, "__vdso_clock_gettime");
	cr_assert(pc);
	s = uvs_symbolizer_new(getpid());
	cr_assert(s);
	cr_assert_eq(uvs_symbolize_user(s, pc + 2, &sym), 0);
	cr_expect_eq(sym.kind, UVS_ADDR_OBJECT);
	cr_expect_str_eq(sym.object, "[vdso]");
	cr_assert(sym.name);
	/* clock_gettime is an alias at the same address; either names it. */
	cr_expect(!strcmp(sym.name, "__vdso_clock_gettime") || !strcmp(sym.name, "clock_gettime"),
		  "%s", sym.name);
	cr_expect_eq(sym.sym_offset, 2);
	uvs_symbolizer_free(s);
	uvs_symtab_cache_clear();
	dlclose(vdso);
}

Test(symbolizer, preload_indexes_every_executable_object_once)
{
	struct uvs_symbolizer *s = uvs_symbolizer_new(getpid());
	struct uvs_native_sym sym;
	size_t objects = 0, i;
	struct uvs_address_space *as = uvs_address_space_read(getpid());
	const char *last = "";
	int n;

	cr_assert(s && as);
	/* Distinct executable files of this process, the reference. */
	for (i = 0; i < uvs_address_space_count(as); i++) {
		const struct uvs_mapping *m = uvs_address_space_at(as, i);

		if (m->exec && !m->anonymous && strcmp(m->path, last)) {
			objects++;
			last = m->path;
		}
	}
	uvs_symtab_cache_clear();
	n = uvs_symbolizer_preload(s);
	cr_expect_eq((size_t)n, objects, "indexed %d of %zu objects", n, objects);
	cr_expect_eq(uvs_symbolizer_preload(s), 0, "nothing left to do");
	cr_assert_eq(uvs_symbolize_user(s, (uint64_t)(uintptr_t)uvs_symtab_lookup, &sym), 0);
	cr_expect_str_eq(sym.name, "uvs_symtab_lookup");
	uvs_address_space_free(as);
	uvs_symbolizer_free(s);
	uvs_symtab_cache_clear();
}

Test(symbolizer, executable_memory_of_no_elf_object_is_jit_code)
{
	/* What a JIT that maps its code from a memfd looks like: "/memfd:x (deleted)", r-x. */
	int fd = memfd_create("uvs-test-jit", MFD_CLOEXEC);
	struct uvs_symbolizer *s;
	struct uvs_native_sym sym;
	void *code;

	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	cr_assert_neq(code, MAP_FAILED);
	s = uvs_symbolizer_new(getpid());
	cr_assert(s);
	cr_assert_eq(uvs_symbolize_user(s, (uint64_t)(uintptr_t)code + 8, &sym), 0);
	cr_expect_eq(sym.kind, UVS_ADDR_ANON_EXEC);
	cr_expect_null(sym.object);
	uvs_symbolizer_free(s);
	munmap(code, 4096);
	close(fd);
}
