/* SPDX-License-Identifier: MIT */
/*
 * A profile's samples as the flame outputs draw them: stacks of frame texts, root first,
 * with the samples of equal stacks summed (whatever their labels: thread, role, state, phase)
 * and sorted, so that every rendering is deterministic.
 *
 * Frames are compared by their text, so two frames the profile keeps apart but that read the
 * same (one symbol in two objects) are one box in a flame graph and one folded frame.
 */
#ifndef UVSCOPE_FLAME_STACKS_H
#define UVSCOPE_FLAME_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"

enum uvs_flame_naming {
	/*
	 * Folded-stack names: uvs_frame_text() with ';' (the frame separator) made ':', and the
	 * annotations flamegraph.pl colours by appended: "_[j]" for JS and V8 code (JIT), "_[k]"
	 * for the kernel. Frames of different kinds with the same name are one frame.
	 */
	UVS_FLAME_FOLDED_NAMES,
	/* uvs_frame_text() as it is; frames of different kinds stay apart (they differ in colour).
	 */
	UVS_FLAME_DISPLAY_NAMES,
};

struct uvs_flame_stack {
	size_t off; /* its frames are keys[off .. off + n), root first */
	size_t n;
	uint64_t count; /* samples */
};

struct uvs_flame_stacks {
	/* Distinct frames, sorted by text (then kind): a frame's key is its index here. */
	char **texts;
	enum uvs_frame_kind *kinds;
	size_t nkeys;
	uint32_t *keys;
	struct uvs_flame_stack *stacks; /* sorted by their keys, no two equal */
	size_t nstacks;
	uint64_t total; /* samples of all stacks */
};

/* Fills s from p (stacks with no samples are left out). Returns 0 or -ENOMEM. */
int uvs_flame_stacks_build(struct uvs_flame_stacks *s, const struct uvs_profile *p,
			   enum uvs_flame_naming naming);

/* Frees what build() allocated; s may be zeroed or partly built. */
void uvs_flame_stacks_free(struct uvs_flame_stacks *s);

#endif /* UVSCOPE_FLAME_STACKS_H */
