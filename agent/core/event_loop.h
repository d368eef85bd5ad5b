/* SPDX-License-Identifier: MIT */
/*
 * The agent's own event loop: single-threaded and non-blocking, like the runtime it watches.
 * One epoll set over file descriptors (a collector's events, timers, signals, the target's
 * pidfd, the keyboard), each with a callback.
 */
#ifndef UVSCOPE_EVENT_LOOP_H
#define UVSCOPE_EVENT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UVS_MAX_SOURCES 16

typedef void (*uvs_source_fn)(void *ctx);

struct uvs_event_source {
	int fd;
	bool owned;  /* the loop closes it */
	bool timer;  /* a timerfd: the loop reads its expirations before the callback */
	uvs_source_fn fn;
	void *ctx;
};

struct uvs_event_loop {
	int epfd;
	bool stop;
	size_t n;
	struct uvs_event_source src[UVS_MAX_SOURCES];
};

/* Returns 0 or -errno. */
int uvs_event_loop_init(struct uvs_event_loop *el);

/* Calls fn(ctx) whenever fd is readable. `owned`: the loop closes fd when it is freed. */
int uvs_event_loop_add(struct uvs_event_loop *el, int fd, bool owned, uvs_source_fn fn, void *ctx);

/* Calls fn(ctx) after first_ns, then every period_ns (0: once). Returns 0 or -errno. */
int uvs_event_loop_add_timer(struct uvs_event_loop *el, uint64_t first_ns, uint64_t period_ns,
			     uvs_source_fn fn, void *ctx);

/*
 * A timer its owner arms when it knows the deadline (an HTTP server's next connection timeout):
 * calls fn(ctx) once each time it expires. Returns its id (>= 0) for uvs_event_loop_arm, or
 * -errno. It starts disarmed.
 */
int uvs_event_loop_add_deadline(struct uvs_event_loop *el, uvs_source_fn fn, void *ctx);

/* Arms deadline `id` to fire after ns (0: at the next wait); UINT64_MAX disarms it. 0 or -errno. */
int uvs_event_loop_arm(struct uvs_event_loop *el, int id, uint64_t ns);

/* Runs until a callback sets el->stop. Returns 0, or -errno if waiting fails. */
int uvs_event_loop_run(struct uvs_event_loop *el);

/* Closes the epoll set and the fds the loop owns; safe on a zeroed or failed loop. */
void uvs_event_loop_free(struct uvs_event_loop *el);

#endif
