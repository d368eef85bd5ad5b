/* SPDX-License-Identifier: MIT */
/*
 * The one log-linear histogram used by BPF and userspace.
 *
 * Values (nanoseconds) below 8 get a bucket each. Above that every power of two is split into
 * UVS_HIST_SUB (8) equal sub-buckets, so a bucket's width is at most 1/8 of its lower bound:
 * reporting a bucket's midpoint is off by at most 6.25%, its lower bound by at most 12.5%.
 * The top bucket (2^42 ns, about 73 minutes, and above) is open-ended.
 *
 * This header is included by the BPF programs, so it uses only __u64/__u32 and no loops.
 */
#ifndef UVSCOPE_HIST_H
#define UVSCOPE_HIST_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define UVS_HIST_SUB_BITS 3
#define UVS_HIST_SUB (1u << UVS_HIST_SUB_BITS)
#define UVS_HIST_MAX_LOG2 42
#define UVS_HIST_BUCKETS ((UVS_HIST_MAX_LOG2 - UVS_HIST_SUB_BITS + 2) * UVS_HIST_SUB)

struct uvs_hist {
	__u64 buckets[UVS_HIST_BUCKETS];
};

/* floor(log2(v)) for v > 0, branchy so the BPF verifier sees no loop. */
static __always_inline __u32 uvs_log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

/* Bucket index of a value; always < UVS_HIST_BUCKETS. */
static __always_inline __u32 uvs_hist_bucket(__u64 v)
{
	__u32 k, idx;

	if (v < UVS_HIST_SUB)
		return (__u32)v;
	k = uvs_log2_u64(v);
	if (k > UVS_HIST_MAX_LOG2)
		return UVS_HIST_BUCKETS - 1;
	idx = (k - UVS_HIST_SUB_BITS + 1) * UVS_HIST_SUB +
	      (__u32)((v >> (k - UVS_HIST_SUB_BITS)) & (UVS_HIST_SUB - 1));
	return idx < UVS_HIST_BUCKETS ? idx : UVS_HIST_BUCKETS - 1;
}

/* Smallest value that lands in bucket idx. */
static __always_inline __u64 uvs_hist_bucket_low(__u32 idx)
{
	__u32 k, sub;

	if (idx < UVS_HIST_SUB)
		return idx;
	k = idx / UVS_HIST_SUB + UVS_HIST_SUB_BITS - 1;
	sub = idx % UVS_HIST_SUB;
	return ((__u64)(UVS_HIST_SUB + sub)) << (k - UVS_HIST_SUB_BITS);
}

/* One past the largest value that lands in bucket idx (the top bucket reports its low * 2). */
static __always_inline __u64 uvs_hist_bucket_high(__u32 idx)
{
	if (idx < UVS_HIST_SUB)
		return idx + 1;
	if (idx >= UVS_HIST_BUCKETS - 1)
		return uvs_hist_bucket_low(idx) * 2;
	return uvs_hist_bucket_low(idx + 1);
}

/* Records v. For a histogram only one thread writes (per-thread map entries). */
static __always_inline void uvs_hist_record(struct uvs_hist *h, __u64 v)
{
	__u32 i = uvs_hist_bucket(v);

	if (i < UVS_HIST_BUCKETS)
		h->buckets[i]++;
}

/* Records v in a histogram that several threads write at once (process-wide map entries). */
static __always_inline void uvs_hist_record_atomic(struct uvs_hist *h, __u64 v)
{
	__u32 i = uvs_hist_bucket(v);

	if (i < UVS_HIST_BUCKETS)
		__sync_fetch_and_add(&h->buckets[i], 1);
}

#endif /* UVSCOPE_HIST_H */
