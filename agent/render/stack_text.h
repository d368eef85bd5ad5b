/* SPDX-License-Identifier: MIT */
/*
 * A stack in one short line, for people: the innermost JavaScript frame and two of its JS
 * callers ("spin /app/server.js:14 < route /app/server.js:30 < handle ..."), or, in a stack
 * with no JS, its three innermost native frames.
 */
#ifndef UVSCOPE_STACK_TEXT_H
#define UVSCOPE_STACK_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"
#include "core/snapshot.h"

/* The line for one stack (frames innermost first), into buf. Returns buf. */
const char *uvs_stack_line(const struct uvs_frame *const *frames, size_t n, char *buf, size_t cap);

#endif
