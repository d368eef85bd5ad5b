/* SPDX-License-Identifier: MIT */
/*
 * Whether code at an address runs from a given file, for the probe-site checks of one attach,
 * with one read of /proc/PID/maps instead of one per site.
 *
 * A uprobe is placed in a file (inode and offset) and fires only where that file is mapped
 * executable; `node --use-largepages` runs its code from an anonymous copy instead. Each probe
 * site is checked against the maps (target/probe_site.h). An attach checks some fifty sites
 * within a fraction of a second; reading the maps for each cost fifty reads of a file of a few
 * hundred lines.
 *
 * The rule that keeps one read as good as fifty: the read is taken at the first check of the
 * attach, and when the attach is over every check that passed on it is checked again against a
 * new read (uvs_code_hold_verify). A check that passed on data that had gone stale by then
 * makes the verify fail, and the attach with it, so stale data never passes a check. That is
 * more than one read per check gave: those were taken before their own uprobe was attached and
 * never looked at again.
 */
#ifndef UVSCOPE_CODE_MAPS_H
#define UVSCOPE_CODE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Passed checks remembered for the verify; past this, checks read the maps themselves. */
#define UVS_CODE_HOLD_MAX_CHECKS 4096

struct uvs_address_space;

/*
 * True when addr lies in an executable mapping of the file `path` (as the maps show it) whose
 * inode is `inode` (0: any inode), in the mappings as (symbols/address_space.h; NULL: none).
 * The answer of target/process.h's uvs_object_maps_code.
 */
bool uvs_code_runs_from(const struct uvs_address_space *as, uint64_t addr, const char *path,
			uint64_t inode);

/* One read of /proc/PID/maps, and the answer on it. False when the maps cannot be read. */
bool uvs_code_runs_from_now(pid_t pid, uint64_t addr, const char *path);

/* Checks of one attach, answered from one read of the maps, verified at the end. */
struct uvs_code_hold;

/* For pid; reads nothing yet. NULL and errno ENOMEM. */
struct uvs_code_hold *uvs_code_hold_new(pid_t pid);

/*
 * uvs_code_runs_from on the hold's read (taken at the first call), remembering a check
 * that passed for the verify. Past UVS_CODE_HOLD_MAX_CHECKS, or when the maps cannot be read,
 * a check reads the maps itself (false when even that fails), as it would with no hold.
 */
bool uvs_code_hold_check(struct uvs_code_hold *h, uint64_t addr, const char *path);

/* How many times the hold read the maps (tests, the bench: once, plus the verify). */
unsigned uvs_code_hold_reads(const struct uvs_code_hold *h);

/*
 * Reads the maps again (not at all when no check passed on the hold's read) and checks again
 * every check that passed: each address must still run from the same file, same inode.
 * Returns 0, -ESTALE with the first address that no longer does in *addr (may be NULL), or
 * -errno when the maps cannot be read (a target that exited, for instance).
 */
int uvs_code_hold_verify(struct uvs_code_hold *h, uint64_t *addr);

void uvs_code_hold_free(struct uvs_code_hold *h);

#endif
