// SPDX-License-Identifier: MIT
#include "render/stack_text.h"

#include <stdio.h>
#include <string.h>

#define LINE_FRAMES 3

static void append(char *buf, size_t cap, size_t *len, const char *s)
{
	int n;

	if (*len >= cap)
		return;
	n = snprintf(buf + *len, cap - *len, "%s", s);
	*len += n > 0 ? (size_t)n : 0;
	if (*len >= cap)
		*len = cap - 1;
}

static void line_of(const struct uvs_frame *const *frames, size_t n, enum uvs_frame_kind kind,
		    char *buf, size_t cap)
{
	char text[320];
	size_t len = 0, taken = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && taken < LINE_FRAMES; i++) {
		if (!frames[i] || frames[i]->kind != kind)
			continue;
		if (taken++)
			append(buf, cap, &len, " < ");
		append(buf, cap, &len, uvs_frame_text(frames[i], text, sizeof(text)));
	}
}

const char *uvs_stack_line(const struct uvs_frame *const *frames, size_t n, char *buf, size_t cap)
{
	line_of(frames, n, UVS_FRAME_JS, buf, cap);
	if (!buf[0])
		line_of(frames, n, UVS_FRAME_NATIVE, buf, cap);
	if (!buf[0])
		line_of(frames, n, UVS_FRAME_KERNEL, buf, cap);
	if (!buf[0])
		snprintf(buf, cap, "[unknown]");
	return buf;
}

