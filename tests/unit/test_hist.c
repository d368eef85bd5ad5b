// SPDX-License-Identifier: MIT
/* The shared histogram layout (include/uvscope/hist.h) and the agent's arithmetic on it. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util/hist_math.h"

#define USEC 1000ull

Test(hist_layout, boundary_values)
{
	/* Below 8 one bucket per value; then 8 sub-buckets per power of two. */
	cr_expect_eq(uvs_hist_bucket(0), 0);
	cr_expect_eq(uvs_hist_bucket(7), 7);
	cr_expect_eq(uvs_hist_bucket(8), 8);
	cr_expect_eq(uvs_hist_bucket(15), 15);
	cr_expect_eq(uvs_hist_bucket(16), 16);
	cr_expect_eq(uvs_hist_bucket(17), 16);
	cr_expect_eq(uvs_hist_bucket(18), 17);
	cr_expect_eq(uvs_hist_bucket(31), 23);
	cr_expect_eq(uvs_hist_bucket(32), 24);
	/* 2^42 starts the last power of two: (42 - 3 + 1) * 8 */
	cr_expect_eq(uvs_hist_bucket(1ull << 42), 320);
	cr_expect_eq(uvs_hist_bucket((1ull << 43) - 1), UVS_HIST_BUCKETS - 1);
	cr_expect_eq(uvs_hist_bucket(1ull << 43), UVS_HIST_BUCKETS - 1);
	cr_expect_eq(uvs_hist_bucket(UINT64_MAX), UVS_HIST_BUCKETS - 1);
	cr_expect_eq(UVS_HIST_BUCKETS, 328);
}

Test(hist_layout, low_high_monotone)
{
	uint32_t i;

	cr_expect_eq(uvs_hist_bucket_low(0), 0);
	for (i = 0; i < UVS_HIST_BUCKETS; i++) {
		cr_assert_lt(uvs_hist_bucket_low(i), uvs_hist_bucket_high(i), "bucket %u", i);
		cr_assert_eq(uvs_hist_bucket(uvs_hist_bucket_low(i)), i, "bucket %u", i);
		if (i + 1 < UVS_HIST_BUCKETS)
			cr_assert_eq(uvs_hist_bucket_high(i), uvs_hist_bucket_low(i + 1),
				     "bucket %u", i);
	}
}

Test(hist_layout, values_land_inside_their_bucket)
{
	uint64_t v, step = 1;

	/* Every value up to 2^16, then a dense sweep with a growing step up to 2^43. */
	for (v = 0; v < (1u << 16); v++) {
		uint32_t b = uvs_hist_bucket(v);

		cr_assert(uvs_hist_bucket_low(b) <= v && v < uvs_hist_bucket_high(b), "v=%llu",
			  (unsigned long long)v);
	}
	for (; v < (1ull << 43); v += step) {
		uint32_t b = uvs_hist_bucket(v);

		cr_assert(uvs_hist_bucket_low(b) <= v && v < uvs_hist_bucket_high(b), "v=%llu",
			  (unsigned long long)v);
		cr_assert(uvs_hist_bucket_low(b) <= v - 1 || uvs_hist_bucket(v - 1) == b - 1);
		step = v / 1021 + 1; /* odd step so sub-bucket edges get hit from both sides */
	}
	/* Past 2^43 the top bucket is open-ended: it only promises its low bound. */
	cr_expect_leq(uvs_hist_bucket_low(UVS_HIST_BUCKETS - 1), UINT64_MAX);
	cr_expect_leq(uvs_hist_bucket_low(uvs_hist_bucket(1ull << 50)), 1ull << 50);
}

Test(hist_layout, relative_width_at_most_one_eighth)
{
	uint32_t i;

	for (i = 0; i < UVS_HIST_SUB; i++)
		cr_expect_eq(uvs_hist_bucket_high(i) - uvs_hist_bucket_low(i), 1);
	for (i = UVS_HIST_SUB; i < UVS_HIST_BUCKETS; i++) {
		uint64_t low = uvs_hist_bucket_low(i), width = uvs_hist_bucket_high(i) - low;

		if (i == UVS_HIST_BUCKETS - 1)
			break; /* open-ended */
		cr_assert_leq(width * 8, low, "bucket %u: [%llu, +%llu)", i,
			      (unsigned long long)low, (unsigned long long)width);
	}
}

static struct uvs_hist *hist_new(void)
{
	static struct uvs_hist h;

	memset(&h, 0, sizeof(h));
	return &h;
}

static void record(struct uvs_hist *h, uint64_t v)
{
	h->buckets[uvs_hist_bucket(v)]++;
}

static void expect_near(uint64_t got, uint64_t want, double tolerance)
{
	double err = ((double)got - (double)want) / (double)want;

	cr_expect(err <= tolerance && err >= -tolerance, "got %llu, want %llu +- %.2f%%",
		  (unsigned long long)got, (unsigned long long)want, tolerance * 100);
}

Test(hist_math, percentiles_of_uniform)
{
	struct uvs_hist *h = hist_new();
	uint64_t i;

	for (i = 1; i <= 1000; i++)
		record(h, i * USEC);
	cr_expect_eq(uvs_hist_count(h), 1000);
	expect_near(uvs_hist_percentile(h, 0.50), 500 * USEC, 0.0625);
	expect_near(uvs_hist_percentile(h, 0.99), 990 * USEC, 0.0625);
	expect_near(uvs_hist_percentile(h, 0.90), 900 * USEC, 0.0625);
	expect_near(uvs_hist_percentile(h, 0), 1 * USEC, 0.0625);
	expect_near(uvs_hist_percentile(h, 1), 1000 * USEC, 0.0625);
	/* q outside 0..1 is clamped */
	cr_expect_eq(uvs_hist_percentile(h, -3), uvs_hist_percentile(h, 0));
	cr_expect_eq(uvs_hist_percentile(h, 7), uvs_hist_percentile(h, 1));
}

Test(hist_math, small_values_are_exact)
{
	struct uvs_hist *h = hist_new();

	record(h, 3);
	record(h, 5);
	cr_expect_eq(uvs_hist_percentile(h, 0.5), 3);
	cr_expect_eq(uvs_hist_percentile(h, 0.99), 5);
}

Test(hist_math, nearest_rank)
{
	struct uvs_hist *h = hist_new();
	int i;

	/* 99 fast values and one slow: p99 is still fast, p99.5 is the slow one. */
	for (i = 0; i < 99; i++)
		record(h, 2);
	record(h, 6);
	cr_expect_eq(uvs_hist_percentile(h, 0.99), 2);
	cr_expect_eq(uvs_hist_percentile(h, 0.995), 6);
}

Test(hist_math, clamped_to_max)
{
	struct uvs_hist *h = hist_new();

	record(h, 1000 * USEC); /* bucket [983040, 1048576), midpoint 1015808 */
	cr_expect_eq(uvs_hist_percentile(h, 0.5), 1015808);
	cr_expect_eq(uvs_hist_percentile_max(h, 0.5, 1000 * USEC), 1000 * USEC);
	cr_expect_eq(uvs_hist_percentile_max(h, 0.5, 0), 1015808);
	cr_expect_eq(uvs_hist_percentile_max(h, 0.5, 2000 * USEC), 1015808);
}

Test(hist_math, top_bucket)
{
	struct uvs_hist *h = hist_new();
	uint64_t p;

	record(h, UINT64_MAX);
	p = uvs_hist_percentile(h, 0.5);
	cr_expect_geq(p, uvs_hist_bucket_low(UVS_HIST_BUCKETS - 1));
	cr_expect_lt(p, uvs_hist_bucket_high(UVS_HIST_BUCKETS - 1));
	cr_expect_eq(uvs_hist_percentile_max(h, 0.5, 5000000000000ull), 5000000000000ull);
}

Test(hist_math, empty)
{
	struct uvs_hist *h = hist_new();

	cr_expect_eq(uvs_hist_count(h), 0);
	cr_expect_eq(uvs_hist_percentile(h, 0.5), 0);
	cr_expect_eq(uvs_hist_percentile(h, 0.99), 0);
	cr_expect_eq(uvs_hist_percentile_max(h, 0.99, 123), 0);
}

Test(hist_math, sub_and_add)
{
	static struct uvs_hist before, now, delta, acc;
	uint32_t i;

	for (i = 0; i < UVS_HIST_BUCKETS; i++) {
		before.buckets[i] = i;
		now.buckets[i] = 2 * i;
	}
	now.buckets[5] = 1; /* went backwards: a recreated map entry */
	uvs_hist_sub(&delta, &now, &before);
	for (i = 0; i < UVS_HIST_BUCKETS; i++)
		cr_assert_eq(delta.buckets[i], i == 5 ? 0 : i, "bucket %u", i);

	memset(&acc, 0, sizeof(acc));
	uvs_hist_add(&acc, &delta);
	uvs_hist_add(&acc, &delta);
	for (i = 0; i < UVS_HIST_BUCKETS; i++)
		cr_assert_eq(acc.buckets[i], i == 5 ? 0 : 2 * i, "bucket %u", i);

	/* in place: now -= before */
	uvs_hist_sub(&now, &now, &before);
	cr_expect_eq(memcmp(&now, &delta, sizeof(now)), 0);

	/* counts saturate instead of wrapping */
	acc.buckets[0] = UINT64_MAX - 1;
	delta.buckets[0] = 5;
	uvs_hist_add(&acc, &delta);
	cr_expect_eq(acc.buckets[0], UINT64_MAX);
	cr_expect_eq(uvs_hist_count(&acc), UINT64_MAX);
}
