// SPDX-License-Identifier: MIT
#include "core/flame_samples.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/snapshot.h"

void uvs_flame_thread_root(const struct uvs_sample_labels *l, char *buf, size_t cap)
{
	switch (l->role) {
	case UVS_ROLE_MAIN:
		snprintf(buf, cap, "main loop %d", l->tid);
		return;
	case UVS_ROLE_WORKER:
		snprintf(buf, cap, "worker loop %d", l->tid);
		return;
	case UVS_ROLE_LOOP:
		snprintf(buf, cap, "loop %d", l->tid);
		return;
	case UVS_ROLE_THREADPOOL:
		snprintf(buf, cap, "threadpool");
		return;
	case UVS_ROLE_OTHER:
		break;
	}
	snprintf(buf, cap, "other threads");
}

static bool takes(enum uvs_flame_mode mode, const struct uvs_sample *s)
{
	switch (mode) {
	case UVS_FLAME_CPU:
		return s->labels.state != UVS_STATE_OFF_CPU;
	case UVS_FLAME_OFF_CPU:
		return s->labels.state == UVS_STATE_OFF_CPU;
	case UVS_FLAME_LOOP:
		return s->labels.state == UVS_STATE_LOOP_BUSY;
	}
	return false;
}

/*
 * In loop mode the loop and its phase are the root: what lies above the loop's own uv_run (the
 * thread's start, node::Start, uv_run itself) says nothing more and would split one graph into
 * several by how far each walk got. A stack without uv_run (cut short) is kept whole.
 */
static size_t loop_start(enum uvs_flame_mode mode, const struct uvs_sample *s)
{
	if (mode != UVS_FLAME_LOOP)
		return 0;
	for (size_t i = 0; i < s->nframes; i++)
		if (s->frames[i].kind == UVS_FRAME_NATIVE && strcmp(s->frames[i].name, "uv_run") == 0)
			return i + 1;
	return 0;
}

int uvs_flame_add(struct uvs_profile *p, enum uvs_flame_mode mode, const struct uvs_sample *s)
{
	int32_t ids[2 + 512];
	char root[64];
	size_t n = 0;

	if (!takes(mode, s))
		return 0;
	uvs_flame_thread_root(&s->labels, root, sizeof(root));
	ids[n] = uvs_profile_frame(p, &(struct uvs_frame){ .kind = UVS_FRAME_LOOP, .name = root });
	if (ids[n++] < 0)
		return -ENOMEM;
	if (mode == UVS_FLAME_LOOP) {
		const char *phase = s->labels.phase >= 0 && s->labels.phase < UVS_PHASE_COUNT ?
					    uvs_phase_name(s->labels.phase) : "outside phases";

		ids[n] = uvs_profile_frame(p, &(struct uvs_frame){ .kind = UVS_FRAME_PHASE,
								   .name = phase });
		if (ids[n++] < 0)
			return -ENOMEM;
	}
	for (size_t i = loop_start(mode, s); i < s->nframes && n < sizeof(ids) / sizeof(ids[0]);
	     i++) {
		ids[n] = uvs_profile_frame(p, &s->frames[i]);
		if (ids[n++] < 0)
			return -ENOMEM;
	}
	return uvs_profile_add(p, ids, n, &s->labels, 1, s->weight_ns);
}

