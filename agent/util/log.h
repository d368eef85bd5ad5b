/* SPDX-License-Identifier: MIT */
/* One place for diagnostics: lowercase messages to stderr, prefixed with the program name. */
#ifndef UVSCOPE_LOG_H
#define UVSCOPE_LOG_H

#include <stdbool.h>

extern int uvs_verbose;

void uvs_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void uvs_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void uvs_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void uvs_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Route libbpf's own messages through uvs_debug (only with -v). */
void uvs_log_setup_libbpf(void);

#endif
