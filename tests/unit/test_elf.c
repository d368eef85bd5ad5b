// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/elf_symbols.c against the fixtures of tests/unit/fixtures.mk.
 *
 * Expected values never come from the code under test: symbol values and sizes from `nm -S`,
 * build ids from `readelf -n` (both captured at build time), file offsets from the program
 * headers parsed here by hand, and for the shared library the bytes the dynamic loader mapped.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "target/elf.h"
#include "fixture_files.h"

#define NODE_PATH "/usr/bin/node"

/* Value (and size, 0 if nm shows none) of sym in a `nm -S` listing; fails the test if absent. */
static uint64_t nm_value(const char *fixture, const char *sym, uint64_t *size)
{
	char path[4200], line[512], name[256];
	unsigned long v, sz;
	char type;
	FILE *f;

	snprintf(path, sizeof(path), "%s.nm", fx(fixture));
	f = fopen(path, "r");
	cr_assert(f, "cannot open %s (run `make unit`)", path);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %lx %c %255s", &v, &sz, &type, name) != 4) {
			sz = 0;
			if (sscanf(line, "%lx %c %255s", &v, &type, name) != 3)
				continue;
		}
		if (!strcmp(name, sym)) {
			fclose(f);
			if (size)
				*size = sz;
			return v;
		}
	}
	fclose(f);
	cr_assert_fail("%s not in %s", sym, path);
	return 0;
}

/* The build id readelf printed for fixture, as hex. */
static void expected_build_id(const char *fixture, char *out, size_t cap)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s.buildid", fx(fixture));
	f = fopen(path, "r");
	cr_assert(f, "cannot open %s", path);
	cr_assert(fgets(out, cap, f), "%s is empty: readelf saw no build id", path);
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* The test's own program-header walk: the PT_LOADs of path, by pread, no libelf. */
static size_t read_loads(const char *path, Elf64_Phdr *loads, size_t cap)
{
	Elf64_Ehdr eh;
	size_t i, n = 0;
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pread(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh));
	for (i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		cr_assert_eq(pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)), (ssize_t)sizeof(ph));
		if (ph.p_type == PT_LOAD && n < cap)
			loads[n++] = ph;
	}
	close(fd);
	return n;
}

/* Where vaddr lands in the file of path according to its PT_LOADs; fails if nowhere. */
static uint64_t expected_offset(const char *path, uint64_t vaddr)
{
	Elf64_Phdr loads[32];
	size_t i, n = read_loads(path, loads, 32);

	for (i = 0; i < n; i++)
		if (vaddr >= loads[i].p_vaddr && vaddr < loads[i].p_vaddr + loads[i].p_memsz)
			return vaddr - loads[i].p_vaddr + loads[i].p_offset;
	cr_assert_fail("%#lx is in no PT_LOAD of %s", (unsigned long)vaddr, path);
	return 0;
}

static uint64_t expected_load_base(const char *path)
{
	Elf64_Phdr loads[32];
	size_t i, n = read_loads(path, loads, 32);

	for (i = 0; i < n; i++)
		if (loads[i].p_offset == 0)
			return loads[i].p_vaddr;
	cr_assert_fail("no PT_LOAD at offset 0 in %s", path);
	return 0;
}

static struct uvs_elf *open_ok(const char *path)
{
	struct uvs_elf *e = uvs_elf_open(path);

	cr_assert(e, "uvs_elf_open(%s): %s", path, strerror(errno));
	return e;
}

/* At -O0 with a frame pointer every function starts with push %rbp, maybe after endbr64. */
static void assert_prologue(struct uvs_elf *e, const struct uvs_elf_symbol *s)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	uint8_t b[4];

	cr_assert_eq(uvs_elf_read(e, s->file_offset, b, sizeof(b)), 0);
	cr_assert(b[0] == 0x55 || !memcmp(b, endbr64, 4),
		  "no function prologue at file offset %#lx", (unsigned long)s->file_offset);
}

/* Checks a function lookup against nm (values from nm_fixture) and our own phdr walk. */
static void check_function(struct uvs_elf *e, const char *fixture, const char *nm_fixture,
			   const char *name, bool dynsym)
{
	struct uvs_elf_symbol s;
	uint64_t size, value = nm_value(nm_fixture, name, &size);

	cr_assert_eq(uvs_elf_find_function(e, name, &s), 0, "%s not found in %s", name, fixture);
	cr_expect_eq(s.addr, value, "%s: addr %#lx, nm says %#lx", name, (unsigned long)s.addr,
		     (unsigned long)value);
	cr_expect_eq(s.size, size, "%s: size %lu, nm says %lu", name, (unsigned long)s.size,
		     (unsigned long)size);
	cr_expect_eq(s.file_offset, expected_offset(fx(fixture), value), "%s: file offset %#lx",
		     name, (unsigned long)s.file_offset);
	cr_expect_eq(s.from_dynsym, dynsym, "%s: from_dynsym %d", name, s.from_dynsym);
	assert_prologue(e, &s);
}

/* Checks a data object, including that the file holds its initial value (when in .data). */
static void check_object(struct uvs_elf *e, const char *fixture, const char *nm_fixture,
			 const char *name, bool dynsym, int initial)
{
	struct uvs_elf_symbol s;
	uint64_t off, value = nm_value(nm_fixture, name, NULL);
	int v;

	cr_assert_eq(uvs_elf_find_object(e, name, &s), 0, "%s not found in %s", name, fixture);
	cr_expect_eq(s.addr, value);
	cr_expect_eq(s.size, sizeof(int));
	cr_expect_eq(s.file_offset, expected_offset(fx(fixture), value));
	cr_expect_eq(s.from_dynsym, dynsym);
	cr_assert_eq(uvs_elf_vaddr_to_offset(e, s.addr, &off), 0);
	cr_expect_eq(off, s.file_offset);
	if (initial) {
		cr_assert_eq(uvs_elf_read(e, s.file_offset, &v, sizeof(v)), 0);
		cr_expect_eq(v, initial, "%s holds %d in the file, not %d", name, v, initial);
	}
	/* Not a function, and no function of that name. */
	cr_expect_eq(uvs_elf_find_function(e, name, &s), -ENOENT);
}

/* The checks shared by the non-PIE and PIE executables (same source). */
static void check_program(const char *fixture, bool dyn)
{
	struct uvs_elf *e = open_ok(fx(fixture));
	struct uvs_elf_symbol s;

	cr_expect_eq(uvs_elf_is_dyn(e), dyn);
	cr_expect(uvs_elf_has_symtab(e));
	cr_expect_eq(uvs_elf_load_base(e), expected_load_base(fx(fixture)));
	cr_expect_eq(uvs_elf_load_base(e), dyn ? 0 : 0x400000);
	check_function(e, fixture, fixture, "fixture_static_fn", false);
	check_function(e, fixture, fixture, "fixture_global_fn", false);
	check_function(e, fixture, fixture, "main", false);
	check_object(e, fixture, fixture, "fixture_data_object", false, 42);
	check_object(e, fixture, fixture, "fixture_bss_object", false, 0);
	cr_expect_eq(uvs_elf_find_function(e, "no_such_function", &s), -ENOENT);
	cr_expect_eq(uvs_elf_find_function(e, "printf", &s), -ENOENT, "undefined symbols do not count");
	cr_expect_eq(uvs_elf_find_object(e, "fixture_global_fn", &s), -ENOENT);
	uvs_elf_close(e);
}

Test(elf, nopie)
{
	check_program("nopie", false);
}

Test(elf, pie)
{
	check_program("pie", true);
}

/* Dropping the tables frees libelf's copies; lookups after it read them again, same answers. */
Test(elf, lookups_after_dropping_the_tables)
{
	struct uvs_elf *e = open_ok(fx("pie"));
	struct uvs_elf_symbol s;

	check_function(e, "pie", "pie", "fixture_static_fn", false);
	cr_assert_eq(uvs_elf_drop_tables(e), 0);
	check_function(e, "pie", "pie", "fixture_static_fn", false);
	check_function(e, "pie", "pie", "main", false);
	check_object(e, "pie", "pie", "fixture_data_object", false, 42);
	cr_assert_eq(uvs_elf_drop_tables(e), 0);
	cr_assert_eq(uvs_elf_drop_tables(e), 0, "twice in a row, nothing read between");
	cr_expect_eq(uvs_elf_find_function(e, "no_such_function", &s), -ENOENT);
	check_function(e, "pie", "pie", "fixture_global_fn", false);
	uvs_elf_close(e);
	cr_expect_eq(uvs_elf_drop_tables(NULL), 0);
}

/* A file cut short after opening: dropping says so, and lookups then find nothing, safely. */
Test(elf, dropping_the_tables_of_a_file_that_changed)
{
	size_t len;
	uint8_t *img = slurp(fx("pie"), &len);
	int fd = scratch_fd();
	struct uvs_elf *e = open_bytes(fd, img, len);
	struct uvs_elf_symbol s;
	uint8_t id[64];
	size_t n;

	cr_assert(e, "the intact copy opens");
	cr_assert_eq(uvs_elf_find_function(e, "main", &s), 0);
	cr_assert_eq(ftruncate(fd, 64), 0);
	cr_expect_eq(uvs_elf_drop_tables(e), -EINVAL);
	cr_expect_neq(uvs_elf_find_function(e, "main", &s), 0);
	cr_expect_neq(uvs_elf_find_object(e, "fixture_data_object", &s), 0);
	cr_expect_neq(uvs_elf_build_id(e, id, sizeof(id), &n), 0);
	uvs_elf_close(e);
	close(fd);
	free(img);
}

Test(elf, stripped_has_only_dynsym)
{
	struct uvs_elf *e = open_ok(fx("stripped"));
	struct uvs_elf_symbol s;

	cr_expect(!uvs_elf_has_symtab(e));
	cr_expect(uvs_elf_is_dyn(e));
	/* strip does not move code: the PIE's nm values still hold. */
	check_function(e, "stripped", "pie", "fixture_global_fn", true);
	check_object(e, "stripped", "pie", "fixture_data_object", true, 42);
	cr_expect_eq(uvs_elf_find_function(e, "fixture_static_fn", &s), -ENOENT);
	uvs_elf_close(e);
}

Test(elf, shared_library_matches_what_the_loader_maps)
{
	struct uvs_elf *e = open_ok(fx("libfixture.so"));
	struct uvs_elf_symbol s;
	struct link_map *lm;
	uint8_t file[16];
	void *h, *fn;

	cr_expect(uvs_elf_is_dyn(e));
	cr_expect(uvs_elf_has_symtab(e));
	cr_expect_eq(uvs_elf_load_base(e), 0);
	check_function(e, "libfixture.so", "libfixture.so", "lib_static_fn", false);
	check_function(e, "libfixture.so", "libfixture.so", "lib_global_fn", false);
	check_object(e, "libfixture.so", "libfixture.so", "lib_data_object", false, 7);

	/* The bytes at file_offset are the bytes the loader put at the function's address. */
	h = dlopen(fx("libfixture.so"), RTLD_NOW | RTLD_LOCAL);
	cr_assert(h, "dlopen: %s", dlerror());
	cr_assert_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
	fn = dlsym(h, "lib_global_fn");
	cr_assert(fn);
	cr_assert_eq(uvs_elf_find_function(e, "lib_global_fn", &s), 0);
	cr_expect_eq((uintptr_t)fn - lm->l_addr, s.addr);
	cr_assert_eq(uvs_elf_read(e, s.file_offset, file, sizeof(file)), 0);
	cr_expect(!memcmp(file, fn, sizeof(file)), "file bytes differ from the mapped function");
	dlclose(h);
	uvs_elf_close(e);
}

/* What the program imports, against binutils: `nm -D --undefined-only` lists exactly those. */
Test(elf, imports_are_what_nm_lists_undefined)
{
	struct uvs_elf *e = open_ok(fx("pie"));
	char cmd[4200], line[512];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -D --undefined-only %s", fx("pie"));
	p = popen(cmd, "r");
	cr_assert(p);
	while (fgets(line, sizeof(line), p)) {
		char *name = strrchr(line, ' ');

		cr_assert(name, "odd nm line: %s", line);
		/* "__libc_start_main@GLIBC_2.34": the name is what comes before the version. */
		name[strcspn(name, "\n@")] = '\0';
		cr_expect_eq(uvs_elf_imports(e, name + 1), 1, "nm says %s is undefined", name + 1);
		n++;
	}
	pclose(p);
	cr_expect_gt(n, 0, "every program imports __libc_start_main");
	cr_expect_eq(uvs_elf_imports(e, "__libc_start_main"), 1);
	cr_expect_eq(uvs_elf_imports(e, "fixture_global_fn"), 0, "defined here, not imported");
	cr_expect_eq(uvs_elf_imports(e, "uv_queue_work"), 0);
	cr_expect_eq(uvs_elf_imports(e, ""), -EINVAL);
	uvs_elf_close(e);
}

Test(elf, prefix_prefers_the_function_to_its_gcc_pieces)
{
	struct uvs_elf *e = open_ok(fx("pie"));
	struct uvs_elf_symbol s;
	char name[64];

	/* .symtab has fixture_pfx.cold before fixture_pfx_entry. */
	cr_assert_eq(uvs_elf_find_function_prefix(e, "fixture_pfx", &s), 0);
	cr_expect_eq(s.addr, nm_value("pie", "fixture_pfx_entry", NULL));
	/* Only a clone carries the prefix: take it. */
	cr_assert_eq(uvs_elf_find_function_prefix(e, "fixture_clone", &s), 0);
	cr_expect_eq(s.addr, nm_value("pie", "fixture_clone.part.0", NULL));
	/* Asked for by name, even a cold piece is found. */
	cr_assert_eq(uvs_elf_find_function_prefix(e, "fixture_pfx.cold", &s), 0);
	cr_expect_eq(s.addr, nm_value("pie", "fixture_pfx.cold", NULL));
	cr_assert_eq(uvs_elf_find_function(e, "fixture_pfx.cold", &s), 0);

	cr_assert_eq(uvs_elf_find_function_prefix(e, "fixture_glob", &s), 0);
	cr_assert_eq(uvs_elf_symbol_at(e, s.addr, name, sizeof(name), NULL), 0);
	cr_expect_str_eq(name, "fixture_global_fn");
	cr_expect_eq(uvs_elf_find_function_prefix(e, "fixture_data", &s), -ENOENT, "not a function");
	cr_expect_eq(uvs_elf_find_function_prefix(e, "zz_nothing", &s), -ENOENT);
	cr_expect_eq(uvs_elf_find_function_prefix(e, "", &s), -EINVAL);
	uvs_elf_close(e);
}

Test(elf, symbol_at)
{
	struct uvs_elf *e = open_ok(fx("nopie"));
	uint64_t size, start = 0, addr = nm_value("nopie", "fixture_global_fn", &size);
	char name[64], small[8];

	cr_assert(size > 1);
	cr_assert_eq(uvs_elf_symbol_at(e, addr, name, sizeof(name), &start), 0);
	cr_expect_str_eq(name, "fixture_global_fn");
	cr_expect_eq(start, addr);
	cr_assert_eq(uvs_elf_symbol_at(e, addr + size - 1, name, sizeof(name), &start), 0);
	cr_expect_str_eq(name, "fixture_global_fn");
	cr_expect_eq(start, addr);
	/* One past the end belongs to someone else, or no one. */
	start = 0;
	if (uvs_elf_symbol_at(e, addr + size, name, sizeof(name), &start) == 0)
		cr_expect_neq(start, addr);
	/* Statics too, truncated names, no name buffer at all. */
	addr = nm_value("nopie", "fixture_static_fn", NULL);
	cr_assert_eq(uvs_elf_symbol_at(e, addr + 3, small, sizeof(small), NULL), 0);
	cr_expect_str_eq(small, "fixture");
	cr_assert_eq(uvs_elf_symbol_at(e, addr + 3, NULL, 0, &start), 0);
	cr_expect_eq(start, addr);
	/* Data is not a function; nothing lives at 0 or at the top. */
	cr_expect_eq(uvs_elf_symbol_at(e, nm_value("nopie", "fixture_data_object", NULL), name,
				       sizeof(name), NULL), -ENOENT);
	cr_expect_eq(uvs_elf_symbol_at(e, 0, name, sizeof(name), NULL), -ENOENT);
	cr_expect_eq(uvs_elf_symbol_at(e, UINT64_MAX, name, sizeof(name), NULL), -ENOENT);
	uvs_elf_close(e);
}

Test(elf, build_id_matches_readelf)
{
	static const char *const fixtures[] = { "nopie", "pie", "stripped", "libfixture.so" };
	uint8_t id[64];
	char hex[129], want[256];
	size_t i, len;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		struct uvs_elf *e = open_ok(fx(fixtures[i]));

		expected_build_id(fixtures[i], want, sizeof(want));
		cr_assert_eq(uvs_elf_build_id(e, id, sizeof(id), &len), 0, "%s", fixtures[i]);
		cr_expect_eq(len, 20, "--build-id=sha1 is 20 bytes");
		uvs_elf_build_id_hex(id, len, hex, sizeof(hex));
		cr_expect_str_eq(hex, want, "%s", fixtures[i]);
		len = 0;
		cr_expect_eq(uvs_elf_build_id(e, id, 4, &len), -ENOSPC);
		cr_expect_eq(len, 20);
		uvs_elf_close(e);
	}
}

Test(elf, build_id_hex_truncates)
{
	static const uint8_t id[] = { 0xab, 0x01, 0xff };
	char out[8];

	uvs_elf_build_id_hex(id, sizeof(id), out, sizeof(out));
	cr_expect_str_eq(out, "ab01ff");
	uvs_elf_build_id_hex(id, sizeof(id), out, 4);
	cr_expect_str_eq(out, "ab0");
	uvs_elf_build_id_hex(id, sizeof(id), out, 1);
	cr_expect_str_eq(out, "");
	out[0] = 'x';
	uvs_elf_build_id_hex(id, sizeof(id), out, 0);
	cr_expect_eq(out[0], 'x');
	uvs_elf_build_id_hex(id, 0, out, sizeof(out));
	cr_expect_str_eq(out, "");
}

Test(elf, read_is_bounded)
{
	struct uvs_elf *e = open_ok(fx("pie"));
	struct stat st;
	uint8_t b[8];

	cr_assert_eq(stat(fx("pie"), &st), 0);
	cr_assert_eq(uvs_elf_read(e, 0, b, 4), 0);
	cr_expect(!memcmp(b, ELFMAG, SELFMAG));
	cr_expect_eq(uvs_elf_read(e, st.st_size - 4, b, 4), 0);
	cr_expect_eq(uvs_elf_read(e, st.st_size - 3, b, 4), -ERANGE);
	cr_expect_eq(uvs_elf_read(e, st.st_size, b, 0), 0);
	cr_expect_eq(uvs_elf_read(e, st.st_size + 1, b, 0), -ERANGE);
	cr_expect_eq(uvs_elf_read(e, UINT64_MAX - 1, b, 4), -ERANGE, "offset + len overflows");
	cr_expect_eq(uvs_elf_read(e, 0, NULL, 4), -EINVAL);
	uvs_elf_close(e);
}

Test(elf, vaddr_to_offset)
{
	struct uvs_elf *e = open_ok(fx("nopie"));
	uint64_t off, addr = nm_value("nopie", "fixture_global_fn", NULL);

	cr_assert_eq(uvs_elf_vaddr_to_offset(e, addr, &off), 0);
	cr_expect_eq(off, expected_offset(fx("nopie"), addr));
	cr_expect_eq(off, addr - 0x400000, "non-PIE x86-64 text: offset = vaddr - 0x400000");
	cr_expect_eq(uvs_elf_vaddr_to_offset(e, 0, &off), -ENOENT);
	cr_expect_eq(uvs_elf_vaddr_to_offset(e, 0x400000 - 1, &off), -ENOENT);
	cr_expect_eq(uvs_elf_vaddr_to_offset(e, UINT64_MAX, &off), -ENOENT);
	uvs_elf_close(e);
}

static void expect_open_error(const char *path, int err)
{
	struct uvs_elf *e;

	errno = 0;
	e = uvs_elf_open(path);
	cr_expect_null(e, "%s opened", path);
	cr_expect_eq(errno, err, "%s: errno %d (%s), want %d", path, errno, strerror(errno), err);
	uvs_elf_close(e);
}

Test(elf, bad_files_fail_cleanly)
{
	expect_open_error(fx("truncated"), EINVAL);
	expect_open_error(fx("corrupt-shoff"), EINVAL);
	expect_open_error(fx("not-elf.txt"), ENOEXEC);
	expect_open_error(fx("prog.o"), ENOEXEC); /* ET_REL */
	expect_open_error(fx("no-such-file"), ENOENT);
	expect_open_error(fx(""), EISDIR);
	expect_open_error("/dev/null", EINVAL);
	errno = 0;
	cr_expect_null(uvs_elf_open(NULL));
	cr_expect_eq(errno, EINVAL);
}

/* Section header of the first section of type type in an ELF image. */
static Elf64_Shdr *find_shdr(uint8_t *img, uint32_t type)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + eh->e_shoff);
	int i;

	for (i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == type)
			return &sh[i];
	cr_assert_fail("no section of type %u", type);
	return NULL;
}

/* Section header of the section called name in an ELF image, by the test's own walk; or NULL. */
static Elf64_Shdr *find_shdr_named(uint8_t *img, const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + eh->e_shoff);
	const char *names = (const char *)img + sh[eh->e_shstrndx].sh_offset;
	int i;

	for (i = 1; i < eh->e_shnum; i++)
		if (!strcmp(names + sh[i].sh_name, name))
			return &sh[i];
	return NULL;
}

Test(elf, section_range_matches_the_section_headers)
{
	static const char *const fixtures[] = { "nopie", "pie", "stripped", "libfixture.so" };
	static const char *const names[] = { ".rodata", ".text", ".dynsym" };
	uint64_t off, size;
	size_t i, j, len;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		uint8_t *img = slurp(fx(fixtures[i]), &len);
		struct uvs_elf *e = open_ok(fx(fixtures[i]));

		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			Elf64_Shdr *sh = find_shdr_named(img, names[j]);

			if (!sh) { /* libfixture.so has no .rodata */
				cr_expect_eq(uvs_elf_section_range(e, names[j], &off, &size),
					     -ENOENT, "%s %s", fixtures[i], names[j]);
				continue;
			}
			cr_assert_eq(uvs_elf_section_range(e, names[j], &off, &size), 0, "%s %s",
				     fixtures[i], names[j]);
			cr_expect_eq(off, sh->sh_offset, "%s %s", fixtures[i], names[j]);
			cr_expect_eq(size, sh->sh_size, "%s %s", fixtures[i], names[j]);
		}
		/* .bss has no bytes in the file. */
		cr_expect_eq(uvs_elf_section_range(e, ".bss", &off, &size), -ENOENT);
		cr_expect_eq(uvs_elf_section_range(e, ".no-such-section", &off, &size), -ENOENT);
		cr_expect_eq(uvs_elf_section_range(e, "", &off, &size), -ENOENT);
		uvs_elf_close(e);
		free(img);
	}
}

/* Patched section names: the file still opens, the section is no longer found by name. */
Test(elf, section_range_survives_bad_names)
{
	size_t len;
	uint8_t *img = slurp(fx("pie"), &len);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Shdr *rodata = find_shdr_named(img, ".rodata");
	Elf64_Shdr *shstrtab = (Elf64_Shdr *)(img + eh->e_shoff) + eh->e_shstrndx;
	int fd = scratch_fd();
	uint64_t off, size;
	struct uvs_elf *e;

	cr_assert(rodata);
	rodata->sh_name = 0xfffffff0; /* past .shstrtab */
	e = open_bytes(fd, img, len);
	cr_assert(e, "%s", strerror(errno));
	cr_expect_eq(uvs_elf_section_range(e, ".rodata", &off, &size), -ENOENT);
	cr_expect_eq(uvs_elf_section_range(e, ".text", &off, &size), 0);
	uvs_elf_close(e);

	/* The name's NUL overwritten, and with it every byte up to the end of .shstrtab. */
	memset(img + shstrtab->sh_offset, 'x', shstrtab->sh_size);
	e = open_bytes(fd, img, len);
	cr_assert(e, "%s", strerror(errno));
	cr_expect_eq(uvs_elf_section_range(e, ".text", &off, &size), -ENOENT);
	uvs_elf_close(e);

	eh->e_shstrndx = 50000;
	e = open_bytes(fd, img, len);
	if (e) /* libelf may refuse this one itself */
		cr_expect_eq(uvs_elf_section_range(e, ".text", &off, &size), -ENOENT);
	uvs_elf_close(e);
	close(fd);
	free(img);
}

/* One patched copy of the PIE: apply patch, open, expect errno err, restore. */
#define PATCHED(field, value, err)						\
	do {									\
		__typeof__(field) saved_ = (field);				\
		struct uvs_elf *e_;						\
										\
		(field) = (value);						\
		errno = 0;							\
		e_ = open_bytes(fd, img, len);					\
		cr_expect_null(e_, "opened with " #field " = " #value);		\
		cr_expect_eq(errno, (err), #field " = " #value ": errno %d", errno); \
		uvs_elf_close(e_);						\
		(field) = saved_;						\
	} while (0)

Test(elf, patched_headers_are_refused)
{
	size_t len;
	uint8_t *img = slurp(fx("pie"), &len);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Shdr *symtab = find_shdr(img, SHT_SYMTAB);
	int fd = scratch_fd();
	struct uvs_elf *e;

	/* The unpatched image opens, through the fd, and the caller's fd survives close. */
	e = open_bytes(fd, img, len);
	cr_assert(e, "%s", strerror(errno));
	uvs_elf_close(e);
	cr_expect_neq(fcntl(fd, F_GETFD), -1, "uvs_elf_close closed the caller's fd");

	PATCHED(img[EI_CLASS], ELFCLASS32, ENOEXEC);
	PATCHED(img[EI_DATA], ELFDATA2MSB, ENOEXEC);
	PATCHED(eh->e_machine, EM_AARCH64, ENOEXEC);
	PATCHED(eh->e_type, ET_CORE, ENOEXEC);
	PATCHED(eh->e_phoff, len - 8, EINVAL);
	PATCHED(eh->e_phentsize, 12, EINVAL);
	PATCHED(eh->e_shentsize, 12, EINVAL);
	PATCHED(eh->e_shnum, 60000, EINVAL);
	PATCHED(symtab->sh_offset, len - 16, EINVAL);
	PATCHED(symtab->sh_size, 1ULL << 62, EINVAL);
	PATCHED(symtab->sh_entsize, 16, EINVAL);
	PATCHED(symtab->sh_link, 0, EINVAL);
	PATCHED(symtab->sh_link, 50000, EINVAL);
	PATCHED(symtab->sh_link, (uint32_t)(symtab - (Elf64_Shdr *)(img + eh->e_shoff)), EINVAL);

	errno = 0;
	cr_expect_null(uvs_elf_open_fd(-1));
	cr_expect_eq(errno, EBADF);
	close(fd);
	free(img);
}

/* The .symtab entry called name in an ELF image. */
static Elf64_Sym *find_sym(uint8_t *img, const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Shdr *symtab = find_shdr(img, SHT_SYMTAB);
	Elf64_Shdr *strtab = (Elf64_Shdr *)(img + eh->e_shoff) + symtab->sh_link;
	Elf64_Sym *syms = (Elf64_Sym *)(img + symtab->sh_offset);
	size_t i;

	for (i = 0; i < symtab->sh_size / sizeof(*syms); i++)
		if (!strcmp((char *)img + strtab->sh_offset + syms[i].st_name, name))
			return &syms[i];
	cr_assert_fail("%s not in .symtab", name);
	return NULL;
}

/* One patched symbol: the file opens, the lookup of name gives want. */
#define PATCHED_SYM(field, value, name, want)					\
	do {									\
		__typeof__(field) saved_ = (field);				\
		struct uvs_elf_symbol s_;					\
		struct uvs_elf *e_;						\
										\
		(field) = (value);						\
		e_ = open_bytes(fd, img, len);					\
		cr_assert(e_, #field " = " #value ": %s", strerror(errno));	\
		cr_expect_eq(uvs_elf_find_function(e_, (name), &s_), (want),	\
			     #field " = " #value);				\
		uvs_elf_close(e_);						\
		(field) = saved_;						\
	} while (0)

Test(elf, patched_symbols_are_skipped)
{
	size_t len;
	uint8_t *img = slurp(fx("pie"), &len);
	Elf64_Sym *fn = find_sym(img, "fixture_static_fn");
	uint64_t bss = find_sym(img, "fixture_bss_object")->st_value;
	int fd = scratch_fd();

	PATCHED_SYM(fn->st_value, fn->st_value, "fixture_static_fn", 0);
	/* A "function" in .bss has no bytes for a uprobe. */
	PATCHED_SYM(fn->st_value, bss, "fixture_static_fn", -ENOENT);
	PATCHED_SYM(fn->st_value, 0x7fff00000000, "fixture_static_fn", -ENOENT);
	PATCHED_SYM(fn->st_shndx, SHN_UNDEF, "fixture_static_fn", -ENOENT);
	PATCHED_SYM(fn->st_shndx, SHN_ABS, "fixture_static_fn", -ENOENT);
	PATCHED_SYM(fn->st_info, ELF64_ST_INFO(STB_LOCAL, STT_OBJECT), "fixture_static_fn", -ENOENT);
	PATCHED_SYM(fn->st_info, ELF64_ST_INFO(STB_LOCAL, STT_GNU_IFUNC), "fixture_static_fn", 0);
	/* A name offset past the string table: skipped, the rest still found. */
	PATCHED_SYM(fn->st_name, 0xfffffff0, "fixture_global_fn", 0);
	close(fd);
	free(img);
}

/* Every call on a (possibly broken) object; only the absence of crashes is checked. */
static void poke(struct uvs_elf *e)
{
	struct uvs_elf_symbol s;
	uint8_t id[64], b[16];
	char name[64];
	uint64_t v;
	size_t n;

	uvs_elf_find_function(e, "fixture_global_fn", &s);
	uvs_elf_find_function(e, "fixture_static_fn", &s);
	uvs_elf_find_object(e, "fixture_data_object", &s);
	uvs_elf_find_function_prefix(e, "fixture_pfx", &s);
	uvs_elf_symbol_at(e, 0x1150, name, sizeof(name), &v);
	uvs_elf_build_id(e, id, sizeof(id), &n);
	uvs_elf_vaddr_to_offset(e, 0x1150, &v);
	uvs_elf_section_range(e, ".rodata", &v, &v);
	uvs_elf_read(e, 0x1000, b, sizeof(b));
	uvs_elf_is_dyn(e);
	uvs_elf_has_symtab(e);
	uvs_elf_load_base(e);
}

/* A deterministic xorshift, so a failure reproduces. */
static uint64_t rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

Test(elf, truncations_and_random_corruption_do_not_crash)
{
	size_t len, cut, i, j, opened = 0;
	uint8_t *img = slurp(fx("pie"), &len);
	uint8_t *copy = malloc(len);
	uint64_t seed = 0x5eed;
	int fd = scratch_fd();
	struct uvs_elf *e;

	cr_assert(copy);
	/* Every truncation is refused: the section header table is at the very end. */
	for (cut = 0; cut < len; cut += cut < 256 ? 1 : 61) {
		e = open_bytes(fd, img, cut);
		cr_expect_null(e, "opened when cut to %zu of %zu bytes", cut, len);
		if (e)
			poke(e);
		uvs_elf_close(e);
	}
	/* Random bytes overwritten, mostly in the headers and the symbol tables. */
	for (i = 0; i < 400; i++) {
		Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
		size_t nbytes = 1 + rnd(&seed) % 8;

		memcpy(copy, img, len);
		for (j = 0; j < nbytes; j++) {
			size_t at;

			switch (rnd(&seed) % 4) {
			case 0: at = rnd(&seed) % (eh->e_phoff + eh->e_phnum * sizeof(Elf64_Phdr)); break;
			case 1: at = eh->e_shoff + rnd(&seed) % (eh->e_shnum * sizeof(Elf64_Shdr)); break;
			default: at = rnd(&seed) % len; break;
			}
			copy[at] = rnd(&seed);
		}
		e = open_bytes(fd, copy, len);
		if (e) {
			opened++;
			poke(e);
		}
		uvs_elf_close(e);
	}
	cr_log_info("%zu of 400 corrupted copies still opened (and were poked)", opened);
	close(fd);
	free(copy);
	free(img);
}

Test(elf, null_arguments)
{
	struct uvs_elf *e = open_ok(fx("pie"));
	struct uvs_elf_symbol s;
	uint64_t v;
	size_t n;

	uvs_elf_close(NULL);
	cr_expect_eq(uvs_elf_find_function(NULL, "main", &s), -EINVAL);
	cr_expect_eq(uvs_elf_find_function(e, NULL, &s), -EINVAL);
	cr_expect_eq(uvs_elf_find_function(e, "main", NULL), -EINVAL);
	cr_expect_eq(uvs_elf_find_object(e, "", &s), -EINVAL);
	cr_expect_eq(uvs_elf_symbol_at(NULL, 0, NULL, 0, NULL), -EINVAL);
	cr_expect_eq(uvs_elf_build_id(e, NULL, 0, &n), -ENOSPC);
	cr_expect_eq(uvs_elf_vaddr_to_offset(e, 0x1000, NULL), -EINVAL);
	cr_expect_eq(uvs_elf_vaddr_to_offset(NULL, 0x1000, &v), -EINVAL);
	cr_expect_eq(uvs_elf_section_range(NULL, ".rodata", &v, &v), -EINVAL);
	cr_expect_eq(uvs_elf_section_range(e, NULL, &v, &v), -EINVAL);
	cr_expect_eq(uvs_elf_section_range(e, ".rodata", NULL, &v), -EINVAL);
	cr_expect(!uvs_elf_is_dyn(NULL));
	cr_expect(!uvs_elf_has_symtab(NULL));
	cr_expect_eq(uvs_elf_load_base(NULL), 0);
	uvs_elf_close(e);
}

/* The real thing: the official Node build, statically linked libuv, unstripped. */
Test(elf, node_binary)
{
	static const char *const symtab_only[] = {
		"uv__run_timers", "uv__io_poll", "worker", "_ZN4node6worker6Worker3RunEv",
	};
	struct uvs_elf_symbol s;
	struct uvs_elf *e;
	uint8_t id[64];
	size_t i, n;

	if (access(NODE_PATH, R_OK))
		cr_skip_test(NODE_PATH " is not here: no real-world check");
	e = open_ok(NODE_PATH);
	cr_assert_eq(uvs_elf_find_function(e, "uv_run", &s), 0,
		     NODE_PATH " has no uv_run: a distro build with a shared libuv?");
	cr_expect_eq(s.file_offset, expected_offset(NODE_PATH, s.addr));
	cr_expect_eq(uvs_elf_load_base(e), expected_load_base(NODE_PATH));
	cr_expect_eq(uvs_elf_build_id(e, id, sizeof(id), &n), 0);
	if (!uvs_elf_has_symtab(e)) {
		cr_log_info(NODE_PATH " is stripped: the .symtab-only checks are skipped");
		uvs_elf_close(e);
		return;
	}
	for (i = 0; i < sizeof(symtab_only) / sizeof(symtab_only[0]); i++) {
		cr_assert_eq(uvs_elf_find_function(e, symtab_only[i], &s), 0, "%s", symtab_only[i]);
		cr_expect(!s.from_dynsym, "%s", symtab_only[i]);
		cr_expect_eq(s.file_offset, expected_offset(NODE_PATH, s.addr), "%s", symtab_only[i]);
	}
	/* A .bss static: found, with a nominal offset. */
	cr_assert_eq(uvs_elf_find_object(e, "nthreads", &s), 0);
	cr_expect_eq(s.size, sizeof(unsigned int));
	cr_expect_eq(s.file_offset, expected_offset(NODE_PATH, s.addr));
	uvs_elf_close(e);
}
