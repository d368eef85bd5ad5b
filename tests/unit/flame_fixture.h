/* SPDX-License-Identifier: MIT */
/*
 * A profile built by hand for the flame writers' tests, with every kind of frame, hostile
 * names (; < > & " ' newline, invalid UTF-8), equal stacks under different labels, and two
 * frames that read the same. Its ground truth is below: the tests check against these numbers.
 */
#ifndef UVSCOPE_TEST_FLAME_FIXTURE_H
#define UVSCOPE_TEST_FLAME_FIXTURE_H

#include <stdio.h>

#include "core/profile.h"
#include "render/flame.h"

#define FIXTURE_PERIOD_NS 10101010ull /* 99 Hz */
#define FIXTURE_TOTAL 20096	      /* samples */
#define FIXTURE_ENTRIES 10	      /* (stack, labels) pairs */
#define FIXTURE_FOLDED_LINES 8	      /* distinct stack texts */
#define FIXTURE_BUSY_SAMPLES 57	      /* busyLoop: 50 on the main loop + 7 on a Worker */
#define FIXTURE_HOSTILE_NAME "evil<script>&\"'; \n x\xff\xfe\xce\xbb\xc3\xa9"
/* The hostile name as every output shows it: control bytes and invalid UTF-8 made '?'. */
#define FIXTURE_HOSTILE_TEXT "evil<script>&\"'; ? x??\xce\xbb\xc3\xa9 /app/lib/hostile.js:7"

/*
 * Drawn by the SVG writer: frames of at least 2 samples (0.1 px of 1180 is 1.7 samples of
 * 20096); tinyFn, [unknown] and [JS: unknown] have 1 and are left out.
 */
#define FIXTURE_SVG_OMITTED                                                                        \
	{                                                                                          \
		"tinyFn", "[unknown]", "[JS: unknown]"                                             \
	}

/* The profile; the caller frees it. */
struct uvs_profile *flame_fixture_profile(void);

/* What uvs_flame_write() wrote, in a string the caller frees; *len (if not NULL) its length. */
char *flame_render(enum uvs_flame_format fmt, const struct uvs_profile *p,
		   const struct uvs_flame_info *info, size_t *len);

/* All that can be read from f, in a string the caller frees. */
char *flame_slurp(FILE *f);

#endif
