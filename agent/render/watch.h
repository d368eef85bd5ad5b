/* SPDX-License-Identifier: MIT */
/*
 * Human line output of `uvscope watch`: one line per interval, one per alert, and a short
 * per-loop summary at the end. Functions return 0, or -EIO when out is in error.
 */
#ifndef UVSCOPE_OUT_WATCH_H
#define UVSCOPE_OUT_WATCH_H

#include <stdio.h>

#include "core/output.h"
#include "core/snapshot.h"

/* "21:50:03 main/4242 util 41.2% it 1203 p99 3.20ms max 12.0ms | worker/4250 ..." */
int uvs_watch_interval(FILE *out, const struct uvs_snapshot *s);

/* "21:50:03 ALERT loop blocked: main loop (tid 4242) blocked for 250ms so far (threshold ...)" */
int uvs_watch_alert(FILE *out, const struct uvs_alert *a);

/* "21:50:03 job crypto on 4251: waited 120ms, served in 61.0ms" (--pool-jobs) */
int uvs_watch_pool_job(FILE *out, const struct uvs_pool_job_record *j);

/*
 * The same lines with `who` after the clock (NULL: nothing), for a session of several targets:
 * "21:50:03 pid 4242 (node): main/4242 util 41.2% ...".
 */
int uvs_watch_interval_of(FILE *out, const char *who, const struct uvs_snapshot *s);
int uvs_watch_alert_of(FILE *out, const char *who, const struct uvs_alert *a);
int uvs_watch_pool_job_of(FILE *out, const char *who, const struct uvs_pool_job_record *j);

/*
 * A few lines per loop for the whole session (or the target's time, when it is detached
 * before the end), with the phase table in exact-phase mode; its first line names the pid.
 */
int uvs_watch_summary(FILE *out, const struct uvs_snapshot *s);

/*
 * The `watch` output (render/watch_output.c): the lines above, as the session produces them,
 * into out; with `who` once a second target has begun.
 */
struct uvs_output *uvs_watch_output_new(FILE *out);

#endif /* UVSCOPE_OUT_WATCH_H */
