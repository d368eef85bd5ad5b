/* SPDX-License-Identifier: MIT */
/*
 * The overhead guard in the text outputs (watch, top): the line it writes when it steps, its
 * state in an interval, its line in the summary.
 */
#ifndef UVSCOPE_GUARD_TEXT_H
#define UVSCOPE_GUARD_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "core/snapshot.h"

/*
 * "21:50:03 GUARD probe hits 48210/s over the budget of 10000/s for 3 intervals: exact phases
 * off (phase figures left out until they are back)"; with `who` (NULL: none) after the clock,
 * "21:50:03 pid 4242 (node): GUARD ...". 0, or -EIO.
 */
int uvs_guard_text_record(FILE *out, const char *who, const struct uvs_guard_record *r);

/*
 * What the guard has turned down in the window, "phases off, stacks 9 Hz (99 Hz blocked)", or ""
 * when nothing is.
 */
void uvs_guard_text_state(const struct uvs_guard_snapshot *g, char *buf, size_t cap);

/* "  guard: budget 10000 probe hits/s, ... " for a summary; nothing when the guard was off. */
void uvs_guard_text_summary(FILE *out, const struct uvs_guard_snapshot *g);

#endif
