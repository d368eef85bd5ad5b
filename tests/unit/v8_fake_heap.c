// SPDX-License-Identifier: MIT
/*
 * The synthetic V8 heap of v8_fake_heap.h. Offsets and type numbers are those the
 * v8dbg_* metadata of the official Node 20.20.2 and 24.22.3 binaries give.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "v8_fake_heap.h"

static ssize_t fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake_heap *h = ctx;

	if (len > UVS_MEM_READ_MAX)
		return -EINVAL;
	if (addr < FAKE_BASE || addr - FAKE_BASE >= FAKE_SIZE)
		return -EFAULT;
	if (len > FAKE_SIZE - (addr - FAKE_BASE))
		len = FAKE_SIZE - (addr - FAKE_BASE);
	memcpy(buf, h->mem + (addr - FAKE_BASE), len);
	return (ssize_t)len;
}

struct uvs_mem_reader fake_heap_reader(struct fake_heap *h)
{
	return (struct uvs_mem_reader){ .read = fake_read, .ctx = h };
}

uint64_t fake_smi(int32_t v)
{
	return (uint64_t)(uint32_t)v << 32;
}

uint64_t fake_alloc(struct fake_heap *h, size_t size, uint64_t map)
{
	uint64_t obj;

	size = (size + 7) & ~(size_t)7;
	if (h->top + size > FAKE_SIZE)
		abort(); /* a test that needs more: make FAKE_SIZE larger */
	obj = FAKE_BASE + h->top + 1;
	memset(h->mem + h->top, 0, size);
	h->top += size;
	if (map)
		fake_set(h, obj, 0, map);
	return obj;
}

void fake_set(struct fake_heap *h, uint64_t obj, uint32_t off, uint64_t value)
{
	memcpy(h->mem + (obj - 1 - FAKE_BASE) + off, &value, sizeof(value));
}

uint64_t fake_get(struct fake_heap *h, uint64_t obj, uint32_t off)
{
	uint64_t v;

	memcpy(&v, h->mem + (obj - 1 - FAKE_BASE) + off, sizeof(v));
	return v;
}

static void set_u16(struct fake_heap *h, uint64_t obj, uint32_t off, uint16_t v)
{
	memcpy(h->mem + (obj - 1 - FAKE_BASE) + off, &v, sizeof(v));
}

static void set_i32(struct fake_heap *h, uint64_t obj, uint32_t off, int32_t v)
{
	memcpy(h->mem + (obj - 1 - FAKE_BASE) + off, &v, sizeof(v));
}

static uint64_t new_map(struct fake_heap *h, uint16_t type)
{
	uint64_t map = fake_alloc(h, 80, h->meta_map);

	set_u16(h, map, h->meta.map_instance_type, type);
	return map;
}

static void fill_meta(struct uvs_v8_meta *m, bool v13)
{
	static const struct uvs_v8_frametype types[] = {
		{ 1, "entry" }, { 2, "construct_entry" }, { 3, "exit" }, { 17, "stub" },
	};

	memset(m, 0, sizeof(*m));
	m->major = v13 ? 13 : 11;
	m->minor = v13 ? 6 : 3;
	m->build = v13 ? 233 : 244;
	m->patch = v13 ? 17 : 8;
	m->fp_context_or_type = -8;
	m->fp_function = -16;
	m->fp_bytecode_array = -32;
	m->fp_bytecode_offset = -40;
	m->frametype_interpreted = 13;
	m->frametype_baseline = 14;
	memcpy(m->frametypes, types, sizeof(types));
	m->nframetypes = sizeof(types) / sizeof(types[0]);
	m->map_instance_type = 12;
	m->function_shared = v13 ? 32 : 24;
	m->sfi_name_or_scope_info = v13 ? 24 : 16;
	m->sfi_script_or_debug_info = v13 ? 40 : 32;
	m->script_name = 16;
	m->script_source = 8;
	m->script_line_ends = 56;
	m->string_length = 12;
	m->seq_one_byte_chars = 16;
	m->seq_two_byte_chars = 16;
	m->cons_first = 16;
	m->cons_second = 24;
	m->thin_actual = 16;
	m->sliced_parent = 16;
	m->sliced_offset = 24;
	m->external_resource = 16;
	m->fixed_array_length = 8;
	m->fixed_array_data = 16;
	m->type_map = 255;
	m->type_js_function = v13 ? 2065 : 2066;
	m->type_sfi = v13 ? 282 : 262;
	m->type_scope_info = v13 ? 280 : 261;
	m->type_script = 167;
	m->type_fixed_array = v13 ? 205 : 175;
	m->type_bytecode_array = v13 ? 186 : 191;
	m->first_nonstring_type = 128;
	m->string_representation_mask = 7;
	m->string_encoding_mask = 8;
	m->seq_string_tag = 0;
	m->cons_string_tag = 1;
	m->external_string_tag = 2;
	m->sliced_string_tag = 3;
	m->thin_string_tag = 5;
	m->one_byte_string_tag = 8;
	m->scopeinfo_first_vars = v13 ? 5 : 3;
}

void fake_heap_init(struct fake_heap *h, bool v13)
{
	memset(h, 0, sizeof(*h));
	h->v13 = v13;
	fill_meta(&h->meta, v13);
	/* The meta map is its own map. */
	h->meta_map = fake_alloc(h, 80, 0);
	fake_set(h, h->meta_map, 0, h->meta_map);
	set_u16(h, h->meta_map, h->meta.map_instance_type, h->meta.type_map);
	h->map_function = new_map(h, h->meta.type_js_function);
	h->map_sfi = new_map(h, h->meta.type_sfi);
	h->map_scope_info = new_map(h, h->meta.type_scope_info);
	h->map_script = new_map(h, h->meta.type_script);
	h->map_fixed_array = new_map(h, h->meta.type_fixed_array);
	h->map_one_byte = new_map(h, 8);  /* SEQ_ONE_BYTE: seq | one-byte */
	h->map_two_byte = new_map(h, 0);  /* SEQ_TWO_BYTE */
	h->map_cons = new_map(h, 9);      /* CONS_ONE_BYTE */
	h->map_thin = new_map(h, 13);     /* THIN_ONE_BYTE */
	h->map_sliced = new_map(h, 11);   /* SLICED_ONE_BYTE */
	h->map_external = new_map(h, 10); /* EXTERNAL_ONE_BYTE */
	h->map_uncached = new_map(h, 26); /* UNCACHED_EXTERNAL_ONE_BYTE */
	h->map_oddball = new_map(h, 131);
	h->undefined = fake_alloc(h, 48, h->map_oddball);
}

static uint64_t string_header(struct fake_heap *h, uint64_t map, size_t size, int32_t len)
{
	uint64_t s = fake_alloc(h, size, map);

	set_i32(h, s, h->meta.string_length, len);
	return s;
}

uint64_t fake_string(struct fake_heap *h, const char *text)
{
	size_t n = strlen(text);
	uint64_t s = string_header(h, h->map_one_byte, 16 + n, (int32_t)n);

	memcpy(h->mem + (s - 1 - FAKE_BASE) + h->meta.seq_one_byte_chars, text, n);
	return s;
}

uint64_t fake_string16(struct fake_heap *h, const uint16_t *text, size_t n)
{
	uint64_t s = string_header(h, h->map_two_byte, 16 + 2 * n, (int32_t)n);

	memcpy(h->mem + (s - 1 - FAKE_BASE) + h->meta.seq_two_byte_chars, text, 2 * n);
	return s;
}

static int32_t length_of(struct fake_heap *h, uint64_t s)
{
	int32_t n;

	memcpy(&n, h->mem + (s - 1 - FAKE_BASE) + h->meta.string_length, sizeof(n));
	return n;
}

uint64_t fake_cons(struct fake_heap *h, uint64_t first, uint64_t second)
{
	uint64_t s = string_header(h, h->map_cons, 32, length_of(h, first) + length_of(h, second));

	fake_set(h, s, h->meta.cons_first, first);
	fake_set(h, s, h->meta.cons_second, second);
	return s;
}

uint64_t fake_thin(struct fake_heap *h, uint64_t actual)
{
	uint64_t s = string_header(h, h->map_thin, 24, length_of(h, actual));

	fake_set(h, s, h->meta.thin_actual, actual);
	return s;
}

uint64_t fake_sliced(struct fake_heap *h, uint64_t parent, int32_t offset, int32_t len)
{
	uint64_t s = string_header(h, h->map_sliced, 32, len);

	fake_set(h, s, h->meta.sliced_parent, parent);
	fake_set(h, s, h->meta.sliced_offset, fake_smi(offset));
	return s;
}

uint64_t fake_external(struct fake_heap *h, const char *text, bool uncached)
{
	size_t n = strlen(text);
	uint64_t chars = fake_alloc(h, n + 1, 0);
	uint64_t s = string_header(h, uncached ? h->map_uncached : h->map_external, 32, (int32_t)n);

	memcpy(h->mem + (chars - 1 - FAKE_BASE), text, n);
	/* resource: any pointer (we never call it); resource_data: the characters, untagged. */
	fake_set(h, s, h->meta.external_resource, 0x1234);
	if (!uncached)
		fake_set(h, s, h->meta.external_resource + 8, chars - 1);
	return s;
}

uint64_t fake_fixed_array_smis(struct fake_heap *h, const int32_t *v, size_t n)
{
	uint64_t a = fake_alloc(h, 16 + 8 * n, h->map_fixed_array);

	fake_set(h, a, h->meta.fixed_array_length, fake_smi((int32_t)n));
	for (size_t i = 0; i < n; i++)
		fake_set(h, a, h->meta.fixed_array_data + 8 * (uint32_t)i, fake_smi(v[i]));
	return a;
}

uint64_t fake_scope_info(struct fake_heap *h, uint64_t name, uint64_t inferred, int32_t start,
			 int32_t end, int nlocals)
{
	/* function scope, function_variable UNUSED (3 << 12), inferred name flag (1 << 14). */
	uint32_t flags = (h->v13 ? 4u : 2u) | (3u << 12) | (inferred ? 1u << 14 : 0);
	uint64_t si = fake_alloc(h, 8 * (size_t)(16 + 2 * nlocals), h->map_scope_info);
	uint32_t i = 0;

	fake_set(h, si, 8 + 8 * i++, h->v13 ? flags : fake_smi((int32_t)flags));
	fake_set(h, si, 8 + 8 * i++, fake_smi(1));
	fake_set(h, si, 8 + 8 * i++, fake_smi(nlocals));
	if (h->v13) {
		fake_set(h, si, 8 + 8 * i++, fake_smi(start));
		fake_set(h, si, 8 + 8 * i++, fake_smi(end));
	}
	for (int k = 0; k < nlocals; k++)
		fake_set(h, si, 8 + 8 * i++, h->undefined); /* local names */
	for (int k = 0; k < nlocals; k++)
		fake_set(h, si, 8 + 8 * i++, fake_smi(0)); /* local infos */
	fake_set(h, si, 8 + 8 * i++, name ? name : fake_smi(0));
	fake_set(h, si, 8 + 8 * i++, fake_smi(-1));
	if (inferred)
		fake_set(h, si, 8 + 8 * i++, inferred);
	if (!h->v13) {
		fake_set(h, si, 8 + 8 * i++, fake_smi(start));
		fake_set(h, si, 8 + 8 * i++, fake_smi(end));
	}
	return si;
}

uint64_t fake_script(struct fake_heap *h, uint64_t name, uint64_t source, uint64_t line_ends)
{
	uint64_t s = fake_alloc(h, 96, h->map_script);

	fake_set(h, s, h->meta.script_name, name ? name : h->undefined);
	fake_set(h, s, h->meta.script_source, source ? source : h->undefined);
	fake_set(h, s, h->meta.script_line_ends, line_ends ? line_ends : h->undefined);
	return s;
}

uint64_t fake_sfi(struct fake_heap *h, uint64_t name_or_scope_info, uint64_t script)
{
	uint64_t s = fake_alloc(h, 64, h->map_sfi);

	fake_set(h, s, h->meta.sfi_name_or_scope_info, name_or_scope_info);
	fake_set(h, s, h->meta.sfi_script_or_debug_info, script ? script : h->undefined);
	return s;
}

uint64_t fake_function(struct fake_heap *h, uint64_t sfi)
{
	uint64_t f = fake_alloc(h, 64, h->map_function);

	fake_set(h, f, h->meta.function_shared, sfi);
	return f;
}
