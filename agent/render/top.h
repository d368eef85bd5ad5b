/* SPDX-License-Identifier: MIT */
/*
 * The live view of `uvscope top`, redrawn once per interval. Every line fits 80 columns.
 */
#ifndef UVSCOPE_OUT_TOP_H
#define UVSCOPE_OUT_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/output.h"
#include "core/snapshot.h"

/* How many of the recent alerts the view shows (the newest ones). */
#define UVS_TOP_ALERTS 5

/* What the view shows besides the snapshot. Strings may be NULL ("?"). */
/* Room for a blocked loop's top place in the recent alerts (cut to the 80 columns anyway). */
#define UVS_TOP_PLACE 160

struct uvs_top_context {
	int pid;
	const char *target;          /* exe path; the view shows its basename */
	const char *mode;            /* "epoll" or "exact-phases" */
	const char *libuv_version;
	uint64_t block_threshold_ns;
	uint64_t elapsed_ns;         /* since attach */
	const struct uvs_alert *recent; /* newest last */
	/* For each recent alert, where a blocked loop was (its top place), "" if unknown. */
	const char (*recent_places)[UVS_TOP_PLACE];
	size_t nrecent;
	bool ansi;                   /* clear the screen first and embolden headers */
	/* The terminal's size: lines cut to cols (at most 80), at most rows lines; 0: none. */
	unsigned int cols, rows;
};

/* Draws one frame. Returns 0, or -EIO when out is in error. */
int uvs_top_render(FILE *out, const struct uvs_snapshot *s, const struct uvs_top_context *ctx);

/* Longest executable path top keeps for its header (it shows the basename). */
#define UVS_PATH_CHARS 256

/*
 * The live view as an output: redrawn at every interval and at every alert (with the last
 * frame), the summary below it at the end.
 */
struct uvs_output *uvs_top_output_new(FILE *out);

#endif /* UVSCOPE_OUT_TOP_H */
