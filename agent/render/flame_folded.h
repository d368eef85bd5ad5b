/* SPDX-License-Identifier: MIT */
/*
 * Folded stacks, the text format of Brendan Gregg's stackcollapse scripts that flamegraph.pl,
 * inferno and speedscope read: one line per distinct stack, "root;child;leaf COUNT", sorted.
 * Frame names as flame_stacks.h's UVS_FLAME_FOLDED_NAMES: JS "name file:line_[j]", kernel
 * "name_[k]", no ';' or newline inside a frame.
 */
#ifndef UVSCOPE_FLAME_FOLDED_H
#define UVSCOPE_FLAME_FOLDED_H

#include <stdio.h>

#include "core/profile.h"

/* Writes p to out. Returns 0, -ENOMEM, or -EIO when out is in error. */
int uvs_flame_folded_write(FILE *out, const struct uvs_profile *p);

#endif /* UVSCOPE_FLAME_FOLDED_H */
