/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The thread pool's jobs in flight (struct uvs_pool_job of uvscope/pool.h): an array searched
 * from each job's home, in place of a hash map. A hash insert at submit and a lookup and delete
 * at the end of service cost an allocation, a bucket lock and a 16-byte key's hash each; here
 * each step is an array lookup (a pointer sum the verifier inlines), a compare and one atomic.
 *
 * Ordering: the submit fills an entry while its owner word says FILLING and stores the owner
 * last; every later probe of that job runs after the submit returned (the job is queued after
 * its submit probe), and the agent's sweep reads the owner before the rest. x86-64 keeps
 * stores in order and loads in order (the JIT emits plain moves; the asm barrier below keeps
 * the compiler from moving them), so whoever sees the owner sees what was filled before it.
 */
#ifndef UVSCOPE_POOL_JOBS_BPF_H
#define UVSCOPE_POOL_JOBS_BPF_H

#include "uvscope/pool.h"
#include "uvscope/targets.h"

_Static_assert(UVS_MAX_TARGETS < (1u << (63 - UVS_POOL_JOB_W_BITS)),
	       "a slot + 1 must fit between the address and UVS_POOL_JOB_FILLING");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, UVS_POOL_MAX_JOBS);
	__type(key, __u32);
	__type(value, struct uvs_pool_job);
} jobs SEC(".maps");

static __always_inline struct uvs_pool_job *job_at(__u32 home, __u32 i)
{
	__u32 k = (home + i) & (UVS_POOL_MAX_JOBS - 1);

	return bpf_map_lookup_elem(&jobs, &k);
}

/* The entry job `owner` holds, or NULL (never submitted while watched, or given back). */
static __always_inline struct uvs_pool_job *job_find(__u64 owner)
{
	__u32 home = uvs_pool_job_home(owner), i;
	struct uvs_pool_job *j;

	if (!owner)
		return NULL;
#pragma unroll
	for (i = 0; i < UVS_POOL_JOB_PROBES; i++) {
		j = job_at(home, i);
		if (j && j->owner == owner)
			return j;
	}
	return NULL;
}

/*
 * An entry for a job just submitted, filled and published; NULL when none of its entries is
 * free (the caller counts the job as lost) or its address cannot be named. An entry the same
 * job (process and uv__work) still holds is one whose end was never seen, its request since
 * freed and reused: it is taken over, as the hash map's update did.
 */
static __always_inline struct uvs_pool_job *job_claim(__u64 owner, __u64 submit_ns, __u32 kind,
						      __u32 fs_type)
{
	__u32 home = uvs_pool_job_home(owner), i, first_free = UVS_POOL_JOB_PROBES;
	struct uvs_pool_job *j = NULL, *taken = NULL;
	__u64 seen;

	if (!owner)
		return NULL;
#pragma unroll
	for (i = 0; i < UVS_POOL_JOB_PROBES; i++) {
		j = job_at(home, i);
		if (!j)
			continue;
		seen = j->owner;
		if (seen == owner) {
			if (__sync_val_compare_and_swap(&j->owner, owner,
							owner | UVS_POOL_JOB_FILLING) == owner)
				taken = j;
			break;
		}
		if (!seen && first_free == UVS_POOL_JOB_PROBES)
			first_free = i;
	}
	if (!taken) {
#pragma unroll
		for (i = 0; i < UVS_POOL_JOB_PROBES; i++) {
			if (i < first_free)
				continue;
			j = job_at(home, i);
			if (j && !j->owner &&
			    __sync_val_compare_and_swap(&j->owner, 0,
							owner | UVS_POOL_JOB_FILLING) == 0) {
				taken = j;
				break;
			}
		}
	}
	if (!taken)
		return NULL;
	taken->submit_ns = submit_ns;
	taken->start_ns = 0;
	taken->end_ns = 0;
	taken->kind = kind;
	taken->fs_type = fs_type;
	asm volatile("" ::: "memory");
	taken->owner = owner;
	return taken;
}

/* Gives job `owner`'s entry back; false when someone else did first (it accounts for the job). */
static __always_inline bool job_release(struct uvs_pool_job *j, __u64 owner)
{
	return __sync_val_compare_and_swap(&j->owner, owner, 0) == owner;
}

#endif
