// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/v8: names read from a synthetic V8 heap (v8_fake_heap.h) laid out as
 * V8 11.3 and 13.6 lay it out, every string representation, the cache across GC epochs, frame
 * kinds, and hostile memory (random words: never a name). The metadata reader is checked on
 * the real /usr/bin/node (official Node 20.20.2) against the values `nm` and the file give
 * (the facts written in agent/v8/metadata.h), and on a non-node ELF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "target/elf.h"
#include "v8/heap.h"
#include "v8/layouts.h"
#include "v8/metadata.h"
#include "v8/v8.h"
#include "fixture_files.h"
#include "v8_fake_heap.h"

#define NODE_PATH "/usr/bin/node"

static struct fake_heap heap;

static struct uvs_v8 *namer(bool v13)
{
	char why[256];
	struct uvs_v8 *v;

	fake_heap_init(&heap, v13);
	v = uvs_v8_new(&heap.meta, fake_heap_reader(&heap), why, sizeof(why));
	cr_assert(v, "uvs_v8_new: %s", why);
	cr_assert_str_empty(why, "a tested version gets no warning: %s", why);
	return v;
}

static struct uvs_raw_frame js_frame(uint64_t function)
{
	/* fp-8 holds a context: any tagged pointer. */
	return (struct uvs_raw_frame){ .pc = 0x1000, .fp = 0x7ff0, .slot_m8 = heap.undefined,
				       .slot_m16 = function };
}

/* The source "a\nbb\r\nccc\rd\n" and a function named `name` starting at position pos. */
static uint64_t function_at(const char *name, int32_t pos, uint64_t line_ends)
{
	uint64_t src = fake_string(&heap, "a\nbb\r\nccc\rd\n" "function f() {}\n");
	uint64_t script = fake_script(&heap, fake_string(&heap, "/srv/app.js"), src, line_ends);
	uint64_t si = fake_scope_info(&heap, name ? fake_string(&heap, name) : 0, 0, pos, pos + 4, 2);

	return fake_function(&heap, fake_sfi(&heap, si, script));
}

static void expect_js(struct uvs_v8 *v, uint64_t function, const char *name, const char *file,
		      uint32_t line)
{
	struct uvs_raw_frame f = js_frame(function);
	struct uvs_js_name out;

	cr_assert_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_JS);
	cr_expect_str_eq(out.name, name);
	cr_expect_str_eq(out.file, file);
	cr_expect_eq(out.line, line, "line %u, want %u", out.line, line);
}

Test(v8, names_a_function_v8_11_and_13)
{
	for (int v13 = 0; v13 < 2; v13++) {
		struct uvs_v8 *v = namer(v13);

		/* Positions 0, 3 (after "\n"), 7 (after "\r\n": one line end), 11 (after "\r"),
		 * 13 (after "d\n"). */
		expect_js(v, function_at("first", 0, 0), "first", "/srv/app.js", 1);
		expect_js(v, function_at("second", 3, 0), "second", "/srv/app.js", 2);
		expect_js(v, function_at("third", 7, 0), "third", "/srv/app.js", 3);
		expect_js(v, function_at("fourth", 11, 0), "fourth", "/srv/app.js", 4);
		expect_js(v, function_at("fifth", 13, 0), "fifth", "/srv/app.js", 5);
		uvs_v8_free(v);
	}
}

Test(v8, lines_from_an_external_source)
{
	struct uvs_v8 *v = namer(true);
	uint64_t src = fake_external(&heap, "// node's own\nfunction run() {}\n", false);
	uint64_t script = fake_script(&heap, fake_string(&heap, "node:internal/x"), src, 0);
	uint64_t si = fake_scope_info(&heap, fake_string(&heap, "run"), 0, 27, 30, 0);

	expect_js(v, fake_function(&heap, fake_sfi(&heap, si, script)), "run", "node:internal/x", 2);
	/* An uncached one: the name and file stay, the line is unknown. */
	src = fake_external(&heap, "// node's own\nfunction run() {}\n", true);
	script = fake_script(&heap, fake_string(&heap, "node:internal/y"), src, 0);
	expect_js(v, fake_function(&heap, fake_sfi(&heap, si, script)), "run", "node:internal/y", 0);
	uvs_v8_free(v);
}

Test(v8, line_ends_when_v8_has_them)
{
	struct uvs_v8 *v = namer(false);
	/* Made-up line ends, unlike the source: the test sees which one was used. */
	int32_t ends[] = { 10, 20, 30, 40 };
	uint64_t le = fake_fixed_array_smis(&heap, ends, 4);

	expect_js(v, function_at("a", 5, le), "a", "/srv/app.js", 1);
	expect_js(v, function_at("b", 20, le), "b", "/srv/app.js", 2);
	expect_js(v, function_at("c", 21, le), "c", "/srv/app.js", 3);
	expect_js(v, function_at("d", 99, le), "d", "/srv/app.js", 5);
	uvs_v8_free(v);
}

Test(v8, anonymous_and_inferred_names)
{
	struct uvs_v8 *v = namer(true);
	uint64_t script = fake_script(&heap, 0, 0, 0); /* eval code: no name, no source */
	uint64_t anon = fake_scope_info(&heap, fake_string(&heap, ""), 0, 0, 1, 0);
	uint64_t none = fake_scope_info(&heap, 0, 0, 0, 1, 1);
	uint64_t inferred = fake_scope_info(&heap, fake_string(&heap, ""),
					    fake_string(&heap, "obj.prop"), 0, 1, 3);
	uint64_t own = fake_scope_info(&heap, fake_string(&heap, "own"),
				       fake_string(&heap, "obj.other"), 0, 1, 0);

	expect_js(v, fake_function(&heap, fake_sfi(&heap, anon, script)), "(anonymous)", "", 0);
	expect_js(v, fake_function(&heap, fake_sfi(&heap, none, script)), "(anonymous)", "", 0);
	expect_js(v, fake_function(&heap, fake_sfi(&heap, inferred, script)), "obj.prop", "", 0);
	expect_js(v, fake_function(&heap, fake_sfi(&heap, own, script)), "own", "", 0);
	/* A function never compiled keeps its name as a String, or Smi 0 for none. */
	expect_js(v, fake_function(&heap, fake_sfi(&heap, fake_string(&heap, "lazy"), script)),
		  "lazy", "", 0);
	expect_js(v, fake_function(&heap, fake_sfi(&heap, fake_smi(0), script)), "(anonymous)", "",
		  0);
	uvs_v8_free(v);
}

Test(v8, string_representations)
{
	struct uvs_v8 *v = namer(false);
	struct uvs_v8_heap h = { .meta = &heap.meta, .mem = fake_heap_reader(&heap) };
	/* "hé" + U+1F600 (a surrogate pair) + a lone high surrogate at the end. */
	static const uint16_t wide[] = { 'h', 0xe9, 0xd83d, 0xde00, 0xd800 };
	uint64_t hello = fake_string(&heap, "hello");
	uint64_t cons = fake_cons(&heap, hello, fake_cons(&heap, fake_string(&heap, ", "),
							  fake_string(&heap, "world")));
	char out[UVS_V8_STRING_MAX + 8];

	cr_assert_eq(uvs_v8_read_string(&h, cons, out, sizeof(out)), 12);
	cr_expect_str_eq(out, "hello, world");
	cr_assert_gt(uvs_v8_read_string(&h, fake_thin(&heap, cons), out, sizeof(out)), 0);
	cr_expect_str_eq(out, "hello, world");
	cr_assert_gt(uvs_v8_read_string(&h, fake_sliced(&heap, cons, 3, 6), out, sizeof(out)), 0);
	cr_expect_str_eq(out, "lo, wo");
	cr_assert_gt(uvs_v8_read_string(&h, fake_string16(&heap, wide, 5), out, sizeof(out)), 0);
	cr_expect_str_eq(out, "h\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
	cr_assert_eq(uvs_v8_read_string(&h, fake_external(&heap, "outside", false), out,
					 sizeof(out)), 7);
	cr_expect_str_eq(out, "outside");
	cr_expect_eq(uvs_v8_read_string(&h, fake_external(&heap, "uncached", true), out, sizeof(out)),
		     -ENOTSUP);
	/* Cut at cap - 1 bytes, on a character boundary: "h" + 2-byte "é" does not fit in 2. */
	cr_assert_eq(uvs_v8_read_string(&h, fake_string16(&heap, wide, 2), out, 3), 1);
	cr_expect_str_eq(out, "h");
	/* Kept: at most UVS_V8_STRING_MAX bytes. */
	char long_text[600];
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	cr_assert_eq(uvs_v8_read_string(&h, fake_string(&heap, long_text), out, sizeof(out)),
		     UVS_V8_STRING_MAX);
	/* A cut string says so: its last characters make room for "…". */
	cr_expect_str_eq(out + UVS_V8_STRING_MAX - 4, "x\xe2\x80\xa6");
	cr_assert_eq(uvs_v8_read_string(&h, fake_string(&heap, "abcdefgh"), out, 8), 7);
	cr_expect_str_eq(out, "abcd\xe2\x80\xa6");
	cr_assert_eq(uvs_v8_read_string(&h, fake_string(&heap, "abcdefg"), out, 8), 7,
		     "one that fits exactly is whole");
	cr_expect_str_eq(out, "abcdefg");
	/* "hé" + U+1F600 (7 bytes) in 6: the emoji does not fit, and in 5 "é" goes too. */
	cr_assert_eq(uvs_v8_read_string(&h, fake_string16(&heap, wide, 4), out, 7), 6);
	cr_expect_str_eq(out, "h\xc3\xa9\xe2\x80\xa6");
	cr_assert_eq(uvs_v8_read_string(&h, fake_string16(&heap, wide, 4), out, 6), 4);
	cr_expect_str_eq(out, "h\xe2\x80\xa6");
	/* A name with a control character is sanitized where it is read. */
	uint64_t si = fake_scope_info(&heap, fake_string(&heap, "bad\x1b[2Jname"), 0, 0, 1, 0);
	expect_js(v, fake_function(&heap, fake_sfi(&heap, si, 0)), "bad?[2Jname", "", 0);
	uvs_v8_free(v);
}

Test(v8, cons_cycle_is_bounded)
{
	struct uvs_v8 *v = namer(false);
	struct uvs_v8_heap h = { .meta = &heap.meta, .mem = fake_heap_reader(&heap) };
	uint64_t a = fake_string(&heap, "ab");
	uint64_t cons = fake_cons(&heap, a, a);
	char out[64];

	/* Make it its own first half: an endless descent, cut at the depth limit. */
	fake_set(&heap, cons, heap.meta.cons_first, cons);
	cr_expect_lt(uvs_v8_read_string(&h, cons, out, sizeof(out)), 0);
	uvs_v8_free(v);
}

Test(v8, typed_and_foreign_frames)
{
	struct uvs_v8 *v = namer(false);
	struct uvs_raw_frame f = { .pc = 0x1000, .fp = 0x7ff0, .slot_m8 = 1 << 1 };
	struct uvs_js_name out;

	cr_assert_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_TYPED);
	cr_expect_str_eq(out.frame_type, "entry");
	f.slot_m8 = 17 << 1;
	cr_assert_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_TYPED);
	cr_expect_str_eq(out.frame_type, "stub");
	f.slot_m8 = 40 << 1; /* a type uvscope does not name */
	cr_assert_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_TYPED);
	cr_expect_str_eq(out.frame_type, "v8");
	cr_expect_eq(uvs_v8_name_frame(v, &f, false, &out), UVS_V8_FRAME_NOT_V8);
	f.slot_m8 = 0x7ffc12345670; /* a native frame's saved register */
	cr_expect_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_NOT_V8);
	f.slot_m8 = heap.undefined;
	f.slot_m16 = heap.undefined; /* a context, but not a function in the function slot */
	cr_expect_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_JS_UNKNOWN);
	f.slot_m16 = 0x20000001; /* unmapped */
	cr_expect_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_JS_UNKNOWN);
	cr_expect_str_empty(out.name);
	uvs_v8_free(v);
}

Test(v8, class_constructors_are_functions)
{
	struct uvs_v8 *v = namer(false);
	uint64_t fn = function_at("Runner", 0, 0);
	uint64_t ctor_map = fake_alloc(&heap, 80, heap.meta_map);
	struct uvs_raw_frame f = js_frame(fn);
	struct uvs_js_name out;

	/* JS_CLASS_CONSTRUCTOR_TYPE on V8 11.3: JS_FUNCTION_TYPE + 15, the end of the range. */
	memcpy(heap.mem + (ctor_map - 1 - FAKE_BASE) + heap.meta.map_instance_type,
	       &(uint16_t){ (uint16_t)(heap.meta.type_js_function + 15) }, 2);
	fake_set(&heap, fn, 0, ctor_map);
	expect_js(v, fn, "Runner", "/srv/app.js", 1);
	/* One past it (and a bound function, below) is no JSFunction. */
	uvs_v8_new_epoch(v);
	memcpy(heap.mem + (ctor_map - 1 - FAKE_BASE) + heap.meta.map_instance_type,
	       &(uint16_t){ (uint16_t)(heap.meta.type_js_function + 16) }, 2);
	cr_expect_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_JS_UNKNOWN);
	uvs_v8_new_epoch(v);
	memcpy(heap.mem + (ctor_map - 1 - FAKE_BASE) + heap.meta.map_instance_type,
	       &(uint16_t){ (uint16_t)(heap.meta.type_js_function - 2) }, 2);
	cr_expect_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_JS_UNKNOWN);
	uvs_v8_free(v);
}

Test(v8, cache_is_proven_before_use)
{
	struct uvs_v8 *v = namer(false);
	uint64_t fn = function_at("before", 0, 0);
	uint64_t other = fake_get(&heap, function_at("after", 3, 0), heap.meta.function_shared);
	struct uvs_v8_stats st;

	expect_js(v, fn, "before", "/srv/app.js", 1);
	expect_js(v, fn, "before", "/srv/app.js", 1);
	uvs_v8_get_stats(v, &st);
	cr_expect_eq(st.names_read, 1);
	cr_expect_eq(st.cache_hits, 1);
	/* The same address now holds a function with another SharedFunctionInfo: re-read. */
	fake_set(&heap, fn, heap.meta.function_shared, other);
	expect_js(v, fn, "after", "/srv/app.js", 2);
	/* After a GC, an entry whose name_or_scope_info changed is not used. */
	uvs_v8_new_epoch(v);
	uint64_t si = fake_scope_info(&heap, fake_string(&heap, "moved"), 0, 0, 1, 0);
	fake_set(&heap, other, heap.meta.sfi_name_or_scope_info, si);
	expect_js(v, fn, "moved", "/srv/app.js", 1);
	/* And an object that is no function any more is not named from the cache. */
	uvs_v8_new_epoch(v);
	fake_set(&heap, fn, 0, heap.map_script);
	struct uvs_raw_frame f = js_frame(fn);
	struct uvs_js_name out;
	cr_expect_eq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_JS_UNKNOWN);
	uvs_v8_free(v);
}

Test(v8, hostile_memory_never_names)
{
	struct uvs_js_name out;
	struct uvs_v8 *v;
	char why[256];

	srandom(9);
	for (int round = 0; round < 50; round++) {
		fake_heap_init(&heap, round & 1);
		v = uvs_v8_new(&heap.meta, fake_heap_reader(&heap), why, sizeof(why));
		cr_assert(v);
		/* Random words everywhere, many of them tagged pointers into the heap. */
		for (size_t i = 0; i < FAKE_SIZE / 8; i++) {
			uint64_t w = ((uint64_t)random() << 32) ^ (uint64_t)random();

			if (random() & 1)
				w = (FAKE_BASE + w % FAKE_SIZE) | 1;
			memcpy(heap.mem + 8 * i, &w, 8);
		}
		for (int i = 0; i < 2000; i++) {
			struct uvs_raw_frame f = {
				.pc = 0x1000, .fp = 0x7ff0,
				.slot_m8 = (FAKE_BASE + (uint64_t)random() % FAKE_SIZE) | 1,
				.slot_m16 = (FAKE_BASE + (uint64_t)random() % FAKE_SIZE) | 1,
			};

			cr_assert_neq(uvs_v8_name_frame(v, &f, true, &out), UVS_V8_FRAME_JS,
				      "random memory gave a name: %s", out.name);
		}
		uvs_v8_free(v);
	}
}

Test(v8, versions_without_a_layout_are_refused)
{
	struct uvs_v8_meta m;
	char why[256];

	fake_heap_init(&heap, false);
	m = heap.meta;
	m.major = 9;
	cr_expect_null(uvs_v8_new(&m, fake_heap_reader(&heap), why, sizeof(why)));
	cr_expect_str_eq(why, "V8 9.3 is older than any layout uvscope knows (10.2): JS frames are "
		"shown as [JS: unknown]");
	/* The metadata's own word on ScopeInfo contradicts the table: refused, not guessed. */
	m = heap.meta;
	m.scopeinfo_first_vars = 5;
	cr_expect_null(uvs_v8_new(&m, fake_heap_reader(&heap), why, sizeof(why)));
	cr_expect(strstr(why, "lays out ScopeInfo unlike"), "why: %s", why);
	/* A newer V8: a namer, with the warning. */
	m = heap.meta;
	m.major = 12;
	m.minor = 9;
	struct uvs_v8 *v = uvs_v8_new(&m, fake_heap_reader(&heap), why, sizeof(why));
	cr_assert(v);
	cr_expect(strstr(why, "nearest older"), "why: %s", why);
	cr_expect_str_eq(uvs_v8_version(v), "12.9.244.8");
	uvs_v8_free(v);
}

Test(v8, layouts_per_version)
{
	bool exact;
	const struct uvs_v8_scope_layout *l;

	cr_expect_null(uvs_v8_scope_layout_for(9, 4, 146, &exact));
	l = uvs_v8_scope_layout_for(10, 2, 154, &exact);
	cr_assert(l && exact && !l->position_first && l->flags_is_smi);
	l = uvs_v8_scope_layout_for(12, 4, 254, &exact);
	cr_assert(l && exact && !l->position_first);
	l = uvs_v8_scope_layout_for(13, 6, 233, &exact);
	cr_assert(l && exact && l->position_first && !l->flags_is_smi);
	l = uvs_v8_scope_layout_for(14, 6, 202, &exact);
	cr_assert(l && exact && l->position_first);
	/* A V8 between two tested ones, or newer than all: the nearest older table, said to be
	 * a guess. */
	l = uvs_v8_scope_layout_for(14, 1, 146, &exact);
	cr_assert(l && !exact && l->position_first && strcmp(l->node, "24") == 0);
	l = uvs_v8_scope_layout_for(15, 0, 1, &exact);
	cr_assert(l && !exact && strcmp(l->node, "26") == 0);
}

Test(v8, metadata_of_official_node_20)
{
	struct uvs_v8_meta m;
	struct uvs_elf *elf = uvs_elf_open(NODE_PATH);
	char why[256];

	if (!elf)
		cr_skip_test("%s: %s", NODE_PATH, strerror(errno));
	cr_assert_eq(uvs_v8_meta_read(elf, &m, why, sizeof(why)), 0, "%s", why);
	uvs_elf_close(elf);
	if (m.major != 11)
		cr_skip_test("%s is not Node 20's V8 11.3", NODE_PATH);
	cr_expect_eq(m.minor, 3);
	cr_expect_eq(m.fp_function, -16);
	cr_expect_eq(m.fp_context_or_type, -8);
	cr_expect_eq(m.map_instance_type, 12);
	cr_expect_eq(m.function_shared, 24);
	cr_expect_eq(m.sfi_name_or_scope_info, 16);
	cr_expect_eq(m.sfi_script_or_debug_info, 32);
	cr_expect_eq(m.script_line_ends, 56);
	cr_expect_eq(m.type_js_function, 2066);
	cr_expect_eq(m.type_sfi, 262);
	cr_expect_eq(m.type_scope_info, 261);
	cr_expect_eq(m.seq_string_tag, 0);  /* in .bss */
	cr_expect_eq(m.thin_string_tag, 5);
	cr_expect_str_eq(uvs_v8_meta_frametype_name(&m, 1), "entry");
	cr_expect_str_eq(uvs_v8_meta_frametype_name(&m, 17), "stub");
}

Test(v8, no_metadata_in_other_binaries)
{
	struct uvs_v8_meta m;
	struct uvs_elf *elf = uvs_elf_open(fx("nopie"));
	char why[256];

	cr_assert(elf, "%s: %s", fx("nopie"), strerror(errno));
	cr_expect_eq(uvs_v8_meta_read(elf, &m, why, sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "no V8 post-mortem metadata"), "why: %s", why);
	uvs_elf_close(elf);
	cr_expect_null(uvs_v8_open(1, "/nonexistent/node", why, sizeof(why)));
	cr_expect(strstr(why, "[JS: unknown]"), "why: %s", why);
}
