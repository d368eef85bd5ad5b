/* SPDX-License-Identifier: MIT */
/*
 * The output behind /metrics: at attach and after every interval it builds the page in both
 * formats (render/prometheus.c) from the session's totals and that interval, and hands them
 * to the HTTP server; it counts the alerts it is given for uvscope_alerts_total.
 */
#ifndef UVSCOPE_METRICS_OUTPUT_H
#define UVSCOPE_METRICS_OUTPUT_H

#include <stdbool.h>

#include "core/output.h"
#include "serve/http.h"

/* An output serving through http (not owned). NULL and errno on failure. */
struct uvs_output *uvs_metrics_output_new(struct uvs_http *http);

/*
 * Whether an alert starts something to count: every alert but the final loop_blocked line of
 * an episode already alerted while it lasted (one episode, one count). `ongoing` is the
 * caller's memory of loop threads with an ongoing alert (UVS_MAX_LOOPS entries, tid 0: free).
 */
bool uvs_metrics_alert_fires(const struct uvs_alert *a, int *ongoing);

#endif
