/* SPDX-License-Identifier: MIT */
/*
 * `--all`: the node processes on the host, found by reading /proc (no hook, no privilege beyond
 * reading other processes' /proc entries). A process is a node process when its executable is
 * named node or nodejs (node, nodejs, node20, ...), or when it maps libnode.so (an embedder, or
 * a distribution's node built that way). With --match, its command line must match too.
 *
 * Each scan lists the ones the caller does not watch yet. A verdict that needs a read of
 * /proc/PID/maps is kept per process (pid, start time and executable) so that a host with hundreds of
 * processes costs a readlink each per scan; so is a process that could not be attached, so
 * that it is not tried again every scan.
 */
#ifndef UVSCOPE_DISCOVER_H
#define UVSCOPE_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "target/cmdline_match.h"

#define UVS_DISCOVER_CACHE 4096

struct uvs_discover_entry {
	pid_t pid;
	uint64_t start;      /* start time in clock ticks since boot (/proc/PID/stat field 22) */
	uint64_t exe_hash;   /* of its executable's path: an exec keeps the pid and start time */
	uint32_t generation; /* the scan that saw it last */
	bool node;           /* it is a node process */
	bool refused;        /* attaching to it failed: not tried again */
};

struct uvs_discover {
	pid_t self;
	bool match_set;
	struct uvs_cmdline_match match;
	uint32_t generation;
	size_t n;
	struct uvs_discover_entry cache[UVS_DISCOVER_CACHE];
};

/* regex: --match, or NULL for every node process. 0, or -errno with `why`. */
int uvs_discover_init(struct uvs_discover *d, const char *regex, char *why, size_t cap);
void uvs_discover_free(struct uvs_discover *d);

/*
 * The node processes running now that match and that watched(ctx, pid) says are not watched
 * yet, at most cap of them, in out[]. Returns how many.
 */
size_t uvs_discover_scan(struct uvs_discover *d, bool (*watched)(void *ctx, pid_t pid), void *ctx,
			 pid_t *out, size_t cap);

/* Attaching to pid failed: this process is not offered again. */
void uvs_discover_refused(struct uvs_discover *d, pid_t pid);

/* Whether the executable path names node ("node", "nodejs", "node20": what a node binary is called). */
bool uvs_discover_node_exe(const char *exe_path);

#endif
