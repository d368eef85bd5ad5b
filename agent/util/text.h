/* SPDX-License-Identifier: MIT */
/*
 * The one sanitizer for text that comes from the target: thread names, the executable's and
 * mapped files' paths, host names it looks up. It runs once, where such text is read, so every
 * output (terminal, JSON, files) gets the same safe string and no renderer needs its own.
 */
#ifndef UVSCOPE_TEXT_H
#define UVSCOPE_TEXT_H

#include <stddef.h>

/*
 * Rewrites s in place: every control character (C0, DEL, and the C1 range U+0080-U+009F, which
 * some terminals obey as escapes) and every byte that is not part of valid UTF-8 becomes '?',
 * and so does each byte of a Unicode format character (the bidirectional overrides and
 * isolates, zero-width characters, the BOM) or line or paragraph separator, which would let the
 * target reorder or hide what the operator reads. Printable ASCII and other valid UTF-8 text are
 * kept. Stops at the first NUL or at cap bytes; the string keeps its length. Returns how many
 * bytes were replaced.
 */
size_t uvs_sanitize(char *s, size_t cap);

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), 0 if invalid (RFC 3629 table). */
size_t uvs_utf8_len(const unsigned char *s, size_t n);

/*
 * Text cut to fit says so: ends the n bytes of buf (room for max, the NUL not counted) in "…",
 * backing over whole UTF-8 characters to make room. Returns the new length (not terminated);
 * n unchanged when max < 4.
 */
size_t uvs_utf8_end_cut(char *buf, size_t n, size_t max);

/* Copies len bytes of src into dst (cap bytes, NUL-terminated), ending in "…" when they do not fit. */
void uvs_text_copy_cut(char *dst, size_t cap, const char *src, size_t len);

#endif
