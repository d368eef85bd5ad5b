/* SPDX-License-Identifier: MIT */
/*
 * Small parsers for command-line values and the short human formats every text output shares
 * (durations, percentages, time of day), so `watch`, `top` and the summary print alike.
 */
#ifndef UVSCOPE_DURATION_H
#define UVSCOPE_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Enough for any uvs_format_duration() output, e.g. "5124095h35m" for UINT64_MAX. */
#define UVS_DURATION_BUF 16

/*
 * "500ms", "10s", "2m", "1h", "250us" (or "250µs"), "100ns"; a bare number means seconds.
 * Decimals are allowed ("1.5s", digits needed on both sides of the dot; sub-nanosecond parts
 * are dropped). No signs, spaces or exponents. Returns 0, -EINVAL for malformed text or
 * -ERANGE when the result does not fit in 64 bits. Zero is accepted: callers check > 0.
 */
int uvs_parse_duration(const char *s, uint64_t *ns);

/*
 * Decimal unsigned integer in min..max. Returns 0, -EINVAL for anything but digits (no sign,
 * no spaces, not empty) or -ERANGE when out of range. *out is only written on success.
 */
int uvs_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Short human duration with 3 significant digits: "0", "850ns", "12.3us", "4.56ms", "250ms",
 * "1.20s"; from a minute on "3m05s", from an hour on "2h07m". Always NUL-terminated.
 */
void uvs_format_duration(uint64_t ns, char *buf, size_t cap);

/* A 0..1 ratio as a percentage with one decimal, "41.2%" (clamped, NaN as 0; locale-proof). */
void uvs_format_percent(double ratio, char *buf, size_t cap);

/*
 * A phase's share of its loop's wall time ("12.3%", or "-" for an empty window), so the eight
 * phases of a loop add up to about 100%.
 */
void uvs_format_phase_share(uint64_t phase_ns, uint64_t loop_ns, char *buf, size_t cap);

/* Local time of day of a CLOCK_REALTIME timestamp, "21:50:03". */
void uvs_format_clock(uint64_t ts_ns, char *buf, size_t cap);

#endif /* UVSCOPE_DURATION_H */
