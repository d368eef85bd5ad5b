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

size_t uvs_stack_places(const struct uvs_alert_stacks *st, struct uvs_stack_place *out,
			size_t cap)
{
	uint64_t asleep[UVS_ALERT_MAX_STACKS] = { 0 };
	size_t n = 0, i, j;

	for (i = 0; i < st->nstacks && i < UVS_ALERT_MAX_STACKS; i++) {
		char text[sizeof(out->text)];

		uvs_stack_line(st->stacks[i].frames, st->stacks[i].nframes, text, sizeof(text));
		for (j = 0; j < n && strcmp(out[j].text, text); j++)
			;
		if (j == n) {
			if (n == cap)
				continue;
			memcpy(out[n].text, text, sizeof(text));
			out[n].samples = 0;
			n++;
		}
		out[j].samples += st->stacks[i].samples;
		asleep[j] += st->stacks[i].off_cpu;
	}
	for (i = 0; i < n; i++)
		out[i].asleep = asleep[i] * 2 > out[i].samples;
	/* Most samples first (few places: insertion sort). */
	for (i = 1; i < n; i++) {
		struct uvs_stack_place p = out[i];
		bool a = out[i].asleep;

		for (j = i; j > 0 && out[j - 1].samples < p.samples; j--)
			out[j] = out[j - 1];
		out[j] = p;
		out[j].asleep = a;
	}
	return n;
}
