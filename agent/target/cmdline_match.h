/* SPDX-License-Identifier: MIT */
/*
 * `--match REGEX`: which processes `--all` takes, by their command line. The regex is POSIX
 * extended (regcomp with REG_EXTENDED | REG_NOSUB), matched anywhere in the command line as
 * `ps -o args` shows it: /proc/PID/cmdline with the NULs between arguments turned into spaces.
 */
#ifndef UVSCOPE_CMDLINE_MATCH_H
#define UVSCOPE_CMDLINE_MATCH_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

/* A command line is looked at up to this many bytes (the kernel gives up to a page of it). */
#define UVS_CMDLINE_MATCH_MAX 4096

struct uvs_cmdline_match {
	regex_t re;
	bool compiled;
};

/*
 * Compiles regex into m. 0, or -EINVAL with `why` saying what is wrong with it (regerror's
 * words), -ENOMEM when memory ran out.
 */
int uvs_cmdline_match_init(struct uvs_cmdline_match *m, const char *regex, char *why, size_t cap);

/*
 * Whether the command line (raw: /proc/PID/cmdline as read, len bytes, NULs between the
 * arguments) matches. Bytes past UVS_CMDLINE_MATCH_MAX are not looked at; an empty command
 * line (a kernel thread, a zombie) matches only a regex that matches "".
 */
bool uvs_cmdline_match(const struct uvs_cmdline_match *m, const char *raw, size_t len);

/* Releases m; safe on a zeroed or failed one. */
void uvs_cmdline_match_free(struct uvs_cmdline_match *m);

#endif
