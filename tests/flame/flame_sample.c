// SPDX-License-Identifier: MIT
/*
 * Writes a small hand-built profile of a Node server in every flame format, into the
 * directory given: sample.folded, sample.svg, sample.pb.gz. For the browser test of the SVG
 * (tests/integration/flame_svg.test.mjs) and to look at the outputs with no target at all.
 *
 * Ground truth the browser test checks: busyLoop has 600 samples, all of them under
 * "main loop;timers;listOnTimeout"; the profile has 1000.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/profile.h"
#include "render/flame.h"

struct sample_stack {
	uint64_t count;
	enum uvs_sample_state state;
	int phase;
	const char *frames; /* "k:name" separated by '|', root first; k: l p j n k v */
};

static const struct sample_stack stacks[] = {
    {600, UVS_STATE_LOOP_BUSY, UVS_PHASE_TIMERS, "l:main loop|p:timers|j:listOnTimeout|j:busyLoop"},
    {150, UVS_STATE_LOOP_BUSY, UVS_PHASE_POLL_IO,
     "l:main loop|p:poll_io|j:onRequest|j:JSON.stringify|v:Builtin: JsonStringify"},
    {80, UVS_STATE_LOOP_BUSY, UVS_PHASE_POLL_IO,
     "l:main loop|p:poll_io|j:onRequest|n:node::crypto::Hash::HashUpdate|n:SHA256_Update"},
    {40, UVS_STATE_LOOP_BUSY, UVS_PHASE_CHECK, "l:main loop|p:check|j:processImmediate"},
    {100, UVS_STATE_LOOP_IDLE, UVS_PHASE_POLL_WAIT,
     "l:main loop|p:poll_wait|n:uv__io_poll|n:epoll_pwait|k:do_syscall_64|k:do_epoll_pwait"},
    {30, UVS_STATE_CPU, UVS_PHASE_NONE,
     "n:start_thread|n:uv__worker|n:uv__fs_work|n:read|k:do_syscall_64|k:ksys_read"},
};

static enum uvs_frame_kind kind_of(char c)
{
	switch (c) {
	case 'l':
		return UVS_FRAME_LOOP;
	case 'p':
		return UVS_FRAME_PHASE;
	case 'j':
		return UVS_FRAME_JS;
	case 'k':
		return UVS_FRAME_KERNEL;
	case 'v':
		return UVS_FRAME_V8;
	case 'n':
		return UVS_FRAME_NATIVE;
	default:
		return UVS_FRAME_UNKNOWN;
	}
}

static int add_stack(struct uvs_profile *p, const struct sample_stack *s)
{
	char spec[512], *tok, *save;
	int32_t ids[16];
	size_t n = 0;
	struct uvs_sample_labels l = {4242, UVS_ROLE_MAIN, s->state, s->phase};

	snprintf(spec, sizeof(spec), "%s", s->frames);
	for (tok = strtok_r(spec, "|", &save); tok && n < 16; tok = strtok_r(NULL, "|", &save)) {
		struct uvs_frame f = {kind_of(tok[0]), tok + 2, NULL, 0};

		if (f.kind == UVS_FRAME_JS) {
			f.file = "/srv/app/server.js";
			f.line = (uint32_t)(10 + strlen(tok) * 3);
		}
		ids[n] = uvs_profile_frame(p, &f);
		if (ids[n++] < 0)
			return -ENOMEM;
	}
	if (s->state == UVS_STATE_CPU)
		l.role = UVS_ROLE_THREADPOOL, l.tid = 4250;
	return uvs_profile_add(p, ids, n, &l, s->count, s->count * 10101010ull);
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"sample.folded", "sample.svg", "sample.pb.gz"};
	struct uvs_flame_info info = {"uvscope flame: sample profile", 0, 10000000000ll};
	struct uvs_profile *p = uvs_profile_new(10101010);
	char path[4096];
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: flame-sample DIR\n");
		return 2;
	}
	for (i = 0; p && i < sizeof(stacks) / sizeof(stacks[0]); i++)
		if (add_stack(p, &stacks[i]))
			return 1;
	for (i = 0; p && i < sizeof(names) / sizeof(names[0]); i++) {
		FILE *f;
		int err;

		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		f = fopen(path, "w");
		if (!f) {
			fprintf(stderr, "flame-sample: cannot write %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		err = uvs_flame_write(f, uvs_flame_format_from_path(path), p, &info);
		if (fclose(f) || err) {
			fprintf(stderr, "flame-sample: cannot write %s: %s\n", path,
				strerror(err ? -err : errno));
			return 1;
		}
	}
	uvs_profile_free(p);
	return p ? 0 : 1;
}
