/* SPDX-License-Identifier: MIT */
/*
 * Userspace arithmetic on the log-linear histogram of include/uvscope/hist.h: counts,
 * percentiles, and the deltas that turn BPF's cumulative histograms into per-window ones.
 */
#ifndef UVSCOPE_HIST_MATH_H
#define UVSCOPE_HIST_MATH_H

#include <stdint.h>
#include <linux/types.h>

#include "uvscope/hist.h"

/* Number of values recorded (saturates at UINT64_MAX). */
uint64_t uvs_hist_count(const struct uvs_hist *h);

/*
 * The q-th quantile (q in 0..1, clamped) as the midpoint of the bucket that holds it, so it is
 * within 6.25% of the true value (exact below 8 ns). 0 for an empty histogram.
 */
uint64_t uvs_hist_percentile(const struct uvs_hist *h, double q);

/* Same, but never above max_ns when max_ns > 0 (a midpoint can overshoot the known maximum). */
uint64_t uvs_hist_percentile_max(const struct uvs_hist *h, double q, uint64_t max_ns);

/* out = now - before, bucket by bucket, clamped at 0. out may alias now or before. */
void uvs_hist_sub(struct uvs_hist *out, const struct uvs_hist *now, const struct uvs_hist *before);

/* acc += h, bucket by bucket (saturating). */
void uvs_hist_add(struct uvs_hist *acc, const struct uvs_hist *h);

/*
 * The fixed layout of a Prometheus histogram (uvscope serve): one bound per power of two from
 * 2^10 ns (1.024 us) to 2^35 ns (34.4 s), then +Inf. Every power of two is a bucket boundary
 * of the log-linear histogram, so the conversion is exact: below[i] counts the values under
 * 2^(UVS_POW2_FIRST_LOG2 + i) ns, which are the values of whole log-linear buckets.
 */
#define UVS_POW2_FIRST_LOG2 10
#define UVS_POW2_LAST_LOG2 35
#define UVS_POW2_BOUNDS (UVS_POW2_LAST_LOG2 - UVS_POW2_FIRST_LOG2 + 1)

struct uvs_hist_pow2 {
	uint64_t count;                   /* every value (the +Inf bucket) */
	uint64_t sum_ns;                  /* their sum, as the caller measured it */
	uint64_t below[UVS_POW2_BOUNDS];  /* cumulative: values < 2^(FIRST + i) ns */
};

/* The upper bound of below[i], in ns. */
static inline uint64_t uvs_pow2_bound_ns(unsigned int i)
{
	return 1ULL << (UVS_POW2_FIRST_LOG2 + i);
}

/* Converts h into the fixed power-of-two layout; sum_ns is the sum of its values. */
void uvs_hist_to_pow2(const struct uvs_hist *h, uint64_t sum_ns, struct uvs_hist_pow2 *out);

#endif /* UVSCOPE_HIST_MATH_H */
