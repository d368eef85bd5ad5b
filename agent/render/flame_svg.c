// SPDX-License-Identifier: MIT
/*
 * The SVG flame graph: lays the sorted stacks (flame_stacks.h) out as boxes, one per frame and
 * run of equal prefixes, as flamegraph.pl does, and writes them with the script of
 * flame_svg_script.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/flame_stacks.h"
#include "render/flame_svg.h"
#include "render/flame_svg_script.h"
#include "util/hash.h"
#include "util/text.h"

#define PAD 10	   /* pixels left and right of the frames */
#define FRAME_H 16 /* pixels per stack level */
#define TOP 36	   /* title and buttons */
#define BOTTOM 30  /* the details line */
#define FONT_PX 12
#define CHAR_W 7.22	    /* width of a 12 px monospace character, for fitting labels */
#define ROOT_KEY UINT32_MAX /* the "all" frame under every stack */

struct box {
	uint64_t start; /* first sample */
	uint64_t n;	/* samples */
	uint32_t key;	/* the frame's key in the stacks, or ROOT_KEY */
	uint32_t depth; /* 0: the root */
};

struct layout {
	struct box *boxes;
	size_t n, cap;
	uint64_t min_samples; /* narrower boxes are not drawn */
	uint32_t max_depth;
};

static int add_box(struct layout *l, uint32_t key, uint32_t depth, uint64_t start, uint64_t end)
{
	if (end - start < l->min_samples)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct box *b = realloc(l->boxes, cap * sizeof(*b));

		if (!b)
			return -ENOMEM;
		l->boxes = b;
		l->cap = cap;
	}
	l->boxes[l->n++] = (struct box){start, end - start, key, depth};
	if (depth > l->max_depth)
		l->max_depth = depth;
	return 0;
}

/*
 * The boxes of sorted stacks: a frame opens where a stack first differs from the previous one
 * at its depth, and closes where a later stack differs at or below it. open_at[d] is where the
 * frame now open at depth d + 1 began.
 */
static int lay_out(struct layout *l, const struct uvs_flame_stacks *s)
{
	const struct uvs_flame_stack *prev = NULL;
	uint64_t x = 0, *open_at = NULL;
	size_t max_n = 0, i, d, common;
	int err = 0;

	for (i = 0; i < s->nstacks; i++)
		if (s->stacks[i].n > max_n)
			max_n = s->stacks[i].n;
	open_at = calloc(max_n + 1, sizeof(*open_at));
	if (!open_at)
		return -ENOMEM;
	for (i = 0; i < s->nstacks && !err; i++) {
		const struct uvs_flame_stack *st = &s->stacks[i];

		common = 0;
		while (prev && common < prev->n && common < st->n &&
		       s->keys[prev->off + common] == s->keys[st->off + common])
			common++;
		for (d = prev ? prev->n : 0; d > common && !err; d--)
			err =
			    add_box(l, s->keys[prev->off + d - 1], (uint32_t)d, open_at[d - 1], x);
		for (d = common; d < st->n; d++)
			open_at[d] = x;
		x += st->count;
		prev = st;
	}
	for (d = prev ? prev->n : 0; d > 0 && !err; d--)
		err = add_box(l, s->keys[prev->off + d - 1], (uint32_t)d, open_at[d - 1], x);
	if (!err)
		err = add_box(l, ROOT_KEY, 0, 0, x);
	free(open_at);
	return err;
}

/*
 * Writes s XML-escaped; at most max_chars characters, the last two of them ".." when cut
 * (SIZE_MAX: all). Bytes that XML cannot carry (controls, invalid UTF-8, U+FFFE and U+FFFF)
 * become '?', though the frame texts should have none.
 */
static void put_xml(FILE *out, const char *str, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t chars = 0, total = 0, i, len, end = strlen(str);

	for (i = 0; i < end; i += s[i] < 0x80 ? 1 : (uvs_utf8_len(s + i, end - i) ?: 1))
		total++;
	for (i = 0; i < end; i += len, chars++) {
		if (total > max_chars && chars + 2 >= max_chars) {
			fputs("..", out);
			return;
		}
		len = s[i] < 0x80 ? 1 : uvs_utf8_len(s + i, end - i);
		if (len == 0 || s[i] < 0x20 || s[i] == 0x7f ||
		    (len == 3 && s[i] == 0xef && s[i + 1] == 0xbf && s[i + 2] >= 0xbe)) {
			fputc('?', out);
			len = len ? len : 1;
			continue;
		}
		switch (s[i]) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			fwrite(s + i, 1, len, out);
		}
	}
}

/* A colour for a frame: the hue by kind, the shade from the name (stable across graphs). */
static void put_fill(FILE *out, enum uvs_frame_kind kind, const char *name, bool root)
{
	double v =
	    (double)(uvs_hash_final(uvs_hash_bytes(UVS_HASH_SEED, name, strlen(name))) % 1000) /
	    1000.0;
	int r, g, b;

	if (root) {
		r = g = b = 200;
	} else {
		switch (kind) {
		case UVS_FRAME_JS:
			r = 60 + 55 * v, g = 180 + 55 * v, b = 60 + 40 * v;
			break;
		case UVS_FRAME_V8:
			r = 70 + 40 * v, g = 190 + 45 * v, b = 190 + 45 * v;
			break;
		case UVS_FRAME_NATIVE:
			r = 200 + 55 * v, g = 70 + 60 * v, b = 60 + 40 * v;
			break;
		case UVS_FRAME_KERNEL:
			r = 220 + 35 * v, g = 150 + 40 * v, b = 30 + 25 * v;
			break;
		case UVS_FRAME_LOOP:
		case UVS_FRAME_PHASE:
			r = 100 + 40 * v, g = 140 + 40 * v, b = 220 + 35 * v;
			break;
		case UVS_FRAME_UNKNOWN:
		default:
			r = g = b = 160 + 40 * v;
			break;
		}
	}
	fprintf(out, "rgb(%d,%d,%d)", r, g, b);
}

static void put_box(FILE *out, const struct box *bx, const struct uvs_flame_stacks *s,
		    uint32_t height)
{
	bool root = bx->key == ROOT_KEY;
	const char *name = root ? "all" : s->texts[bx->key];
	double scale = (double)(UVS_FLAME_SVG_WIDTH - 2 * PAD) / (double)s->total;
	double x = PAD + (double)bx->start * scale, w = (double)bx->n * scale;
	double y = height - BOTTOM - (double)(bx->depth + 1) * FRAME_H;
	double chars = (w - 6) / CHAR_W;

	fprintf(out, "<g data-s=\"%" PRIu64 "\" data-n=\"%" PRIu64 "\" data-d=\"%" PRIu32 "\">",
		bx->start, bx->n, bx->depth);
	fputs("<title>", out);
	put_xml(out, name, SIZE_MAX);
	fprintf(out, " (%" PRIu64 " sample%s, %.2f%%)</title>", bx->n, bx->n == 1 ? "" : "s",
		100.0 * (double)bx->n / (double)s->total);
	fprintf(out, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" rx=\"2\" fill=\"", x,
		y, w, FRAME_H - 1);
	put_fill(out, root ? UVS_FRAME_UNKNOWN : s->kinds[bx->key], name, root);
	fprintf(out, "\"/><text x=\"%.2f\" y=\"%.1f\">", x + 3, y + FRAME_H - 4.5);
	if (chars >= 3)
		put_xml(out, name, (size_t)chars);
	fputs("</text></g>\n", out);
}

static void put_header(FILE *out, const struct uvs_flame_info *info, uint64_t total,
		       uint32_t height)
{
	const char *title = info && info->title ? info->title : "Flame graph";

	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%" PRIu32 "\" viewBox=\"0 0 %d %" PRIu32 "\" data-total=\"%" PRIu64
		"\" data-pad=\"%d\" data-char-width=\"%.2f\">\n",
		UVS_FLAME_SVG_WIDTH, height, UVS_FLAME_SVG_WIDTH, height, total, PAD, CHAR_W);
	fputs("<title>", out);
	put_xml(out, title, SIZE_MAX);
	fprintf(out, " (%" PRIu64 " samples)</title>\n", total);
	fprintf(out,
		"<style>\n"
		"text { font-family: monospace; font-size: %dpx; fill: #000; }\n"
		"#frames text { pointer-events: none; }\n"
		"#frames g { cursor: pointer; }\n"
		"#frames g:hover rect { stroke: #000; stroke-width: 0.6; }\n"
		".button { cursor: pointer; fill: #335; }\n"
		".button:hover { text-decoration: underline; }\n"
		"</style>\n",
		FONT_PX);
	fprintf(out, "<script><![CDATA[\n%s]]></script>\n", uvs_flame_svg_script);
	fprintf(out,
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#f8f8f4\"/>\n"
		"<text id=\"title\" x=\"%d\" y=\"22\" text-anchor=\"middle\" "
		"style=\"font-size: 16px\">",
		UVS_FLAME_SVG_WIDTH / 2);
	put_xml(out, title, SIZE_MAX);
	fprintf(out, " (%" PRIu64 " samples)</text>\n", total);
	fprintf(out,
		"<text id=\"reset\" class=\"button\" x=\"%d\" y=\"22\" "
		"style=\"display: none\">Reset Zoom</text>\n"
		"<text id=\"search\" class=\"button\" x=\"%d\" y=\"22\" "
		"text-anchor=\"end\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%" PRIu32 "\"> </text>\n"
		"<text id=\"matched\" x=\"%d\" y=\"%" PRIu32 "\" text-anchor=\"end\"> </text>\n",
		PAD, UVS_FLAME_SVG_WIDTH - PAD, PAD, height - 10, UVS_FLAME_SVG_WIDTH - PAD,
		height - 10);
}

int uvs_flame_svg_write(FILE *out, const struct uvs_profile *p, const struct uvs_flame_info *info)
{
	struct uvs_flame_stacks s;
	struct layout l = {0};
	uint32_t height;
	size_t i;
	int err;

	err = uvs_flame_stacks_build(&s, p, UVS_FLAME_DISPLAY_NAMES);
	if (err)
		return err;
	/* The threshold in whole samples; at least 1, so an empty stack never makes a box. */
	l.min_samples = (uint64_t)ceil((double)s.total * UVS_FLAME_SVG_MIN_WIDTH /
				       (UVS_FLAME_SVG_WIDTH - 2 * PAD));
	if (l.min_samples == 0)
		l.min_samples = 1;
	err = lay_out(&l, &s);
	if (err)
		goto out;
	height = TOP + (l.max_depth + 1) * FRAME_H + BOTTOM;
	put_header(out, info, s.total, height);
	fputs("<g id=\"frames\">\n", out);
	for (i = 0; i < l.n && s.total; i++)
		put_box(out, &l.boxes[i], &s, height);
	fputs("</g>\n</svg>\n", out);
	err = fflush(out) || ferror(out) ? -EIO : 0;
out:
	free(l.boxes);
	uvs_flame_stacks_free(&s);
	return err;
}
