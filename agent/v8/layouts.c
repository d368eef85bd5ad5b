// SPDX-License-Identifier: MIT
/*
 * ScopeInfo layouts per V8 version (see layouts.h), from V8's src/objects/scope-info.tq and
 * checked by reading ScopeInfo objects of known functions in the official Node builds
 * (a named function, an arrow function, a function assigned to obj.prop, a class method, a
 * function with one and one with 80 context locals):
 *
 * V8 10.2 (Node 18.20.8), 11.3 (20.20.2), 12.4 (22.23.5):
 *   [0] flags (Smi)  [1] parameter_count  [2] context_local_count
 *   [3..] context_local_names (count slots; one hash table slot when count >= 75)
 *   context_local_infos (count slots)
 *   saved_class_variable_info (1 slot, if flags.has_saved_class_variable, bit 10)
 *   function_variable_info: name, slot index (2 slots, if flags.function_variable, bits 12-13,
 *     is not NONE: for every function scope V8 reserves it as UNUSED = 3); the name is a
 *     String ("" for an anonymous function) or Smi 0 (no shared name)
 *   inferred_function_name (1 slot, if bit 14): String ("obj.prop") or undefined
 *   position_info: start, end (2 Smis; function, script, eval and module scopes)
 *   ScopeType: CLASS 0, EVAL 1, FUNCTION 2, MODULE 3, SCRIPT 4, ...
 * V8 13.6 (Node 24.22.3): the flags are a uint32 in the low half of slot 0, position_info
 *   moved to slots [3] and [4] (V8 12.8.44, crrev.com/c/5627032), a module scope then has
 *   module_variable_count in [5], and the names follow. ScopeType gained SCRIPT 0 and
 *   REPL_MODE 1 in front: CLASS 2, EVAL 3, FUNCTION 4, MODULE 5. Flag bits as above.
 *
 * V8 14.6 (Node 26.12.1): as 13.6 (the chain of tests/fixtures/node/jsnames named right).
 *
 * v8dbg_scopeinfo_idx_first_vars agrees: 3 up to 12.4, 5 in 13.6 and 14.6.
 *
 * JSFunction instance types: JS_FUNCTION_TYPE (v8dbg_type_JSFunction__JS_FUNCTION_TYPE) is the
 * first of a range; the constructors of builtins and JS_CLASS_CONSTRUCTOR_TYPE, the last, follow
 * it. Measured (instance type of a class, minus JS_FUNCTION_TYPE): 15 on 10.2 and 11.3, 16 on
 * 12.4, 13.6 and 14.6. Bound functions lie below the range (they are no JSFunction).
 */
#include <stddef.h>

#include "v8/layouts.h"

static const struct uvs_v8_scope_layout layouts[] = {
	{
		.since = UVS_V8_VERSION(10, 2, 0),
		.node = "18",
		.function_subtypes = 15,
		.flags_is_smi = true,
		.position_first = false,
		.scope_type_bits = 4,
		.function_scope = 2,
		.module_scope = 3,
		.saved_class_var_bit = 10,
		.function_var_shift = 12,
		.inferred_name_bit = 14,
		.max_inlined_local_names = 75,
	},
	{
		.since = UVS_V8_VERSION(11, 3, 0),
		.node = "20",
		.function_subtypes = 15,
		.flags_is_smi = true,
		.position_first = false,
		.scope_type_bits = 4,
		.function_scope = 2,
		.module_scope = 3,
		.saved_class_var_bit = 10,
		.function_var_shift = 12,
		.inferred_name_bit = 14,
		.max_inlined_local_names = 75,
	},
	{
		.since = UVS_V8_VERSION(12, 4, 0),
		.node = "22",
		.function_subtypes = 16,
		.flags_is_smi = true,
		.position_first = false,
		.scope_type_bits = 4,
		.function_scope = 2,
		.module_scope = 3,
		.saved_class_var_bit = 10,
		.function_var_shift = 12,
		.inferred_name_bit = 14,
		.max_inlined_local_names = 75,
	},
	{
		.since = UVS_V8_VERSION(13, 6, 0),
		.node = "24",
		.function_subtypes = 16,
		.flags_is_smi = false,
		.position_first = true,
		.scope_type_bits = 4,
		.function_scope = 4,
		.module_scope = 5,
		.saved_class_var_bit = 10,
		.function_var_shift = 12,
		.inferred_name_bit = 14,
		.max_inlined_local_names = 75,
	},
	{
		.since = UVS_V8_VERSION(14, 6, 0),
		.node = "26",
		.function_subtypes = 16,
		.flags_is_smi = false,
		.position_first = true,
		.scope_type_bits = 4,
		.function_scope = 4,
		.module_scope = 5,
		.saved_class_var_bit = 10,
		.function_var_shift = 12,
		.inferred_name_bit = 14,
		.max_inlined_local_names = 75,
	},
};

const struct uvs_v8_scope_layout *uvs_v8_scope_layout_for(uint32_t major, uint32_t minor,
							  uint32_t build, bool *exact)
{
	uint32_t v = UVS_V8_VERSION(major, minor, build);
	const struct uvs_v8_scope_layout *best = NULL;
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].since <= v)
			best = &layouts[i];
	if (exact)
		*exact = best && (best->since >> 16) == (v >> 16);
	return best;
}
