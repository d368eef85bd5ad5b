// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "util/log.h"
#include "util/text.h"

int uvs_verbose;

/*
 * Every message is made safe for the terminal here, once, whatever it quotes: the target's text
 * is sanitized where it is read (util/text.h), but messages also quote the operator's own
 * arguments (a pid list, a duration, a path, a regex), which may hold escape sequences.
 */
static void vlog(const char *level, const char *fmt, va_list ap)
{
	char small[1024], *msg = small;
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= (int)sizeof(small)) {
		msg = malloc((size_t)n + 1);
		if (msg)
			vsnprintf(msg, (size_t)n + 1, fmt, again);
		else
			msg = small; /* cut, but said */
	}
	va_end(again);
	if (n < 0)
		snprintf(small, sizeof(small), "(a message that could not be formatted)");
	uvs_sanitize(msg, SIZE_MAX);
	fprintf(stderr, "uvscope: %s%s\n", level, msg);
	if (msg != small)
		free(msg);
}

void uvs_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void uvs_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void uvs_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void uvs_debug(const char *fmt, ...)
{
	va_list ap;

	if (!uvs_verbose)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!uvs_verbose || (level == LIBBPF_DEBUG && uvs_verbose < 2))
		return 0;
	fputs("uvscope: libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void uvs_log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
