// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>

#include "flame_fixture.h"

static int32_t frame(struct uvs_profile *p, enum uvs_frame_kind kind, const char *name,
		     const char *file, uint32_t line)
{
	struct uvs_frame f = {kind, name, file, line};
	int32_t id = uvs_profile_frame(p, &f);

	cr_assert_geq(id, 0);
	return id;
}

static void add(struct uvs_profile *p, const int32_t *frames, size_t n, int tid, enum uvs_role role,
		enum uvs_sample_state state, int phase, uint64_t count)
{
	struct uvs_sample_labels l = {tid, role, state, phase};

	cr_assert_eq(uvs_profile_add(p, frames, n, &l, count, count * FIXTURE_PERIOD_NS), 0);
}

#define ADD(p, tid, role, state, phase, count, ...)                                                \
	do {                                                                                       \
		const int32_t _f[] = {__VA_ARGS__};                                                \
		add(p, _f, sizeof(_f) / sizeof(_f[0]), tid, role, state, phase, count);            \
	} while (0)

struct uvs_profile *flame_fixture_profile(void)
{
	struct uvs_profile *p = uvs_profile_new(FIXTURE_PERIOD_NS);
	int32_t loop, timers, poll_io, handle, busy, tiny, anon, hostile, foreach, start, uv_run,
	    syscall, epoll, memcpy_libc, memcpy_node, unknown, js_unknown;

	cr_assert_not_null(p);
	loop = frame(p, UVS_FRAME_LOOP, "main loop", NULL, 0);
	timers = frame(p, UVS_FRAME_PHASE, "timers", NULL, 0);
	poll_io = frame(p, UVS_FRAME_PHASE, "poll_io", NULL, 0);
	handle = frame(p, UVS_FRAME_JS, "handleRequest", "/app/server.js", 40);
	busy = frame(p, UVS_FRAME_JS, "busyLoop", "/app/server.js", 12);
	tiny = frame(p, UVS_FRAME_JS, "tinyFn", "/app/server.js", 90);
	anon = frame(p, UVS_FRAME_JS, "(anonymous)", "/app/lib/a;b.js", 3);
	hostile = frame(p, UVS_FRAME_JS, FIXTURE_HOSTILE_NAME, "/app/lib/hostile.js", 7);
	foreach
		= frame(p, UVS_FRAME_V8, "Builtin: ArrayForEach", NULL, 0);
	start = frame(p, UVS_FRAME_NATIVE, "node::Start(int, char**)", "/usr/bin/node", 0);
	uv_run = frame(p, UVS_FRAME_NATIVE, "uv_run", "/usr/bin/node", 0);
	syscall = frame(p, UVS_FRAME_KERNEL, "do_syscall_64", NULL, 0);
	epoll = frame(p, UVS_FRAME_KERNEL, "__x64_sys_epoll_wait", NULL, 0);
	memcpy_libc =
	    frame(p, UVS_FRAME_NATIVE, "memcpy", "/usr/lib/x86_64-linux-gnu/libc.so.6", 0);
	memcpy_node = frame(p, UVS_FRAME_NATIVE, "memcpy", "/usr/bin/node", 0);
	unknown = frame(p, UVS_FRAME_UNKNOWN, "[unknown]", NULL, 0);
	js_unknown = frame(p, UVS_FRAME_UNKNOWN, "[JS: unknown]", NULL, 0);

	ADD(p, 100, UVS_ROLE_MAIN, UVS_STATE_LOOP_BUSY, UVS_PHASE_TIMERS, 50, loop, timers, handle,
	    busy);
	ADD(p, 101, UVS_ROLE_WORKER, UVS_STATE_LOOP_BUSY, UVS_PHASE_TIMERS, 7, loop, timers, handle,
	    busy);
	ADD(p, 100, UVS_ROLE_MAIN, UVS_STATE_LOOP_BUSY, UVS_PHASE_TIMERS, 1, loop, timers, handle,
	    tiny);
	ADD(p, 100, UVS_ROLE_MAIN, UVS_STATE_LOOP_BUSY, UVS_PHASE_POLL_IO, 5, loop, poll_io, handle,
	    hostile, foreach);
	ADD(p, 100, UVS_ROLE_MAIN, UVS_STATE_LOOP_BUSY, UVS_PHASE_TIMERS, 2, loop, timers, anon);
	ADD(p, 100, UVS_ROLE_MAIN, UVS_STATE_LOOP_IDLE, UVS_PHASE_POLL_WAIT, 20000, start, uv_run,
	    syscall, epoll);
	ADD(p, 102, UVS_ROLE_THREADPOOL, UVS_STATE_CPU, UVS_PHASE_NONE, 3, start, uv_run,
	    memcpy_libc);
	ADD(p, 102, UVS_ROLE_THREADPOOL, UVS_STATE_CPU, UVS_PHASE_NONE, 4, start, uv_run,
	    memcpy_node);
	ADD(p, 103, UVS_ROLE_OTHER, UVS_STATE_OFF_CPU, UVS_PHASE_NONE, 1, unknown, js_unknown);
	/* The same stack and labels again: counted into the first entry, not a new one. */
	ADD(p, 100, UVS_ROLE_MAIN, UVS_STATE_LOOP_IDLE, UVS_PHASE_POLL_WAIT, 20, start, uv_run,
	    syscall, epoll);
	/* A stack that ends where another goes on: its own line and its own box. */
	ADD(p, 100, UVS_ROLE_MAIN, UVS_STATE_LOOP_BUSY, UVS_PHASE_TIMERS, 3, loop, timers);
	return p;
}

char *flame_render(enum uvs_flame_format fmt, const struct uvs_profile *p,
		   const struct uvs_flame_info *info, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	cr_assert_not_null(f);
	cr_assert_eq(uvs_flame_write(f, fmt, p, info), 0);
	cr_assert_eq(fclose(f), 0);
	if (len)
		*len = n;
	return buf;
}

char *flame_slurp(FILE *f)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	int c;

	cr_assert_not_null(m);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	cr_assert_eq(fclose(m), 0);
	return buf;
}
