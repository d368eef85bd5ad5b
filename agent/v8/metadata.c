// SPDX-License-Identifier: MIT
/*
 * Reads V8's v8dbg_* metadata from the node binary. See metadata.h for the facts behind it.
 *
 * Every value is bounded before use: offsets must lie inside a small object (< 4096 bytes),
 * frame slots within 256 bytes below fp, instance types below 0x10000. A file that breaks a
 * bound is refused, so the heap reader never computes an address from a wild value.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "v8/metadata.h"

#define OFFSET_MAX 4096
#define FP_SLOT_MAX 256

/* The initial value of the int32 symbol name; -ENOENT when it is absent. */
static int read_int(struct uvs_elf *elf, const char *name, int32_t *out)
{
	struct uvs_elf_symbol sym;
	int err = uvs_elf_find_object(elf, name, &sym);

	if (err)
		return err;
	if (sym.size != 0 && sym.size != sizeof(*out))
		return -EINVAL;
	return uvs_elf_read_vaddr(elf, sym.addr, out, sizeof(*out));
}

/* The first of the NULL-terminated spellings that exists, as for read_int. */
static int read_any(struct uvs_elf *elf, const char *const *names, int32_t *out,
		    const char **missing)
{
	int err = -ENOENT;

	for (; *names; names++) {
		err = read_int(elf, *names, out);
		if (err != -ENOENT)
			break;
	}
	if (err == -ENOENT && missing && !*missing)
		*missing = names[-1];
	return err;
}

struct field {
	const char *const names[4]; /* spellings by V8 version, NULL-terminated */
	size_t where;               /* offsetof in struct uvs_v8_meta */
	enum { F_OFFSET, F_TYPE, F_FP_SLOT, F_FRAMETYPE } kind;
};

#define AT(member) offsetof(struct uvs_v8_meta, member)

static const struct field fields[] = {
	{ { "v8dbg_off_fp_context_or_frame_type" }, AT(fp_context_or_type), F_FP_SLOT },
	{ { "v8dbg_off_fp_function" }, AT(fp_function), F_FP_SLOT },
	{ { "v8dbg_off_fp_bytecode_array" }, AT(fp_bytecode_array), F_FP_SLOT },
	{ { "v8dbg_off_fp_bytecode_offset" }, AT(fp_bytecode_offset), F_FP_SLOT },
	{ { "v8dbg_frametype_InterpretedFrame" }, AT(frametype_interpreted), F_FRAMETYPE },
	{ { "v8dbg_frametype_BaselineFrame" }, AT(frametype_baseline), F_FRAMETYPE },
	{ { "v8dbg_class_Map__instance_type__uint16_t" }, AT(map_instance_type), F_OFFSET },
	{ { "v8dbg_class_JSFunction__shared__SharedFunctionInfo",
	    "v8dbg_class_JSFunction__shared__Tagged_SharedFunctionInfo_" },
	  AT(function_shared), F_OFFSET },
	{ { "v8dbg_class_SharedFunctionInfo__name_or_scope_info__Object",
	    "v8dbg_class_SharedFunctionInfo__name_or_scope_info__Tagged_Object_",
	    "v8dbg_class_SharedFunctionInfo__name_or_scope_info__Tagged_NameOrScopeInfoT_" },
	  AT(sfi_name_or_scope_info), F_OFFSET },
	{ { "v8dbg_class_SharedFunctionInfo__script_or_debug_info__HeapObject",
	    "v8dbg_class_SharedFunctionInfo__script__Tagged_HeapObject_",
	    "v8dbg_class_SharedFunctionInfo__script__HeapObject" },
	  AT(sfi_script_or_debug_info), F_OFFSET },
	{ { "v8dbg_class_Script__name__Object", "v8dbg_class_Script__name__Tagged_Object_" },
	  AT(script_name), F_OFFSET },
	{ { "v8dbg_class_Script__source__Object", "v8dbg_class_Script__source__Tagged_Object_" },
	  AT(script_source), F_OFFSET },
	{ { "v8dbg_class_Script__line_ends__Object",
	    "v8dbg_class_Script__line_ends__Tagged_Object_" },
	  AT(script_line_ends), F_OFFSET },
	{ { "v8dbg_class_String__length__int32_t" }, AT(string_length), F_OFFSET },
	{ { "v8dbg_class_SeqOneByteString__chars__char" }, AT(seq_one_byte_chars), F_OFFSET },
	{ { "v8dbg_class_SeqTwoByteString__chars__char" }, AT(seq_two_byte_chars), F_OFFSET },
	{ { "v8dbg_class_ConsString__first__String" }, AT(cons_first), F_OFFSET },
	{ { "v8dbg_class_ConsString__second__String" }, AT(cons_second), F_OFFSET },
	{ { "v8dbg_class_ThinString__actual__String" }, AT(thin_actual), F_OFFSET },
	{ { "v8dbg_class_SlicedString__parent__String" }, AT(sliced_parent), F_OFFSET },
	{ { "v8dbg_class_SlicedString__offset__SMI" }, AT(sliced_offset), F_OFFSET },
	{ { "v8dbg_class_ExternalString__resource__Object" }, AT(external_resource), F_OFFSET },
	{ { "v8dbg_class_FixedArrayBase__length__SMI" }, AT(fixed_array_length), F_OFFSET },
	{ { "v8dbg_class_FixedArray__data__uintptr_t" }, AT(fixed_array_data), F_OFFSET },
	{ { "v8dbg_type_Map__MAP_TYPE" }, AT(type_map), F_TYPE },
	{ { "v8dbg_type_JSFunction__JS_FUNCTION_TYPE" }, AT(type_js_function), F_TYPE },
	{ { "v8dbg_type_SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE" }, AT(type_sfi), F_TYPE },
	{ { "v8dbg_type_ScopeInfo__SCOPE_INFO_TYPE" }, AT(type_scope_info), F_TYPE },
	{ { "v8dbg_type_Script__SCRIPT_TYPE" }, AT(type_script), F_TYPE },
	{ { "v8dbg_type_FixedArray__FIXED_ARRAY_TYPE" }, AT(type_fixed_array), F_TYPE },
	{ { "v8dbg_type_BytecodeArray__BYTECODE_ARRAY_TYPE" }, AT(type_bytecode_array), F_TYPE },
	{ { "v8dbg_FirstNonstringType" }, AT(first_nonstring_type), F_TYPE },
	{ { "v8dbg_StringRepresentationMask" }, AT(string_representation_mask), F_TYPE },
	{ { "v8dbg_StringEncodingMask" }, AT(string_encoding_mask), F_TYPE },
	{ { "v8dbg_SeqStringTag" }, AT(seq_string_tag), F_TYPE },
	{ { "v8dbg_ConsStringTag" }, AT(cons_string_tag), F_TYPE },
	{ { "v8dbg_SlicedStringTag" }, AT(sliced_string_tag), F_TYPE },
	{ { "v8dbg_ThinStringTag" }, AT(thin_string_tag), F_TYPE },
	{ { "v8dbg_ExternalStringTag" }, AT(external_string_tag), F_TYPE },
	{ { "v8dbg_OneByteStringTag" }, AT(one_byte_string_tag), F_TYPE },
	{ { "v8dbg_scopeinfo_idx_first_vars" }, AT(scopeinfo_first_vars), F_TYPE },
};

static int store(struct uvs_v8_meta *m, const struct field *f, int32_t v)
{
	void *p = (char *)m + f->where;

	switch (f->kind) {
	case F_OFFSET:
		/* map is at offset 0; every field we read sits after it. */
		if (v <= 0 || v >= OFFSET_MAX)
			return -EINVAL;
		*(uint32_t *)p = (uint32_t)v;
		return 0;
	case F_TYPE:
		if (v < 0 || v > 0xffff)
			return -EINVAL;
		*(uint16_t *)p = (uint16_t)v;
		return 0;
	case F_FP_SLOT:
		if (v >= 0 || v < -FP_SLOT_MAX || v % 8)
			return -EINVAL;
		*(int32_t *)p = v;
		return 0;
	case F_FRAMETYPE:
		if (v <= 0 || v >= 64)
			return -EINVAL;
		*(int32_t *)p = v;
		return 0;
	}
	return -EINVAL;
}

/* "ConstructEntryFrame" -> "construct_entry". */
static void frame_name(const char *camel, char *out, size_t cap)
{
	size_t n = 0, len = strlen(camel);

	if (len > 5 && strcmp(camel + len - 5, "Frame") == 0)
		len -= 5;
	for (size_t i = 0; i < len && n + 2 < cap; i++) {
		if (isupper((unsigned char)camel[i]) && i > 0)
			out[n++] = '_';
		out[n++] = (char)tolower((unsigned char)camel[i]);
	}
	out[n] = '\0';
}

/* Frame types worth a name in a stack: the typed frames a sample passes through. */
static const char *const frame_types[] = {
	"EntryFrame", "ConstructEntryFrame", "ExitFrame", "BuiltinExitFrame",
	"ApiCallbackExitFrame", "ApiAccessorExitFrame", "StubFrame", "BuiltinFrame",
	"InternalFrame", "ConstructFrame", "FastConstructFrame", "BuiltinContinuationFrame",
	"JavaScriptBuiltinContinuationFrame", "JavaScriptBuiltinContinuationWithCatchFrame",
	"TurbofanStubWithContextFrame", "NativeFrame", "IrregexpFrame", "WasmFrame",
	"WasmExitFrame", "WasmToJsFrame", "JsToWasmFrame", "CWasmEntryFrame", "StackSwitchFrame",
};

static void read_frametypes(struct uvs_elf *elf, struct uvs_v8_meta *m)
{
	char sym[96];
	int32_t v;

	m->nframetypes = 0;
	for (size_t i = 0; i < sizeof(frame_types) / sizeof(frame_types[0]); i++) {
		struct uvs_v8_frametype *t = &m->frametypes[m->nframetypes];

		snprintf(sym, sizeof(sym), "v8dbg_frametype_%s", frame_types[i]);
		if (read_int(elf, sym, &v) || v <= 0 || v >= 64)
			continue;
		t->value = v;
		frame_name(frame_types[i], t->name, sizeof(t->name));
		if (++m->nframetypes == UVS_V8_FRAMETYPES_MAX)
			break;
	}
}

static int read_version(struct uvs_elf *elf, struct uvs_v8_meta *m)
{
	int32_t v[4];
	static const char *const names[4] = {
		"_ZN2v88internal7Version6major_E", "_ZN2v88internal7Version6minor_E",
		"_ZN2v88internal7Version6build_E", "_ZN2v88internal7Version6patch_E",
	};

	for (int i = 0; i < 4; i++) {
		int err = read_int(elf, names[i], &v[i]);

		if (err)
			return err;
		if (v[i] < 0 || v[i] > 100000)
			return -EINVAL;
	}
	m->major = (uint32_t)v[0];
	m->minor = (uint32_t)v[1];
	m->build = (uint32_t)v[2];
	m->patch = (uint32_t)v[3];
	return 0;
}

/* The tag values this reader is written for: any other binary is not read at all. */
static int check_tags(struct uvs_elf *elf, char *why, size_t cap)
{
	static const struct {
		const char *name;
		int32_t want;
	} tags[] = {
		{ "v8dbg_HeapObjectTag", 1 }, { "v8dbg_HeapObjectTagMask", 3 },
		{ "v8dbg_SmiTag", 0 },        { "v8dbg_SmiTagMask", 1 },
		{ "v8dbg_SmiShiftSize", 31 }, { "v8dbg_SmiValueShift", 1 },
		{ "v8dbg_class_HeapObject__map__Map", 0 },
	};
	int32_t v;

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		int err = read_int(elf, tags[i].name, &v);

		if (err == -ENOENT) {
			snprintf(why, cap, "no V8 post-mortem metadata (%s is missing)", tags[i].name);
			return -ENOENT;
		}
		if (err)
			return err;
		if (v != tags[i].want) {
			snprintf(why, cap,
				 "V8 %s is %d, not %d: a pointer-compressed or unusual build, "
				 "not read", tags[i].name, v, tags[i].want);
			return -ENOENT;
		}
	}
	return 0;
}

int uvs_v8_meta_read(struct uvs_elf *elf, struct uvs_v8_meta *m, char *why, size_t cap)
{
	const char *missing = NULL;
	int32_t v;
	int err;

	memset(m, 0, sizeof(*m));
	if (cap)
		why[0] = '\0';
	err = check_tags(elf, why, cap);
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		err = read_any(elf, fields[i].names, &v, &missing);
		/* The tags that are 0 live in .bss; an absent one is 0 as well for V8. */
		if (err == -ENOENT && fields[i].kind == F_TYPE) {
			v = 0;
			err = 0;
			missing = NULL;
		}
		if (err == -ENOENT) {
			snprintf(why, cap, "V8 post-mortem metadata lacks %s", missing);
			return -ENOENT;
		}
		if (err)
			return err;
		err = store(m, &fields[i], v);
		if (err) {
			snprintf(why, cap, "V8 post-mortem metadata has a bad %s (%d)",
				 fields[i].names[0], v);
			return err;
		}
	}
	if (!m->type_js_function || !m->type_sfi || !m->type_scope_info || !m->type_script ||
	    !m->first_nonstring_type) {
		snprintf(why, cap, "V8 post-mortem metadata lacks an instance type");
		return -ENOENT;
	}
	err = read_version(elf, m);
	if (err) {
		snprintf(why, cap, "no V8 version (v8::internal::Version) in the binary");
		return err == -ENOENT ? -ENOENT : err;
	}
	read_frametypes(elf, m);
	return 0;
}

const char *uvs_v8_meta_frametype_name(const struct uvs_v8_meta *m, int64_t value)
{
	for (size_t i = 0; i < m->nframetypes; i++)
		if (m->frametypes[i].value == value)
			return m->frametypes[i].name;
	return NULL;
}
