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

#endif /* UVSCOPE_HIST_MATH_H */
