// SPDX-License-Identifier: MIT
/*
 * Parsing of durations and integers from the command line, and the short formats of the text
 * outputs. The parsers are strict on purpose: a typo in "--threshold 10x" must be an error,
 * not 10 seconds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/duration.h"

#define NSEC_PER_USEC 1000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MIN (60 * NSEC_PER_SEC)
#define NSEC_PER_HOUR (60 * NSEC_PER_MIN)

/* Fraction digits kept: nanoseconds of a second; more would only add sub-ns noise. */
#define FRAC_DIGITS 9
#define FRAC_SCALE 1000000000ull

typedef unsigned __int128 u128;

struct unit {
	const char *suffix;
	uint64_t ns;
};

static const struct unit units[] = {
	{ "", NSEC_PER_SEC }, /* a bare number means seconds */
	{ "ns", 1 },
	{ "us", NSEC_PER_USEC },
	{ "\xc2\xb5s", NSEC_PER_USEC }, /* "µs" */
	{ "ms", NSEC_PER_MSEC },
	{ "s", NSEC_PER_SEC },
	{ "m", NSEC_PER_MIN },
	{ "h", NSEC_PER_HOUR },
};

static int unit_ns(const char *suffix, uint64_t *ns)
{
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(suffix, units[i].suffix)) {
			*ns = units[i].ns;
			return 0;
		}
	}
	return -EINVAL;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Integer part. Past UINT64_MAX no unit can make it fit, so it saturates there and the final
 * range check reports -ERANGE, but only once the whole text is known to be well-formed.
 */
static int parse_int_part(const char **p, u128 *v)
{
	const char *s = *p;

	if (!is_digit(*s))
		return -EINVAL;
	for (*v = 0; is_digit(*s); s++) {
		*v = *v * 10 + (unsigned int)(*s - '0');
		if (*v > UINT64_MAX)
			*v = (u128)UINT64_MAX + 1;
	}
	*p = s;
	return 0;
}

/* Fraction after the dot, scaled to FRAC_SCALE; extra digits are checked, then ignored. */
static int parse_frac_part(const char **p, u128 *frac)
{
	const char *s = *p;
	uint64_t scale = FRAC_SCALE;

	*frac = 0;
	if (*s != '.')
		return 0;
	s++;
	if (!is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		if (scale > 1) {
			scale /= 10;
			*frac += (u128)(unsigned int)(*s - '0') * scale;
		}
	}
	*p = s;
	return 0;
}

int uvs_parse_duration(const char *s, uint64_t *ns)
{
	u128 whole, frac, total;
	uint64_t mult;
	int err;

	if (!s)
		return -EINVAL;
	err = parse_int_part(&s, &whole);
	if (err)
		return err;
	err = parse_frac_part(&s, &frac);
	if (err)
		return err;
	if (unit_ns(s, &mult))
		return -EINVAL;
	/* whole <= 2^64, mult < 2^42, frac < 2^30: no 128-bit overflow. */
	total = whole * mult + frac * mult / FRAC_SCALE;
	if (total > UINT64_MAX)
		return -ERANGE;
	*ns = (uint64_t)total;
	return 0;
}

int uvs_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull alone would take " 5", "+5" and even "-1" (as ULLONG_MAX). */
	if (!s || !is_digit(*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* v rounded to 3 significant digits (v >= 1000, so at least one digit is dropped). */
static uint64_t round3(uint64_t v)
{
	uint64_t p = 1;

	while (v / p >= 1000)
		p *= 10;
	return (v / p + (v % p >= p / 2)) * p;
}

/* r has 3 significant digits and r / unit is in 1..999, so the printed digits are exact. */
static void format_scaled(uint64_t r, uint64_t unit, const char *suffix, char *buf, size_t cap)
{
	uint64_t whole = r / unit, frac = r % unit;

	if (whole < 10)
		snprintf(buf, cap, "%" PRIu64 ".%02" PRIu64 "%s", whole, frac / (unit / 100),
			 suffix);
	else if (whole < 100)
		snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 "%s", whole, frac / (unit / 10), suffix);
	else
		snprintf(buf, cap, "%" PRIu64 "%s", whole, suffix);
}

static void format_long(uint64_t ns, char *buf, size_t cap)
{
	/* Rounded to whole seconds without adding to ns, which may be close to UINT64_MAX. */
	uint64_t secs = ns / NSEC_PER_SEC + (ns % NSEC_PER_SEC >= NSEC_PER_SEC / 2);
	uint64_t mins;

	if (secs < 3600) {
		snprintf(buf, cap, "%" PRIu64 "m%02" PRIu64 "s", secs / 60, secs % 60);
		return;
	}
	mins = secs / 60 + (secs % 60 >= 30);
	snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m", mins / 60, mins % 60);
}

void uvs_format_duration(uint64_t ns, char *buf, size_t cap)
{
	uint64_t r;

	if (!cap)
		return;
	if (ns == 0) {
		snprintf(buf, cap, "0");
		return;
	}
	if (ns < NSEC_PER_USEC) {
		snprintf(buf, cap, "%" PRIu64 "ns", ns);
		return;
	}
	/* 59.95 s and up would round to "60.0s": switch to minutes there. */
	if (ns >= NSEC_PER_MIN - NSEC_PER_SEC / 20) {
		format_long(ns, buf, cap);
		return;
	}
	r = round3(ns); /* may carry into the next unit: 999.7us -> 1.00ms */
	if (r < NSEC_PER_MSEC)
		format_scaled(r, NSEC_PER_USEC, "us", buf, cap);
	else if (r < NSEC_PER_SEC)
		format_scaled(r, NSEC_PER_MSEC, "ms", buf, cap);
	else
		format_scaled(r, NSEC_PER_SEC, "s", buf, cap);
}

void uvs_format_percent(double ratio, char *buf, size_t cap)
{
	uint64_t permille;

	/* Integer arithmetic rather than "%.1f", whose decimal point follows LC_NUMERIC. */
	if (!(ratio > 0))
		ratio = 0;
	if (ratio > 1)
		ratio = 1;
	permille = (uint64_t)(ratio * 1000 + 0.5);
	snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 "%%", permille / 10, permille % 10);
}

void uvs_format_clock(uint64_t ts_ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ts_ns / NSEC_PER_SEC);
	struct tm tm;

	if (!localtime_r(&t, &tm)) {
		snprintf(buf, cap, "--:--:--");
		return;
	}
	snprintf(buf, cap, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void uvs_format_phase_share(uint64_t phase_ns, uint64_t loop_ns, char *buf, size_t cap)
{
	if (loop_ns)
		uvs_format_percent((double)phase_ns / (double)loop_ns, buf, cap);
	else
		snprintf(buf, cap, "-");
}
