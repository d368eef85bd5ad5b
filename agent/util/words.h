/* SPDX-License-Identifier: MIT */
/*
 * A command line split into words the way a POSIX shell quotes them, with no expansion, so a
 * command (--on-alert) runs without a shell: blanks separate words; '...' keeps everything;
 * "..." keeps everything but \" \\ \$ \` and \newline; a backslash outside quotes keeps the
 * next character. Whatever a shell would expand or act on ($, `, globs, ~ and # at a word's
 * start, | & ; < > ( ) ) is an error unless quoted: the command would not do what it says.
 */
#ifndef UVSCOPE_WORDS_H
#define UVSCOPE_WORDS_H

#include <stddef.h>

/*
 * Splits s into a NULL-terminated argv, *out, in one allocation (free(*out) frees it all), and
 * its word count in *n. Returns 0, -EINVAL with the reason in why (an unterminated quote, an
 * unquoted special character, no words at all), or -ENOMEM.
 */
int uvs_split_words(const char *s, char ***out, size_t *n, char *why, size_t cap);

#endif
