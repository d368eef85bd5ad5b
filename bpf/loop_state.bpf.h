/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What bpf/loop.bpf.c and bpf/syscalls.bpf.c share: the epoll wait syscalls and the map of
 * loop threads. Both objects declare loop_state; the agent loads the loop object first and
 * hands its map to the other (bpf_map__reuse_fd), so there is one map.
 */
#ifndef UVSCOPE_LOOP_STATE_BPF_H
#define UVSCOPE_LOOP_STATE_BPF_H

#include "uvscope/loop.h"

#define NR_EPOLL_WAIT 232
#define NR_EPOLL_PWAIT 281
#define NR_EPOLL_PWAIT2 441

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UVS_MAX_LOOP_THREADS);
	__type(key, __u32);
	__type(value, struct uvs_loop_state);
} loop_state SEC(".maps");

static __always_inline bool is_epoll_wait(long nr)
{
	return nr == NR_EPOLL_WAIT || nr == NR_EPOLL_PWAIT || nr == NR_EPOLL_PWAIT2;
}

#endif
