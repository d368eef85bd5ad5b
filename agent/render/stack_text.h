/* SPDX-License-Identifier: MIT */
/*
 * A stack in one short line, for people: the innermost JavaScript frame and two of its JS
 * callers ("spin /app/server.js:14 < route /app/server.js:30 < handle ..."), or, in a stack
 * with no JS, its three innermost native frames. Stacks that read the same are one place.
 */
#ifndef UVSCOPE_STACK_TEXT_H
#define UVSCOPE_STACK_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"
#include "core/snapshot.h"

struct uvs_stack_place {
	char text[480];
	uint64_t samples;
	bool asleep; /* most of its samples were taken off the CPU */
};

/* The line for one stack (frames innermost first), into buf. Returns buf. */
const char *uvs_stack_line(const struct uvs_frame *const *frames, size_t n, char *buf, size_t cap);

/* The block's stacks merged by their line, most samples first. Returns how many. */
size_t uvs_stack_places(const struct uvs_alert_stacks *st, struct uvs_stack_place *out,
			size_t cap);

#endif
