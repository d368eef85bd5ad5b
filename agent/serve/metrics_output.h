/* SPDX-License-Identifier: MIT */
/*
 * The output behind /metrics: one page for every target between its begin and its summary,
 * in both formats (render/prometheus.c), from each target's totals (pulled from the session)
 * and its last interval, handed to the HTTP server; it counts each target's alerts for
 * uvscope_alerts_total. A target's summary takes its series off the page.
 */
#ifndef UVSCOPE_METRICS_OUTPUT_H
#define UVSCOPE_METRICS_OUTPUT_H

#include <stdbool.h>

#include "core/output.h"
#include "serve/http.h"

/*
 * At most this many targets on the page at once (--all on a crowded host): one more is left
 * off it, with a warning, and counted (its alerts and JSON lines are not affected). Each costs
 * about 120 KB of rendered samples, a scrape of all of them ~60 KB each.
 */
#define UVS_METRICS_MAX_TARGETS 1024

/*
 * Where a page goes, in one format: buf (malloc'd, len bytes) becomes the callee's, as with
 * uvs_http_set_page. 0 or -errno.
 */
typedef int (*uvs_metrics_publish_fn)(void *arg, enum uvs_prom_format format, char *buf,
				      size_t len);

/* An output serving through http (not owned). NULL and errno on failure. */
struct uvs_output *uvs_metrics_output_new(struct uvs_http *http);

/* The same, handing each page to publish(arg, ...) (tests read the pages so). */
struct uvs_output *uvs_metrics_output_new_to(uvs_metrics_publish_fn publish, void *arg);

/*
 * Puts the page out now, with what it holds (no target yet: a page with no series): `serve
 * --all` answers /metrics, and its readiness probe passes, before any node process is found.
 */
int uvs_metrics_output_publish_now(struct uvs_output *o);

/*
 * Whether an alert starts something to count: every alert but the final loop_blocked line of
 * an episode already alerted while it lasted (one episode, one count). `ongoing` is the
 * caller's memory of loop threads with an ongoing alert (UVS_MAX_LOOPS entries, tid 0: free).
 */
bool uvs_metrics_alert_fires(const struct uvs_alert *a, int *ongoing);

#endif
