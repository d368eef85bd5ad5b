// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: agent/v8 reading arbitrary bytes as the target's memory.
 *
 * The input's first byte picks the mode: bit 0 the V8 layout (11.3 or 13.6), bit 1 whether
 * the rest is the whole memory image (raw) or patches to a valid synthetic heap
 * (tests/unit/v8_fake_heap.h) holding named functions: records of a 16-bit offset and a
 * 64-bit word written there. Patches reach deep: every check on the path from a frame to a
 * name is met by the valid heap, and each patch breaks one. Frames are then named with slots
 * taken from the input and with the valid functions, twice, across a GC epoch. The answers
 * must be well-formed: a known kind, NUL-terminated text, a name for every JS frame.
 */
#include <stdlib.h>
#include <string.h>

#include "v8/v8.h"
#include "../unit/v8_fake_heap.h"

static struct fake_heap heap;

struct patch {
	uint16_t offset;
	uint64_t value;
} __attribute__((packed));

static void check(enum uvs_v8_frame_kind kind, const struct uvs_js_name *out)
{
	if (kind != UVS_V8_FRAME_NOT_V8 && kind != UVS_V8_FRAME_JS &&
	    kind != UVS_V8_FRAME_JS_UNKNOWN && kind != UVS_V8_FRAME_TYPED)
		abort();
	if (strnlen(out->name, sizeof(out->name)) == sizeof(out->name) ||
	    strnlen(out->file, sizeof(out->file)) == sizeof(out->file) ||
	    strnlen(out->frame_type, sizeof(out->frame_type)) == sizeof(out->frame_type))
		abort();
	if (kind == UVS_V8_FRAME_JS && !out->name[0])
		abort();
}

static uint64_t valid_function(const char *name, int32_t pos, bool inferred)
{
	uint64_t src = fake_cons(&heap, fake_string(&heap, "x\n\ny\r\n"),
				 fake_string(&heap, "function f() {}\n"));
	int32_t ends[] = { 1, 2, 5, 21 };
	uint64_t script = fake_script(&heap, fake_thin(&heap, fake_string(&heap, "/a.js")), src,
				      pos & 1 ? fake_fixed_array_smis(&heap, ends, 4) : 0);
	uint64_t si = fake_scope_info(&heap, fake_string(&heap, inferred ? "" : name),
				      inferred ? fake_string(&heap, name) : 0, pos, pos + 3, pos);

	return fake_function(&heap, fake_sfi(&heap, si, script));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t functions[4], slots[8] = { 0 };
	struct uvs_js_name out;
	struct uvs_v8 *v;
	char why[256];
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	fake_heap_init(&heap, mode & 1);
	functions[0] = valid_function("alpha", 0, false);
	functions[1] = valid_function("beta", 3, true);
	functions[2] = valid_function("gamma", 9, false);
	functions[3] = heap.undefined;
	if (mode & 2) {
		size_t n = size < FAKE_SIZE ? size : FAKE_SIZE;

		memcpy(heap.mem, data, n);
		memcpy(slots, data, size < sizeof(slots) ? size : sizeof(slots));
	} else {
		for (size_t i = 0; i + sizeof(struct patch) <= size; i += sizeof(struct patch)) {
			struct patch p;

			memcpy(&p, data + i, sizeof(p));
			memcpy(heap.mem + p.offset % (FAKE_SIZE - 7), &p.value, sizeof(p.value));
			if (i / sizeof(struct patch) < 8)
				slots[i / sizeof(struct patch)] = p.value;
		}
	}
	v = uvs_v8_new(&heap.meta, fake_heap_reader(&heap), why, sizeof(why));
	if (!v)
		abort();
	for (int epoch = 0; epoch < 2; epoch++) {
		for (int i = 0; i < 8; i++) {
			struct uvs_raw_frame f = { .pc = 1, .fp = 0x7ff0, .slot_m8 = slots[i],
						   .slot_m16 = slots[(i + 1) % 8] };

			check(uvs_v8_name_frame(v, &f, true, &out), &out);
			f.slot_m8 = heap.undefined;
			f.slot_m16 = i < 4 ? functions[i] : slots[i];
			check(uvs_v8_name_frame(v, &f, true, &out), &out);
		}
		uvs_v8_new_epoch(v);
	}
	uvs_v8_free(v);
	return 0;
}
