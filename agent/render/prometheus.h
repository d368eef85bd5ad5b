/* SPDX-License-Identifier: MIT */
/*
 * What `uvscope serve` exports at /metrics: every uvscope_* metric of each target, rendered
 * from the session's totals (counters and histograms, cumulative since attach, as of the last
 * interval) and the last interval (gauges). The metrics, their labels and the bucket layout
 * are listed in README.md ("Prometheus /metrics"). Pure: no maps, no clock, no sockets.
 *
 * A page of several targets: both formats want each family's samples together under one
 * HELP and TYPE, so each target is rendered on its own into a part (its samples, family by
 * family), when its figures change, and the page is put together from the parts.
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

/* The metric families of a page (render/prometheus.c lists them in page order). */
#define UVS_PROM_FAMILIES 37

/* One target's samples in one format, family by family: [start[i], end[i]) of buf. */
struct uvs_prom_part {
	char *buf; /* malloc'd; NULL before the first render */
	size_t len;
	size_t start[UVS_PROM_FAMILIES];
	size_t end[UVS_PROM_FAMILIES];
};

/* Renders p into part, replacing what it held (kept on failure). 0 or -errno. */
int uvs_prom_part_render(struct uvs_prom_part *part, enum uvs_prom_format format,
			 const struct uvs_prom_page *p);

/* Frees what part holds; the part can be rendered again. */
void uvs_prom_part_free(struct uvs_prom_part *part);

/*
 * The page of nparts targets (parts rendered in `format`, NULL entries skipped): each family
 * with its HELP and TYPE lines once and every part's samples of it, in the order of parts.
 * Returns 0, or -EIO when out is in error.
 */
int uvs_prom_write_parts(FILE *out, enum uvs_prom_format format,
			 const struct uvs_prom_part *const *parts, size_t nparts);

/* The page of one target, in the format asked. Returns 0, or -errno (-EIO: out in error). */
int uvs_prom_write_page(FILE *out, enum uvs_prom_format format, const struct uvs_prom_page *p);

#endif
