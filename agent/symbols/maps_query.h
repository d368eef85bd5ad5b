/* SPDX-License-Identifier: MIT */
/*
 * Whether one address of a target is mapped now, asked of the kernel with the PROCMAP_QUERY
 * ioctl on /proc/PID/maps (Linux 6.11+) instead of reading the whole file: one lookup, no text.
 *
 * What it is for: a sampled address that falls in no mapping of the symbolizer's last read
 * used to cost a read of the maps (at most one a second), to catch a library or JIT code space
 * mapped since. Most such addresses are not code at all (a frame-pointer chain that runs into
 * a frame without one) and stay unmapped, read after read. The kernel's answer for the address
 * itself says whether a read could name it: only then is the read worth doing.
 */
#ifndef UVSCOPE_MAPS_QUERY_H
#define UVSCOPE_MAPS_QUERY_H

#include <stdbool.h>
#include <stdint.h>

/* Addresses no read could name, remembered for a second (distinct, at most). */
#define UVS_MAPS_QUERY_REMEMBER 64
/* Questions a second at most; past that the caller does what it did without the question. */
#define UVS_MAPS_QUERY_PER_SECOND 100

struct uvs_maps_query;

/* For pid: opens its maps once (the ioctl asks through that fd). NULL and errno. */
struct uvs_maps_query *uvs_maps_query_new(int pid);
void uvs_maps_query_free(struct uvs_maps_query *q);

/*
 * Whether a read of the maps now could name addr: 1 when addr is in a mapping that is
 * executable or names a file (what the symbolizer places), 0 when it is in no mapping or in
 * anonymous data (the heap, a stack, [anon:...]: no code), or the kernel said so less than a
 * second ago (the freshness a read a second had). -EAGAIN past this second's questions,
 * -ENOTTY when the kernel has no PROCMAP_QUERY, -errno otherwise: on any error the caller
 * reads the maps as it would have without asking.
 */
int uvs_maps_query_may_name(struct uvs_maps_query *q, uint64_t addr, uint64_t now_ns);

#endif
