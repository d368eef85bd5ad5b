// SPDX-License-Identifier: MIT
/*
 * Histogram arithmetic for the agent. The bucket layout lives in include/uvscope/hist.h and is
 * shared with BPF; nothing here may assume more about it than its low/high functions say.
 */
#include <math.h>

#include "util/hist_math.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t uvs_hist_count(const struct uvs_hist *h)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < UVS_HIST_BUCKETS; i++)
		n = sat_add(n, h->buckets[i]);
	return n;
}

/* 1-based rank of the q-th value among n, using the nearest-rank definition. */
static uint64_t rank_of(double q, uint64_t n)
{
	double r;

	if (!(q > 0)) /* also NaN */
		return 1;
	if (q >= 1)
		return n;
	r = ceil(q * (double)n);
	if (r < 1)
		return 1;
	if (r >= (double)n)
		return n;
	return (uint64_t)r;
}

static uint64_t bucket_mid(unsigned int idx)
{
	uint64_t low = uvs_hist_bucket_low(idx);

	return low + (uvs_hist_bucket_high(idx) - low) / 2;
}

uint64_t uvs_hist_percentile(const struct uvs_hist *h, double q)
{
	uint64_t n = uvs_hist_count(h), rank, seen = 0;
	unsigned int i;

	if (!n)
		return 0;
	rank = rank_of(q, n);
	for (i = 0; i < UVS_HIST_BUCKETS; i++) {
		seen = sat_add(seen, h->buckets[i]);
		if (seen >= rank)
			return bucket_mid(i);
	}
	return bucket_mid(UVS_HIST_BUCKETS - 1); /* unreachable: seen ends at n >= rank */
}

uint64_t uvs_hist_percentile_max(const struct uvs_hist *h, double q, uint64_t max_ns)
{
	uint64_t v = uvs_hist_percentile(h, q);

	return max_ns && v > max_ns ? max_ns : v;
}

void uvs_hist_sub(struct uvs_hist *out, const struct uvs_hist *now, const struct uvs_hist *before)
{
	unsigned int i;

	/*
	 * A bucket can go backwards when BPF's per-thread entry was deleted and recreated between
	 * two reads; a negative count means nothing, so report none.
	 */
	for (i = 0; i < UVS_HIST_BUCKETS; i++) {
		uint64_t a = now->buckets[i], b = before->buckets[i];

		out->buckets[i] = a > b ? a - b : 0;
	}
}

void uvs_hist_add(struct uvs_hist *acc, const struct uvs_hist *h)
{
	unsigned int i;

	for (i = 0; i < UVS_HIST_BUCKETS; i++)
		acc->buckets[i] = sat_add(acc->buckets[i], h->buckets[i]);
}

void uvs_hist_to_pow2(const struct uvs_hist *h, uint64_t sum_ns, struct uvs_hist_pow2 *out)
{
	uint64_t seen = 0;
	unsigned int b = 0, i;

	/*
	 * Buckets in ascending order: before adding bucket i, every bound at or below its low
	 * value has seen all the values under it (a bound never falls inside a bucket: the
	 * _Static_assert below and the unit test hold the layout to that).
	 */
	for (i = 0; i < UVS_HIST_BUCKETS; i++) {
		uint64_t low = uvs_hist_bucket_low(i);

		while (b < UVS_POW2_BOUNDS && uvs_pow2_bound_ns(b) <= low)
			out->below[b++] = seen;
		seen = sat_add(seen, h->buckets[i]);
	}
	while (b < UVS_POW2_BOUNDS)
		out->below[b++] = seen;
	out->count = seen;
	out->sum_ns = sum_ns;
}

/* The bounds are powers of two inside the exact range of the log-linear layout. */
_Static_assert(UVS_POW2_FIRST_LOG2 >= UVS_HIST_SUB_BITS && UVS_POW2_LAST_LOG2 <= UVS_HIST_MAX_LOG2,
	       "power-of-two bounds must be log-linear bucket boundaries");
