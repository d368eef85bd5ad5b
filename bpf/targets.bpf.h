/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which process a program runs in (include/uvscope/targets.h). Every object declares these
 * two maps (the index and the hash behind it); the agent creates them with the first object it loads and hands them to the
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

/* The verifier turns an array lookup into a pointer sum, no helper call. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UVS_TARGET_INDEX);
	__type(key, __u32);
	__type(value, struct uvs_target_entry);
} target_index SEC(".maps");

/* The configuration of process tgid when the agent watches it, else NULL. */
static __always_inline const struct uvs_target_cfg *uvs_target_of(__u32 tgid)
{
	__u32 key = tgid % UVS_TARGET_INDEX;
	struct uvs_target_entry *e = bpf_map_lookup_elem(&target_index, &key);

	/* tgid 0 is the idle task (a per-CPU event on an idle CPU, a softirq there): an empty
	 * entry's tgid is 0 too, and must not match it. */
	if (!e || !tgid)
		return NULL;
	if (e->tgid == tgid)
		return &e->cfg;
	return e->more ? bpf_map_lookup_elem(&targets, &tgid) : NULL;
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
