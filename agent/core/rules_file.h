/* SPDX-License-Identifier: MIT */
/*
 * The rules file (--rules FILE): INI, read with libinih, one [section] per rule named as the
 * alert kind, plus [defaults] for hold and rate_limit. Strict: an unknown section or key, a key
 * given twice, a malformed or out-of-range value or a line that is not INI is an error that
 * names the file, the line and the key, and nothing is applied. deploy/uvscope-rules.ini
 * documents every key.
 */
#ifndef UVSCOPE_RULES_FILE_H
#define UVSCOPE_RULES_FILE_H

#include <stddef.h>

#include "core/rules.h"

/* The longest line and the largest file accepted: an operator's file is far smaller. */
#define UVS_RULES_MAX_LINE 190
#define UVS_RULES_MAX_BYTES (1 << 20)

/*
 * Reads the rules in text (len bytes; need not be NUL-terminated) over the settings already in
 * *c; `name` is what messages call it. Returns 0, or -EINVAL with "NAME:LINE: ..." in why (*c
 * is then unchanged).
 */
int uvs_rules_parse(const char *name, const char *text, size_t len, struct uvs_alert_config *c,
		    char *why, size_t cap);

/* The same from a file. Returns 0, -EINVAL (why says where), or -errno when it cannot be read. */
int uvs_rules_load(const char *path, struct uvs_alert_config *c, char *why, size_t cap);

#endif
