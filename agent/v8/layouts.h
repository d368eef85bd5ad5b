/* SPDX-License-Identifier: MIT */
/*
 * What V8's post-mortem metadata lacks, per V8 version: the layout of ScopeInfo, where a
 * compiled function keeps its name and its source positions. See layouts.c for the facts.
 */
#ifndef UVSCOPE_V8_LAYOUTS_H
#define UVSCOPE_V8_LAYOUTS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * ScopeInfo (a HeapObject since V8 9.1) is: map, then 8-byte slots. Slot 0 is the flags;
 * 1 the parameter count; 2 the context local count. What follows depends on the flags.
 */
struct uvs_v8_scope_layout {
	uint32_t since;            /* first V8 version it describes: UVS_V8_VERSION(major, minor, build) */
	const char *node;          /* the Node line it was checked on ("20") */
	bool flags_is_smi;         /* flags: a Smi (value << 32), else a uint32 + 4 bytes of padding */
	bool position_first;       /* position_info right after the local count (V8 12.8+), else
				    * after the function name slots, for function scopes only */
	uint8_t scope_type_bits;   /* flags bits 0..n-1: the scope type */
	uint8_t function_scope;    /* ScopeType::FUNCTION_SCOPE */
	uint8_t module_scope;      /* ScopeType::MODULE_SCOPE */
	uint8_t saved_class_var_bit; /* has_saved_class_variable */
	uint8_t function_var_shift;  /* function_variable: 2 bits, 0 = NONE (no name slots) */
	uint8_t inferred_name_bit;   /* has_inferred_function_name */
	uint32_t max_inlined_local_names; /* kScopeInfoMaxInlinedLocalNamesSize: at or past it the
					   * names are one hash table slot */
	uint16_t function_subtypes; /* instance types right above JS_FUNCTION_TYPE that are
				     * JSFunctions too: constructors of builtins (Promise, Array, the
				     * typed arrays, RegExp...) and of classes, the last one */
};

#define UVS_V8_VERSION(major, minor, build) \
	(((uint32_t)(major) << 24) | ((uint32_t)(minor) << 16) | (uint32_t)(build))

/*
 * The layout for V8 version (major, minor, build): the newest entry not newer than it.
 * *exact is false when the version is not one the table was checked on (then why a caller
 * says "nearest older table"). NULL when the version is older than every entry.
 */
const struct uvs_v8_scope_layout *uvs_v8_scope_layout_for(uint32_t major, uint32_t minor,
							  uint32_t build, bool *exact);

#endif
