/* SPDX-License-Identifier: MIT */
/*
 * An interactive flame graph in one self-contained SVG file (no external resource), as
 * flamegraph.pl draws them: the root at the bottom, each frame as wide as its share of the
 * samples, children sorted by name. Inline JavaScript gives hover details (name, samples,
 * share), click to zoom into a frame (and reset), and a search that highlights the matching
 * frames and shows their share.
 *
 * Colours by frame kind: JS green, V8 code aqua, native red-orange, kernel orange, the loop
 * and its phases blue, unknown grey; the shade within a kind comes from the name, so a frame
 * keeps its colour from one graph to the next.
 *
 * Frames narrower than UVS_FLAME_SVG_MIN_WIDTH pixels (at the full width of the graph) are not
 * drawn, nor is anything above them: their samples still count in their parents' width. Every
 * string is XML-escaped; the text comes from uvs_frame_text(), which is valid UTF-8 without
 * control characters.
 */
#ifndef UVSCOPE_FLAME_SVG_H
#define UVSCOPE_FLAME_SVG_H

#include <stdio.h>

#include "core/profile.h"
#include "render/flame.h"

#define UVS_FLAME_SVG_WIDTH 1200    /* pixels */
#define UVS_FLAME_SVG_MIN_WIDTH 0.1 /* pixels: fewer than total / 11800 samples (1180 px wide) */

/* Writes p to out; info (its title) may be NULL. Returns 0, -ENOMEM, or -EIO. */
int uvs_flame_svg_write(FILE *out, const struct uvs_profile *p, const struct uvs_flame_info *info);

#endif /* UVSCOPE_FLAME_SVG_H */
