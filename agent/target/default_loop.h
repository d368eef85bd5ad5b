/* SPDX-License-Identifier: MIT */
/*
 * libuv's default loop in the target: the loop Node's main thread runs. Its identity (its
 * epoll fd and its internal-fields pointer) lets the loop probes recognise the main loop's waits
 * from the first one they see: when uvscope attaches while the main thread is inside another
 * loop of its own (execSync and spawnSync run one on the same thread until the child exits), the
 * first wait it sees is that loop's, and without this it would take it for the main loop.
 */
#ifndef UVSCOPE_DEFAULT_LOOP_H
#define UVSCOPE_DEFAULT_LOOP_H

#include <stdint.h>

#include "target/process.h"

struct uvs_default_loop {
	int epfd;                 /* its epoll fd (uv_loop_t.backend_fd) */
	uint64_t internal_fields; /* uv_loop_t.internal_fields: what the one-hook mode reads */
	uint64_t addr;            /* the uv_loop_t itself (runtime address) */
};

/*
 * Reads the default loop of t from its memory: libuv's static `default_loop_struct`, once
 * `default_loop_ptr` says it is initialised, with the epoll fd checked to be an epoll instance
 * of the target. 0, or -ENOENT (no such symbols: a stripped build), -ENODATA (not initialised,
 * or what was read does not look like a loop), or the read's -errno.
 */
int uvs_default_loop_read(const struct uvs_target *t, struct uvs_default_loop *out);

#endif
