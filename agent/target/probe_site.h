/* SPDX-License-Identifier: MIT */
/* Whether a function of the target's libuv object may take a uprobe, and where. */
#ifndef UVSCOPE_UPROBE_SITE_H
#define UVSCOPE_UPROBE_SITE_H

#include <stddef.h>

#include "target/process.h"

/*
 * Resolves `name` in the libuv object and checks the safety rules for probing it: the file is
 * the one running (its build-id is in the process's memory), the symbol exists, and its code
 * still runs from the file (not copied away by node --use-largepages). Returns 0 with *sym
 * set, or -errno with one sentence in `why`. `what` names the feature for the stripped case
 * ("the libuv phase functions", "the pool's functions").
 */
int uvs_uprobe_site(const struct uvs_target *t, const char *name, const char *what,
		    struct uvs_elf_symbol *sym, char *why, size_t cap);

/*
 * The same rules for a symbol already found (sym: NULL when `name` has none), for callers that
 * resolve many names in one pass over the symbol table.
 */
int uvs_uprobe_site_check(const struct uvs_target *t, const char *name, const char *what,
			  const struct uvs_elf_symbol *sym, char *why, size_t cap);

#endif
