/* SPDX-License-Identifier: MIT */
/*
 * The parts of a compiled function's ScopeInfo uvscope reads: its name, the name V8 inferred
 * for it ("obj.prop" for `obj.prop = function () {}`), and its source positions. The layout
 * comes from layouts.h; every slot read is type-checked.
 */
#ifndef UVSCOPE_V8_SCOPE_INFO_H
#define UVSCOPE_V8_SCOPE_INFO_H

#include <stdint.h>

#include "v8/heap.h"
#include "v8/layouts.h"

/* Bound on context_local_count: V8 allows far fewer context slots than this. */
#define UVS_V8_SCOPE_LOCALS_MAX (1 << 16)

struct uvs_v8_scope_names {
	uint64_t name;     /* tagged String: the function's own name, 0 when it has none */
	uint64_t inferred; /* tagged String: the inferred name, 0 when none */
	int32_t start;     /* source position of the function's start, -1 when unknown */
	int32_t end;
};

/*
 * Reads scope_info (a tagged pointer already checked to be a ScopeInfo) with layout l.
 * Returns 0 (fields that are absent or fail their check are left 0 / -1), -EINVAL when the
 * header itself is implausible, or the read's -errno.
 */
int uvs_v8_scope_info_read(struct uvs_v8_heap *h, const struct uvs_v8_scope_layout *l,
			   uint64_t scope_info, struct uvs_v8_scope_names *out);

#endif
