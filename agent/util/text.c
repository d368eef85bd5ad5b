// SPDX-License-Identifier: MIT
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
		if (len) {
			i += len;
			continue;
		}
		s[i++] = '?';
		n++;
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
