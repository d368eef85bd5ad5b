// SPDX-License-Identifier: MIT
/* The one sanitizer for text from the target. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"

static void expect(const char *in, const char *out, size_t replaced)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s", in);
	cr_expect_eq(uvs_sanitize(buf, sizeof(buf)), replaced, "%s", out);
	cr_expect_str_eq(buf, out);
}

Test(text, controls_become_question_marks)
{
	expect("plain name", "plain name", 0);
	expect("\x1b]0;pwned\x07", "?]0;pwned?", 2);
	expect("\x1b[2J\x1b[H", "?[2J?[H", 2);
	expect("tab\there\r\n", "tab?here??", 3);
	expect("del\x7f", "del?", 1);
}

Test(text, utf8_is_kept_but_not_c1_or_invalid)
{
	expect("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac", 0);   /* é € */
	expect("\xc2\x9b" "31m", "??31m", 2);                             /* U+009B CSI */
	expect("\xc2\x85", "??", 2);                                      /* U+0085 NEL */
	expect("\xc2\xa0", "\xc2\xa0", 0);                                /* U+00A0 is text */
	expect("\x9b" "2J", "?2J", 1);                                    /* a raw 8-bit CSI */
	expect("\xff\xfe", "??", 2);
	expect("\xe2\x82", "??", 2);                                      /* cut short */
	expect("\xc0\x80", "??", 2);                                      /* overlong NUL */
	expect("\xed\xa0\x80", "???", 3);                                 /* a surrogate */
}

/* Valid UTF-8 that would reorder or hide what the operator reads: each of its bytes goes. */
Test(text, bidi_and_invisible_characters_become_question_marks)
{
	expect("\xe2\x80\xae" "evil\xe2\x80\xac" "fdp", "???evil???fdp", 6); /* U+202E, U+202C */
	expect("a\xe2\x81\xa6" "b\xe2\x81\xa9", "a???b???", 6);               /* U+2066, U+2069 */
	expect("ls\xe2\x80\xa8" "sep\xe2\x80\xa9", "ls???sep???", 6);         /* U+2028, U+2029 */
	expect("zero\xe2\x80\x8b" "width", "zero???width", 3);                 /* U+200B */
	expect("\xe2\x80\x8f" "\xd8\x9c", "?????", 5);                          /* U+200F, U+061C */
	expect("\xef\xbb\xbf" "bom", "???bom", 3);                               /* U+FEFF */
	expect("tag\xf3\xa0\x80\x81", "tag????", 4);                             /* U+E0001 */
	/* Their neighbours are text: "…" (uvscope's own cut mark), U+202F, U+2027. */
	expect("cut\xe2\x80\xa6", "cut\xe2\x80\xa6", 0);
	expect("\xe2\x80\xaf" "\xe2\x80\xa7", "\xe2\x80\xaf" "\xe2\x80\xa7", 0);
}

Test(text, bounded_by_cap_without_nul)
{
	char buf[4] = { '\x1b', 'a', '\x07', 'b' }; /* no NUL: stops at cap */

	cr_expect_eq(uvs_sanitize(buf, sizeof(buf)), 2);
	cr_expect(memcmp(buf, "?a?b", 4) == 0);
	cr_expect_eq(uvs_sanitize(buf, 0), 0);
}

/* Text cut to fit ends in "…", on a character boundary; text that fits is copied whole. */
Test(text, cut_text_says_so)
{
	char out[8];

	uvs_text_copy_cut(out, sizeof(out), "handleRequest", 13);
	cr_expect_str_eq(out, "hand\xe2\x80\xa6");
	uvs_text_copy_cut(out, sizeof(out), "abcdefg", 7);
	cr_expect_str_eq(out, "abcdefg", "fits exactly");
	uvs_text_copy_cut(out, sizeof(out), "abcdefghij", 3);
	cr_expect_str_eq(out, "abc", "only len bytes");
	/* "aé€x" fills the 7 bytes: "x" and the 3-byte "€" make room for the mark. */
	uvs_text_copy_cut(out, sizeof(out), "a\xc3\xa9\xe2\x82\xacxyz", 10);
	cr_expect_str_eq(out, "a\xc3\xa9\xe2\x80\xa6");
	uvs_text_copy_cut(out, 4, "abcdef", 6);
	cr_expect_str_eq(out, "abc", "no room for the mark");
}
