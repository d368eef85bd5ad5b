/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which process a program runs in (include/uvscope/targets.h). Every object declares these
 * two maps; the agent creates them with the first object it loads and hands them to the
 * others (bpf_map__reuse_fd, agent/collect/bpf_shared.c), so there is one of each.
 */
#ifndef UVSCOPE_TARGETS_BPF_H
#define UVSCOPE_TARGETS_BPF_H

#include "uvscope/targets.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct uvs_target_cfg);
} targets SEC(".maps");

/* One value; the verifier turns an array lookup into a pointer sum, no helper call. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct uvs_target_bits);
} target_bits SEC(".maps");

/* The configuration of process tgid when the agent watches it, else NULL. */
static __always_inline const struct uvs_target_cfg *uvs_target_of(__u32 tgid)
{
	__u32 zero = 0;
	struct uvs_target_bits *b = bpf_map_lookup_elem(&target_bits, &zero);

	if (!b || !(b->w[(tgid / 64) % UVS_TARGET_BIT_WORDS] & (1ULL << (tgid % 64))))
		return NULL;
	return bpf_map_lookup_elem(&targets, &tgid);
}

/* The configuration of the process running now, when watched. */
static __always_inline const struct uvs_target_cfg *uvs_current_target(void)
{
	return uvs_target_of((__u32)(bpf_get_current_pid_tgid() >> 32));
}

/* A slot the verifier accepts as an index below UVS_MAX_TARGETS. */
static __always_inline __u32 uvs_slot(const struct uvs_target_cfg *t)
{
	return t->slot % UVS_MAX_TARGETS;
}

#endif
