// SPDX-License-Identifier: MIT
/* The --on-alert splitter: a shell's quoting, none of its expansions. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/words.h"

static void expect_words(const char *s, const char *const *want, size_t nwant)
{
	char **w, why[200];
	size_t n;

	cr_assert_eq(uvs_split_words(s, &w, &n, why, sizeof(why)), 0, "[%s]: %s", s, why);
	cr_expect_eq(n, nwant, "[%s]: %zu words", s, n);
	for (size_t i = 0; i < n && i < nwant; i++)
		cr_expect_str_eq(w[i], want[i], "[%s] word %zu", s, i);
	cr_expect_null(w[n]);
	free(w);
}

#define WORDS(s, ...)                                                                           \
	do {                                                                                    \
		const char *const want_[] = { __VA_ARGS__ };                                   \
		expect_words(s, want_, sizeof(want_) / sizeof(want_[0]));                     \
	} while (0)

Test(words, quoting)
{
	WORDS("notify", "notify");
	WORDS("  /usr/bin/logger  -t uvscope\t'loop alert'\n", "/usr/bin/logger", "-t", "uvscope",
	      "loop alert");
	WORDS("a'b c'd", "ab cd");
	WORDS("'' x", "", "x");
	WORDS("\"\" \"a b\"", "", "a b");
	WORDS("\"say \\\"hi\\\" \\\\ \\$HOME \\` \\n\"", "say \"hi\" \\ $HOME ` \\n");
	WORDS("'$HOME * `id` ; | ~ #'", "$HOME * `id` ; | ~ #");
	WORDS("\\$HOME \\* \\~ \\# a\\ b", "$HOME", "*", "~", "#", "a b");
	WORDS("a\\\nb c", "ab", "c");
	WORDS("x \\\n y", "x", "y");
	WORDS("a~b c#d e=f", "a~b", "c#d", "e=f");
	WORDS("\"multi\nline\"", "multi\nline");
}

Test(words, refused)
{
	static const struct {
		const char *s, *why;
	} bad[] = {
		{ "", "no command" },
		{ " \t\n", "no command" },
		{ "echo 'open", "a ' is never closed" },
		{ "echo \"open", "a \" is never closed" },
		{ "echo \\", "a \\ at the end" },
		{ "echo $HOME", "unquoted '$'" },
		{ "echo `id`", "unquoted '`'" },
		{ "echo \"$HOME\"", "'$' inside double quotes" },
		{ "echo \"`id`\"", "'`' inside double quotes" },
		{ "a | b", "unquoted '|' is a shell operator" },
		{ "a > f", "unquoted '>'" },
		{ "a < f", "unquoted '<'" },
		{ "a; b", "unquoted ';'" },
		{ "a && b", "unquoted '&'" },
		{ "(a)", "unquoted '('" },
		{ "ls *.log", "unquoted '*' would be a glob" },
		{ "ls a?", "unquoted '?'" },
		{ "ls [ab]", "unquoted '['" },
		{ "cat ~/x", "unquoted '~' would be a home directory" },
		{ "a #comment", "unquoted '#' would begin a comment" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char **w = (char **)1, why[200] = "";
		size_t n;

		cr_expect_eq(uvs_split_words(bad[i].s, &w, &n, why, sizeof(why)), -EINVAL, "[%s]",
			     bad[i].s);
		cr_expect(strstr(why, bad[i].why), "[%s]: %s", bad[i].s, why);
		cr_expect_eq(w, (char **)1, "untouched on error");
	}
}

/* The worst case for the buffer: one-letter words, and quotes that make empty words. */
Test(words, many_words)
{
	char s[2001], **w, why[100];
	size_t n;

	for (int i = 0; i < 1000; i++) {
		s[2 * i] = 'a';
		s[2 * i + 1] = ' ';
	}
	s[2000] = '\0';
	cr_assert_eq(uvs_split_words(s, &w, &n, why, sizeof(why)), 0);
	cr_expect_eq(n, 1000);
	free(w);
	for (int i = 0; i < 666; i++)
		memcpy(s + 3 * i, "'' ", 3);
	s[1998] = '\0';
	cr_assert_eq(uvs_split_words(s, &w, &n, why, sizeof(why)), 0);
	cr_expect_eq(n, 666);
	free(w);
}
