/* SPDX-License-Identifier: MIT */
/*
 * What `uvscope serve` exports at /metrics: every uvscope_* metric of one target, rendered
 * from the session's totals (counters and histograms, cumulative since attach, as of the last
 * interval) and the last interval (gauges). The metrics, their labels and the bucket layout
 * are listed in README.md ("Prometheus /metrics"). Pure: no maps, no clock, no sockets.
 */
#ifndef UVSCOPE_PROMETHEUS_H
#define UVSCOPE_PROMETHEUS_H

#include <stdint.h>
#include <stdio.h>

#include "core/snapshot.h"
#include "render/prom_writer.h"

/* Alert counts are indexed by enum uvs_alert_kind (index 0 unused). */
#define UVS_PROM_ALERT_KINDS UVS_ALERT_KINDS

/* The labels of the target and what uvscope_target_info says of it. */
struct uvs_prom_target {
	int pid;
	const char *comm;          /* set by the target: cut at 15 bytes, made safe, escaped */
	const char *container;     /* "" until containers are known */
	const char *node_version;  /* NULL or "" when unknown */
	const char *libuv_version;
	const char *mode;          /* "epoll" or "exact-phases" */
};

struct uvs_prom_page {
	struct uvs_prom_target target;
	const struct uvs_snapshot *totals; /* since attach, as of the last interval */
	const struct uvs_snapshot *window; /* the last interval; NULL before the first */
	const uint64_t *alerts;            /* alerts fired since attach, by kind */
};

/* Writes the page in the format asked. Returns 0, or -EIO when out is in error. */
int uvs_prom_write_page(FILE *out, enum uvs_prom_format format, const struct uvs_prom_page *p);

#endif
