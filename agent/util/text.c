// SPDX-License-Identifier: MIT
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/text.h"

size_t uvs_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f; /* UTF-16 surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* The code point of a valid UTF-8 sequence of len bytes (uvs_utf8_len said so). */
static uint32_t utf8_code_point(const unsigned char *s, size_t len)
{
	uint32_t cp = len == 2 ? s[0] & 0x1f : len == 3 ? s[0] & 0x0f : s[0] & 0x07;
	size_t i;

	for (i = 1; i < len; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

/*
 * Characters that are valid UTF-8 but change how a terminal shows the rest of the line, or
 * are not shown at all: Unicode's format characters (general category Cf: the bidirectional
 * overrides, embeddings and isolates that can make "evil" print as "live", zero-width ones,
 * the byte order mark, tags) and the line and paragraph separators (Zl, Zp), which some
 * terminals and viewers break lines at. The Cf list of Unicode 15.1.
 */
static bool invisible_or_reordering(uint32_t cp)
{
	static const uint32_t ranges[][2] = {
		{0x00ad, 0x00ad},   {0x0600, 0x0605},   {0x061c, 0x061c},   {0x06dd, 0x06dd},
		{0x070f, 0x070f},   {0x0890, 0x0891},   {0x08e2, 0x08e2},   {0x180e, 0x180e},
		{0x200b, 0x200f},   {0x2028, 0x202e},   {0x2060, 0x2064},   {0x2066, 0x206f},
		{0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
		{0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
		{0xe0020, 0xe007f},
	};
	size_t i;

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (cp >= ranges[i][0] && cp <= ranges[i][1])
			return true;
	return false;
}

size_t uvs_sanitize(char *str, size_t cap)
{
	unsigned char *s = (unsigned char *)str;
	size_t i = 0, n = 0, len, end = 0;

	while (end < cap && s[end])
		end++;
	while (i < end) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			i++;
			continue;
		}
		len = s[i] >= 0x80 ? uvs_utf8_len(s + i, end - i) : 0;
		/* U+0080..U+009F are C1 controls: 0xc2 0x80..0x9f in UTF-8. */
		if (len == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f)
			len = 0;
		if (len && !invisible_or_reordering(utf8_code_point(s + i, len))) {
			i += len;
			continue;
		}
		/* Each byte of it: the string keeps its length (callers sanitize in place). */
		for (len = len ? len : 1; len > 0; len--, n++)
			s[i++] = '?';
	}
	return n;
}

size_t uvs_utf8_end_cut(char *buf, size_t n, size_t max)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	const size_t k = sizeof(ellipsis) - 1;

	if (max < k + 1)
		return n;
	if (n > max)
		n = max;
	while (n + k > max) {
		/* Back over one character: its continuation bytes, then its lead byte. */
		while (n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0)
			n--;
	}
	memcpy(buf + n, ellipsis, k);
	return n + k;
}

void uvs_text_copy_cut(char *dst, size_t cap, const char *src, size_t len)
{
	if (cap == 0)
		return;
	if (len < cap) {
		memcpy(dst, src, len);
		dst[len] = '\0';
		return;
	}
	memcpy(dst, src, cap - 1);
	dst[uvs_utf8_end_cut(dst, cap - 1, cap - 1)] = '\0';
}
