// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/words.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static int refuse(char *why, size_t cap, char c, const char *what)
{
	snprintf(why, cap, "unquoted '%c' %s: the command runs without a shell; quote it, or run "
		 "sh -c '...' for a shell", c, what);
	return -EINVAL;
}

/* The part in "...": copies it to *o, returns the index after the closing quote, or -1. */
static long double_quoted(const char *s, long i, char **o, char *why, size_t cap)
{
	for (;; i++) {
		char c = s[i];

		if (!c) {
			snprintf(why, cap, "a \" is never closed");
			return -1;
		}
		if (c == '"')
			return i + 1;
		if (c == '$' || c == '`') {
			snprintf(why, cap, "'%c' inside double quotes would be expanded by a shell: "
				 "write \\%c, or use single quotes", c, c);
			return -1;
		}
		if (c == '\\' && s[i + 1] && strchr("$`\"\\\n", s[i + 1])) {
			if (s[++i] != '\n')
				*(*o)++ = s[i];
			continue;
		}
		*(*o)++ = c;
	}
}

int uvs_split_words(const char *s, char ***out, size_t *nwords, char *why, size_t cap)
{
	size_t len = strlen(s), n = 0, maxw = len / 2 + 2;
	char **argv = malloc(maxw * sizeof(char *) + 2 * len + 2), *o, *q;
	bool in_word = false, fresh = false;
	long i = 0;

	if (!argv) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	o = (char *)(argv + maxw);
	for (;;) {
		char c = s[i];

		if (!c || blank(c)) {
			if (in_word) {
				*o++ = '\0';
				in_word = false;
			}
			if (!c)
				break;
			i++;
			continue;
		}
		/* A line continuation between words is no word. */
		if (!in_word && c == '\\' && s[i + 1] == '\n') {
			i += 2;
			continue;
		}
		if (!in_word) {
			argv[n++] = o;
			in_word = fresh = true;
		}
		if (c == '\'') {
			q = strchr(s + i + 1, '\'');
			if (!q) {
				snprintf(why, cap, "a ' is never closed");
				goto bad;
			}
			memcpy(o, s + i + 1, (size_t)(q - s - i - 1));
			o += q - s - i - 1;
			i = q - s + 1;
		} else if (c == '"') {
			i = double_quoted(s, i + 1, &o, why, cap);
			if (i < 0)
				goto bad;
		} else if (c == '\\') {
			if (!s[i + 1]) {
				snprintf(why, cap, "a \\ at the end escapes nothing");
				goto bad;
			}
			if (s[i + 1] != '\n')
				*o++ = s[i + 1];
			i += 2;
		} else if (strchr("|&;<>()", c)) {
			refuse(why, cap, c, "is a shell operator");
			goto bad;
		} else if (c == '$' || c == '`') {
			refuse(why, cap, c, "would be expanded by a shell");
			goto bad;
		} else if (strchr("*?[", c)) {
			refuse(why, cap, c, "would be a glob to a shell");
			goto bad;
		} else if (fresh && (c == '~' || c == '#')) {
			refuse(why, cap, c, c == '~' ? "would be a home directory to a shell" :
			       "would begin a comment to a shell");
			goto bad;
		} else {
			*o++ = c;
			i++;
		}
		fresh = false;
	}
	if (!n) {
		snprintf(why, cap, "no command: only blanks");
		goto bad;
	}
	argv[n] = NULL;
	*out = argv;
	*nwords = n;
	return 0;
bad:
	free(argv);
	return -EINVAL;
}
