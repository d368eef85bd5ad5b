/* SPDX-License-Identifier: MIT */
/*
 * V8's post-mortem metadata, read from the node binary's file: nothing runs in the target.
 *
 * Official node builds export V8's gen-postmortem-metadata.py output as global ints named
 * v8dbg_* (in .symtab and .dynsym): tag values, frame-type numbers, instance-type numbers and
 * the byte offsets of object fields. Their values are the ints' initial values: most live in
 * .data; those whose value is 0 live in .bss (v8dbg_SmiTag, v8dbg_StringTag,
 * v8dbg_TwoByteStringTag, v8dbg_SeqStringTag, v8dbg_class_HeapObject__map__Map), so a symbol
 * in .bss reads as 0, as the loader would make it. Facts checked on the official builds of
 * Node 18.20.8 (V8 10.2.154.26), 20.20.2 (11.3.244.8), 22.23.5 (12.4.254.21) and 24.22.3
 * (13.6.233.17), each with 450-530 v8dbg_* symbols:
 *
 * - Tags: HeapObjectTag 1 (mask 3), SmiTag 0 (mask 1), SmiShiftSize 31 + SmiValueShift 1:
 *   pointer compression is off (8-byte tagged slots, a Smi is value << 32). The map is at
 *   offset 0 of every heap object, the instance type a uint16 at Map+12.
 * - Field names carry their type, and the type's spelling changed in V8 12 ("Object" became
 *   "Tagged_Object_", "Tagged_NameOrScopeInfoT_" in 13): fields are looked up by every
 *   spelling seen. SharedFunctionInfo::script_or_debug_info (10, 11) became ::script (12, 13:
 *   debug info moved to a side table); function_data has no entry from 12 on.
 * - Frame types (v8dbg_frametype_*) renumber between versions (InterpretedFrame is 12, 13,
 *   13, 14): only the values read from the binary are used.
 * - Standard frames: off_fp_context_or_frame_type -8, off_fp_function -16,
 *   off_fp_bytecode_array -32, off_fp_bytecode_offset -40, in all four.
 * - Instance types renumber too (SharedFunctionInfo 257, 262, 274, 282): all from the binary.
 *
 * What the metadata lacks (ScopeInfo's layout) is in layouts.c, per V8 version.
 */
#ifndef UVSCOPE_V8_METADATA_H
#define UVSCOPE_V8_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/elf.h"

/* Frame types uvscope names (the V8 enum has ~30; the rest print as "v8 frame"). */
#define UVS_V8_FRAMETYPES_MAX 40

struct uvs_v8_frametype {
	int32_t value;  /* StackFrame::Type; the marker in fp-8 is value << 1 */
	char name[32];  /* "entry", "exit", "stub", ... */
};

struct uvs_v8_meta {
	uint32_t major, minor, build, patch; /* v8::internal::Version */

	/* Frame slots, relative to fp (negative). */
	int32_t fp_context_or_type, fp_function, fp_bytecode_array, fp_bytecode_offset;
	int32_t frametype_interpreted, frametype_baseline;
	size_t nframetypes;
	struct uvs_v8_frametype frametypes[UVS_V8_FRAMETYPES_MAX];

	/* Field offsets from the object's untagged address. */
	uint32_t map_instance_type;
	uint32_t function_shared;
	uint32_t sfi_name_or_scope_info, sfi_script_or_debug_info;
	uint32_t script_name, script_source, script_line_ends;
	uint32_t string_length, seq_one_byte_chars, seq_two_byte_chars;
	uint32_t cons_first, cons_second, thin_actual, sliced_parent, sliced_offset;
	uint32_t external_resource;
	uint32_t fixed_array_length, fixed_array_data;

	/* Instance types. */
	uint16_t type_map, type_js_function, type_sfi, type_scope_info, type_script;
	uint16_t type_fixed_array, type_bytecode_array;
	uint16_t first_nonstring_type;
	uint16_t string_representation_mask, string_encoding_mask;
	uint16_t seq_string_tag, cons_string_tag, sliced_string_tag, thin_string_tag;
	uint16_t external_string_tag, one_byte_string_tag;
	uint16_t scopeinfo_first_vars; /* v8dbg_scopeinfo_idx_first_vars: 3 up to 12.4, 5 in 13.6 */
};

/*
 * Reads the metadata and the V8 version of the node object elf into *m. Returns 0; -ENOENT
 * when it has no v8dbg_* metadata (a stripped or distro build) or misses a value uvscope
 * needs, with the reason in why (one sentence, naming the first missing symbol); -EINVAL when a
 * value is out of any sane range (corrupt or hostile file).
 */
int uvs_v8_meta_read(struct uvs_elf *elf, struct uvs_v8_meta *m, char *why, size_t cap);

/* The name of frame type value (e.g. "entry"), or NULL when uvscope does not know it. */
const char *uvs_v8_meta_frametype_name(const struct uvs_v8_meta *m, int64_t value);

#endif
