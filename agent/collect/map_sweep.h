/* SPDX-License-Identifier: MIT */
/*
 * Clearing one process out of a hash map that every watched process shares (keys that carry
 * the process, collect/bpf_shared.h): when the agent stops watching a process, what its
 * programs left there (jobs in flight, threads, names) goes, so it neither fills the map for
 * the others nor meets a later process that gets the same id.
 */
#ifndef UVSCOPE_MAP_SWEEP_H
#define UVSCOPE_MAP_SWEEP_H

#include <stddef.h>

#include <linux/types.h>

struct bpf_map;

/*
 * Deletes every entry of m whose key holds tgid as a __u32 at tgid_off bytes into the key.
 * Returns how many were deleted, or -errno (-EINVAL: a key too big or an offset out of it).
 */
int uvs_map_drop_process(const struct bpf_map *m, size_t tgid_off, __u32 tgid);

#endif
