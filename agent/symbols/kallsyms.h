/* SPDX-License-Identifier: MIT */
/*
 * Kernel symbols from /proc/kallsyms: the text symbols (t, T, w, W) sorted by address, read
 * once per agent run on the first kernel frame. kallsyms has no sizes: a symbol reaches the
 * next one (at most UVS_KALLSYMS_MAX_EXTENT bytes).
 *
 * With kernel.kptr_restrict (or without CAP_SYSLOG) every address reads as 0: the index is then
 * "restricted", lookups fail, and the symbolizer names kernel frames "[kernel]".
 */
#ifndef UVSCOPE_KALLSYMS_H
#define UVSCOPE_KALLSYMS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define UVS_KALLSYMS_MAX_SYMS (4u << 20)
#define UVS_KALLSYMS_MAX_EXTENT (1u << 20)

struct uvs_kallsyms;

/* Parses a kallsyms text (lines "ADDR TYPE NAME [MODULE]"); bad lines are skipped. NULL: ENOMEM. */
struct uvs_kallsyms *uvs_kallsyms_parse(FILE *f);
void uvs_kallsyms_free(struct uvs_kallsyms *k);

/* True when text symbols were listed but every address was 0 (kptr_restrict). */
bool uvs_kallsyms_restricted(const struct uvs_kallsyms *k);

/* Text symbols kept. */
size_t uvs_kallsyms_count(const struct uvs_kallsyms *k);

/* The symbol containing addr and its start; -ENOENT if none (or restricted). */
int uvs_kallsyms_lookup(const struct uvs_kallsyms *k, uint64_t addr, const char **name,
			uint64_t *start);

/*
 * The running kernel's symbols, read from /proc/kallsyms at the first call (thread-safe) and
 * kept until exit; says once on stderr when they are restricted. NULL if unreadable.
 */
const struct uvs_kallsyms *uvs_kallsyms_system(void);

#endif
