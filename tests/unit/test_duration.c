// SPDX-License-Identifier: MIT
/* Parsing of durations and integers, and the short duration/percent formats. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "util/duration.h"

static void expect_duration(const char *s, uint64_t want)
{
	uint64_t ns = 12345;
	int err = uvs_parse_duration(s, &ns);

	cr_expect_eq(err, 0, "\"%s\": error %d", s, err);
	cr_expect_eq(ns, want, "\"%s\": got %llu, want %llu", s, (unsigned long long)ns,
		     (unsigned long long)want);
}

static void expect_duration_err(const char *s, int want)
{
	uint64_t ns = 12345;
	int err = uvs_parse_duration(s, &ns);

	cr_expect_eq(err, want, "\"%s\": got %d, want %d", s, err, want);
	cr_expect_eq(ns, 12345, "\"%s\": output written on error", s);
}

Test(duration, units)
{
	expect_duration("500ms", 500000000ull);
	expect_duration("10s", 10000000000ull);
	expect_duration("2m", 120000000000ull);
	expect_duration("1h", 3600000000000ull);
	expect_duration("250us", 250000ull);
	expect_duration("250\xc2\xb5s", 250000ull);
	expect_duration("100ns", 100ull);
	expect_duration("0", 0);
	expect_duration("0ms", 0);
	expect_duration("007s", 7000000000ull);
}

Test(duration, bare_number_is_seconds)
{
	expect_duration("5", 5000000000ull);
	expect_duration("1.5", 1500000000ull);
}

Test(duration, decimals)
{
	expect_duration("1.5s", 1500000000ull);
	expect_duration("0.25ms", 250000ull);
	expect_duration("1.5m", 90000000000ull);
	expect_duration("0.001s", 1000000ull);
	expect_duration("2.5us", 2500ull);
	/* below a nanosecond is dropped, extra digits still have to be digits */
	expect_duration("1.9ns", 1ull);
	expect_duration("1.0000000001s", 1000000000ull);
	expect_duration("0.123456789123s", 123456789ull);
}

Test(duration, limits)
{
	expect_duration("18446744073709551615ns", UINT64_MAX);
	expect_duration_err("18446744073709551616ns", -ERANGE);
	expect_duration_err("18446744073709551616", -ERANGE);
	expect_duration_err("5124096h", -ERANGE);
	expect_duration_err("99999999999999999999999999999999999999999s", -ERANGE);
	expect_duration("5124095h", 5124095ull * 3600000000000ull);
}

Test(duration, rejects_junk)
{
	static const char *const bad[] = {
		"", "-1s", "-1", "+1s", " 1s", "1s ", "1 s", "10x", "abc", "s", "ms", "1e999",
		"1e3s", "1.s", ".5s", "1..5s", "1.5.s", "1sec", "1S", "0x10s", "1,5s", "nan",
		"inf", "1ms1", "99999999999999999999999x",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_duration_err(bad[i], -EINVAL);
	expect_duration_err(NULL, -EINVAL);
}

static void expect_uint(const char *s, uint64_t min, uint64_t max, int want_err, uint64_t want)
{
	uint64_t v = 777;
	int err = uvs_parse_uint(s, min, max, &v);

	cr_expect_eq(err, want_err, "\"%s\": got %d, want %d", s ? s : "(null)", err, want_err);
	cr_expect_eq(v, want_err ? 777 : want, "\"%s\": got %llu", s ? s : "(null)",
		     (unsigned long long)v);
}

Test(parse_uint, accepts)
{
	expect_uint("0", 0, 10, 0, 0);
	expect_uint("10", 0, 10, 0, 10);
	expect_uint("4242", 1, 4194304, 0, 4242);
	expect_uint("0042", 0, 100, 0, 42);
	expect_uint("18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX);
}

Test(parse_uint, rejects)
{
	expect_uint("abc", 0, 100, -EINVAL, 0);
	expect_uint("12abc", 0, 100, -EINVAL, 0);
	expect_uint("-1", 0, UINT64_MAX, -EINVAL, 0);
	expect_uint("", 0, 100, -EINVAL, 0);
	expect_uint(" 1", 0, 100, -EINVAL, 0);
	expect_uint("+1", 0, 100, -EINVAL, 0);
	expect_uint("1 ", 0, 100, -EINVAL, 0);
	expect_uint("0x10", 0, 100, -EINVAL, 0);
	expect_uint("1.0", 0, 100, -EINVAL, 0);
	expect_uint(NULL, 0, 100, -EINVAL, 0);
	expect_uint("18446744073709551616", 0, UINT64_MAX, -ERANGE, 0);
	expect_uint("101", 0, 100, -ERANGE, 0);
	expect_uint("0", 1, 100, -ERANGE, 0);
}

static void expect_format(uint64_t ns, const char *want)
{
	char buf[UVS_DURATION_BUF];

	memset(buf, 'X', sizeof(buf));
	uvs_format_duration(ns, buf, sizeof(buf));
	cr_expect_str_eq(buf, want, "%llu ns: got \"%s\", want \"%s\"", (unsigned long long)ns,
			 buf, want);
}

Test(format_duration, examples)
{
	expect_format(0, "0");
	expect_format(1, "1ns");
	expect_format(850, "850ns");
	expect_format(999, "999ns");
	expect_format(1000, "1.00us");
	expect_format(1234, "1.23us");
	expect_format(1235, "1.24us");
	expect_format(12300, "12.3us");
	expect_format(12345, "12.3us");
	expect_format(123456, "123us");
	expect_format(4560000, "4.56ms");
	expect_format(12000000, "12.0ms");
	expect_format(250000000, "250ms");
	expect_format(1200000000, "1.20s");
	expect_format(59900000000ull, "59.9s");
	expect_format(185000000000ull, "3m05s");
}

Test(format_duration, rounding_carries_into_next_unit)
{
	expect_format(999499, "999us");
	expect_format(999500, "1.00ms");
	expect_format(999999999, "1.00s");
	expect_format(9995, "10.0us");
	expect_format(99950, "100us");
	expect_format(59949999999ull, "59.9s");
	expect_format(59950000000ull, "1m00s");
	expect_format(3599499999999ull, "59m59s");
	expect_format(3599500000000ull, "1h00m");
	expect_format(7620000000000ull, "2h07m");
}

Test(format_duration, huge_and_small_buffers)
{
	char buf[UVS_DURATION_BUF], tiny[4];

	uvs_format_duration(UINT64_MAX, buf, sizeof(buf));
	cr_expect_str_eq(buf, "5124095h35m");
	uvs_format_duration(1200000000, tiny, sizeof(tiny));
	cr_expect_str_eq(tiny, "1.2");
	uvs_format_duration(1, buf, 0); /* must not write */
}

Test(format_percent, examples)
{
	char buf[16];

	uvs_format_percent(0.4123, buf, sizeof(buf));
	cr_expect_str_eq(buf, "41.2%");
	uvs_format_percent(0, buf, sizeof(buf));
	cr_expect_str_eq(buf, "0.0%");
	uvs_format_percent(1, buf, sizeof(buf));
	cr_expect_str_eq(buf, "100.0%");
	uvs_format_percent(1.7, buf, sizeof(buf));
	cr_expect_str_eq(buf, "100.0%");
	uvs_format_percent(-0.5, buf, sizeof(buf));
	cr_expect_str_eq(buf, "0.0%");
	uvs_format_percent(NAN, buf, sizeof(buf));
	cr_expect_str_eq(buf, "0.0%");
	uvs_format_percent(0.99951, buf, sizeof(buf));
	cr_expect_str_eq(buf, "100.0%");
}

Test(format_clock, utc)
{
	char buf[16];

	setenv("TZ", "UTC", 1);
	tzset();
	uvs_format_clock(1732657803ull * 1000000000ull + 999999999, buf, sizeof(buf));
	cr_expect_str_eq(buf, "21:50:03");
}
