// SPDX-License-Identifier: MIT
/*
 * ScopeInfo reader. See scope_info.h, and layouts.c for the layouts per V8 version.
 */
#include <errno.h>

#include "v8/scope_info.h"

/* Slot i (0-based, after the map) of the ScopeInfo at tagged pointer si. */
static int slot(struct uvs_v8_heap *h, uint64_t si, uint64_t i, uint64_t *out)
{
	if (i > 4 * UVS_V8_SCOPE_LOCALS_MAX)
		return -EINVAL;
	return uvs_v8_read_field(h, si, (uint32_t)(8 + 8 * i), out);
}

/* The tagged value of slot i when it is a string, else 0. */
static uint64_t string_slot(struct uvs_v8_heap *h, uint64_t si, uint64_t i)
{
	uint64_t v;
	uint16_t type;

	if (slot(h, si, i, &v) || !UVS_V8_IS_HEAP_OBJECT(v))
		return 0;
	if (uvs_v8_instance_type(h, v, &type) || !uvs_v8_type_is_string(h, type))
		return 0;
	return v;
}

/* Reads the position pair at slots i, i + 1 when both are Smis with 0 <= start <= end. */
static void positions(struct uvs_v8_heap *h, uint64_t si, uint64_t i,
		      struct uvs_v8_scope_names *out)
{
	uint64_t s, e;

	if (slot(h, si, i, &s) || slot(h, si, i + 1, &e))
		return;
	if (!UVS_V8_IS_SMI(s) || !UVS_V8_IS_SMI(e))
		return;
	if (UVS_V8_SMI_VALUE(s) < 0 || UVS_V8_SMI_VALUE(e) < UVS_V8_SMI_VALUE(s))
		return;
	out->start = UVS_V8_SMI_VALUE(s);
	out->end = UVS_V8_SMI_VALUE(e);
}

int uvs_v8_scope_info_read(struct uvs_v8_heap *h, const struct uvs_v8_scope_layout *l,
			   uint64_t si, struct uvs_v8_scope_names *out)
{
	uint64_t flags_slot, count_slot, i;
	uint32_t flags, scope_type;
	int32_t count;
	int err;

	out->name = out->inferred = 0;
	out->start = out->end = -1;
	err = slot(h, si, 0, &flags_slot);
	if (!err)
		err = slot(h, si, 2, &count_slot);
	if (err)
		return err;
	if (l->flags_is_smi) {
		if (!UVS_V8_IS_SMI(flags_slot))
			return -EINVAL;
		flags = (uint32_t)UVS_V8_SMI_VALUE(flags_slot);
	} else {
		flags = (uint32_t)flags_slot;
	}
	if (!UVS_V8_IS_SMI(count_slot))
		return -EINVAL;
	count = UVS_V8_SMI_VALUE(count_slot);
	if (count < 0 || count > UVS_V8_SCOPE_LOCALS_MAX)
		return -EINVAL;
	scope_type = flags & ((1u << l->scope_type_bits) - 1);

	i = 3;
	if (l->position_first) {
		positions(h, si, 3, out);
		i = 5;
		if (scope_type == l->module_scope)
			i++; /* module_variable_count */
	}
	i += (uint32_t)count < l->max_inlined_local_names ? (uint64_t)count : 1; /* names */
	i += (uint64_t)count;                                                   /* infos */
	if (flags & (1u << l->saved_class_var_bit))
		i++;
	if ((flags >> l->function_var_shift) & 3) {
		out->name = string_slot(h, si, i); /* Smi 0 when the function has no name */
		i += 2;
	}
	if (flags & (1u << l->inferred_name_bit)) {
		out->inferred = string_slot(h, si, i);
		i++;
	}
	/* Old layouts: after the names, for function scopes (the ones on a stack) only. */
	if (!l->position_first && scope_type == l->function_scope)
		positions(h, si, i, out);
	return 0;
}
