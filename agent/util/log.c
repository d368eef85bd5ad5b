// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>

#include <bpf/libbpf.h>

#include "util/log.h"

int uvs_verbose;

static void vlog(const char *level, const char *fmt, va_list ap)
{
	fprintf(stderr, "uvscope: %s", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
