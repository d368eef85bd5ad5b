// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/symbols/symtab.c and symtab_cache.c against the ELF fixtures.
 *
 * The reference is readelf's listing of each fixture (fixture_syms.h), demangled by binutils:
 * every function it lists must be found at its address, and inside it with the right offset,
 * under its (demangled) name; the known names of the fixture sources must be among them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture_files.h"
#include "fixture_syms.h"
#include "symbols/symtab.h"
#include "symbols/symtab_cache.h"

static struct uvs_symtab *build(const char *fixture)
{
	struct uvs_elf *elf = uvs_elf_open(fx(fixture));
	struct uvs_symtab *t;

	cr_assert(elf, "open %s: %s", fixture, strerror(errno));
	t = uvs_symtab_build(elf);
	cr_assert(t, "index %s: %s", fixture, strerror(errno));
	uvs_elf_close(elf);
	return t;
}

/* True when readelf lists a function called name at value (aliases share an address). */
static bool listed_at(const struct fixture_sym *v, size_t n, uint64_t value, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].value == value && !strcmp(v[i].name, name))
			return true;
	}
	return false;
}

static void expect_at(struct uvs_symtab *t, const struct fixture_sym *v, size_t n,
		      const struct fixture_sym *f, uint64_t addr)
{
	struct uvs_symtab_hit hit;

	cr_assert_eq(uvs_symtab_lookup(t, addr, &hit), 0, "%s+0x%llx not found", f->name,
		     (unsigned long long)(addr - f->value));
	cr_expect_eq(hit.start, f->value, "%s+0x%llx: start 0x%llx, not 0x%llx", f->name,
		     (unsigned long long)(addr - f->value), (unsigned long long)hit.start,
		     (unsigned long long)f->value);
	cr_expect(listed_at(v, n, f->value, hit.name), "0x%llx named \"%s\", readelf says \"%s\"",
		  (unsigned long long)addr, hit.name, f->name);
}

/* Every listed function at its start, its middle and its last byte. */
static void check_all(const char *fixture, const char *const *known, size_t nknown)
{
	struct uvs_symtab *t = build(fixture);
	struct fixture_sym *v;
	size_t n, i;

	v = fixture_functions(fixture, &n);
	for (i = 0; i < nknown; i++)
		fixture_function(v, n, known[i]);
	for (i = 0; i < n; i++) {
		expect_at(t, v, n, &v[i], v[i].value);
		if (v[i].size > 1) {
			expect_at(t, v, n, &v[i], v[i].value + v[i].size / 2);
			expect_at(t, v, n, &v[i], v[i].value + v[i].size - 1);
		}
	}
	free(v);
	uvs_symtab_put(t);
}

Test(symtab, every_function_of_a_non_pie_executable)
{
	static const char *const known[] = { "fixture_global_fn", "fixture_static_fn",
					     "fixture_pfx_entry", "fixture_pfx.cold", "main" };

	check_all("nopie", known, sizeof(known) / sizeof(known[0]));
}

Test(symtab, every_function_of_a_pie_executable)
{
	static const char *const known[] = { "fixture_global_fn", "fixture_static_fn", "main" };

	check_all("pie", known, sizeof(known) / sizeof(known[0]));
}

Test(symtab, every_function_of_a_shared_library)
{
	static const char *const known[] = { "lib_global_fn", "lib_static_fn" };

	check_all("libfixture.so", known, sizeof(known) / sizeof(known[0]));
}

Test(symtab, a_stripped_object_has_its_dynsym_functions_only)
{
	static const char *const known[] = { "fixture_global_fn", "main" };
	struct uvs_symtab *t = build("stripped");
	struct fixture_sym *full;
	struct uvs_symtab_hit hit;
	size_t n;

	check_all("stripped", known, sizeof(known) / sizeof(known[0]));
	/* The static function is still there (same code as pie), with no name of its own. */
	full = fixture_functions("pie", &n);
	uint64_t at = fixture_function(full, n, "fixture_static_fn")->value;
	if (!uvs_symtab_lookup(t, at, &hit))
		cr_expect_neq(strcmp(hit.name, "fixture_static_fn"), 0);
	free(full);
	uvs_symtab_put(t);
}

Test(symtab, cxx_names_are_demangled)
{
	static const char *const known[] = {
		"fixture::inner::overloaded(int)",
		"fixture::inner::overloaded(long, char const*)",
		"fixture::inner::Widget::Widget(int)",
		"fixture::inner::Widget::scaled(int) const",
		"fixture::inner::Widget::operator+(fixture::inner::Widget const&) const",
		"int fixture::inner::twice<int>(int)",
		"double fixture::inner::twice<double>(double)",
		"plain_c_function",
	};
	struct uvs_symtab *t = build("cxx");
	struct uvs_symtab_hit hit;
	struct fixture_sym *v;
	size_t n, i;

	check_all("cxx", known, sizeof(known) / sizeof(known[0]));
	v = fixture_functions("cxx", &n);
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const struct fixture_sym *f = fixture_function(v, n, known[i]);

		cr_assert_eq(uvs_symtab_lookup(t, f->value + 1, &hit), 0);
		cr_expect_str_eq(hit.name, known[i]);
	}
	free(v);
	uvs_symtab_put(t);
}

Test(symtab, addresses_outside_every_function_are_not_named)
{
	struct uvs_symtab *t = build("pie");
	struct uvs_symtab_hit hit;

	cr_expect_eq(uvs_symtab_lookup(t, 0, &hit), -ENOENT);
	cr_expect_eq(uvs_symtab_lookup(t, UINT64_MAX, &hit), -ENOENT);
	cr_expect_gt(uvs_symtab_count(t), 5);
	cr_expect_gt(uvs_symtab_memory(t), uvs_symtab_count(t) * 16);
	uvs_symtab_put(t);
}

Test(symtab, file_offsets_translate_to_the_addresses_of_the_program_headers)
{
	static const char *const objects[] = { "nopie", "pie", "libfixture.so" };
	size_t k;

	for (k = 0; k < sizeof(objects) / sizeof(objects[0]); k++) {
		struct uvs_elf *elf = uvs_elf_open(fx(objects[k]));
		struct uvs_symtab *t = build(objects[k]);
		struct fixture_sym *v;
		uint64_t unused;
		size_t n, i;

		cr_assert(elf);
		v = fixture_functions(objects[k], &n);
		for (i = 0; i < n; i++) {
			uint64_t off, vaddr;

			/* elf.c's translation, tested in test_elf.c against hand-read headers. */
			cr_assert_eq(uvs_elf_vaddr_to_offset(elf, v[i].value, &off), 0);
			cr_assert_eq(uvs_symtab_offset_to_vaddr(t, off, &vaddr), 0);
			cr_expect_eq(vaddr, v[i].value, "%s: %s", objects[k], v[i].name);
		}
		cr_expect_eq(uvs_symtab_offset_to_vaddr(t, 1ull << 40, &unused), -ENOENT);
		free(v);
		uvs_symtab_put(t);
		uvs_elf_close(elf);
	}
}

/* An fd on a fresh copy of fixture: another file (inode) with the same bytes. */
static int copy_of(const char *fixture)
{
	size_t len;
	uint8_t *buf = slurp(fx(fixture), &len);
	int fd = scratch_fd();

	cr_assert_eq(pwrite(fd, buf, len, 0), (ssize_t)len);
	free(buf);
	return fd;
}

/*
 * Names are read from the file when a lookup first returns them: none is held before, a made
 * one is kept (the same pointer, whatever the file does later), and a file that shrank under
 * the index makes the others fail instead of reading past it.
 */
Test(symtab, names_are_read_at_their_first_lookup_and_kept)
{
	static const char *const made_first = "fixture::inner::Widget::scaled(int) const";
	int fd = copy_of("cxx");
	struct uvs_elf *elf = uvs_elf_open_fd(fd);
	struct uvs_symtab_hit hit, again;
	struct uvs_symtab *t;
	struct fixture_sym *v;
	size_t n, before;
	const char *kept;

	cr_assert(elf);
	t = uvs_symtab_build(elf);
	cr_assert(t);
	uvs_elf_close(elf);
	v = fixture_functions("cxx", &n);
	before = uvs_symtab_memory(t);
	cr_assert_eq(uvs_symtab_lookup(t, fixture_function(v, n, made_first)->value, &hit), 0);
	cr_expect_str_eq(hit.name, made_first);
	cr_expect_gt(uvs_symtab_memory(t), before, "the name is kept once made");
	kept = hit.name;

	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(uvs_symtab_lookup(t, fixture_function(v, n, made_first)->value + 1, &again), 0);
	cr_expect_eq(again.name, kept);
	cr_expect_str_eq(again.name, made_first);
	cr_expect_eq(uvs_symtab_lookup(t, fixture_function(v, n, "plain_c_function")->value, &hit),
		     -EIO);
	free(v);
	uvs_symtab_put(t);
	close(fd);
}

Test(symtab_cache, one_index_per_build_id)
{
	int a = copy_of("pie"), b = copy_of("pie");
	struct uvs_symtab *ta, *tb, *tc;

	uvs_symtab_cache_clear();
	ta = uvs_symtab_cache_get(a);
	tb = uvs_symtab_cache_get(b);
	cr_assert(ta && tb);
	/* Two files, one build id: one index. */
	cr_expect_eq(ta, tb);
	tc = uvs_symtab_cache_get(open(fx("libfixture.so"), O_RDONLY));
	cr_assert(tc);
	cr_expect_neq(tc, ta);
	cr_expect_eq(uvs_symtab_cache_size(), 2);
	uvs_symtab_put(ta);
	uvs_symtab_put(tb);
	uvs_symtab_put(tc);
	uvs_symtab_cache_clear();
	close(a);
	close(b);
}

Test(symtab_cache, objects_without_build_id_by_file_identity)
{
	int a = copy_of("nobuildid"), b = copy_of("nobuildid");
	struct uvs_symtab *ta, *ta2, *tb;

	uvs_symtab_cache_clear();
	ta = uvs_symtab_cache_get(a);
	ta2 = uvs_symtab_cache_get(a);
	tb = uvs_symtab_cache_get(b);
	cr_assert(ta && ta2 && tb);
	cr_expect_eq(ta, ta2);
	cr_expect_neq(ta, tb, "another inode is another object without a build id");
	uvs_symtab_put(ta);
	uvs_symtab_put(ta2);
	uvs_symtab_put(tb);
	uvs_symtab_cache_clear();
	close(a);
	close(b);
}

Test(symtab_cache, keeps_at_most_its_cap_and_evicted_indexes_stay_usable)
{
	struct uvs_symtab *first, *t;
	int fds[UVS_SYMTAB_CACHE_MAX + 3], fd;
	struct uvs_symtab_hit hit;
	struct fixture_sym *v;
	size_t n, i;

	uvs_symtab_cache_clear();
	v = fixture_functions("pie", &n);
	fd = copy_of("nobuildid");
	first = uvs_symtab_cache_get(fd);
	cr_assert(first);
	/* Copies kept open: a closed, unlinked copy's inode could come back for the next one. */
	for (i = 0; i < UVS_SYMTAB_CACHE_MAX + 3; i++) {
		fds[i] = copy_of("nobuildid");
		t = uvs_symtab_cache_get(fds[i]);
		cr_assert(t);
		uvs_symtab_put(t);
		cr_assert_leq(uvs_symtab_cache_size(), UVS_SYMTAB_CACHE_MAX);
	}
	for (i = 0; i < UVS_SYMTAB_CACHE_MAX + 3; i++)
		close(fds[i]);
	cr_expect_eq(uvs_symtab_cache_size(), UVS_SYMTAB_CACHE_MAX);
	/* first was evicted (least recently used) but its holder still reads it. */
	cr_assert_eq(uvs_symtab_lookup(first, fixture_function(v, n, "main")->value, &hit), 0);
	cr_expect_str_eq(hit.name, "main");
	uvs_symtab_put(first);
	uvs_symtab_cache_clear();
	close(fd);
	free(v);
}

Test(symtab_cache, refuses_what_is_not_an_elf_object)
{
	int fd = open(fx("not-elf.txt"), O_RDONLY);

	cr_assert(fd >= 0);
	errno = 0;
	cr_expect_null(uvs_symtab_cache_get(fd));
	cr_expect_eq(errno, ENOEXEC);
	close(fd);
	fd = open(fx("truncated"), O_RDONLY);
	cr_expect_null(uvs_symtab_cache_get(fd));
	close(fd);
}
