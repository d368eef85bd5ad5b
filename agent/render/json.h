/* SPDX-License-Identifier: MIT */
/*
 * JSON lines output (`--json`): one object per line, schema in docs/json.md. Every function
 * writes exactly one line into out and returns 0, or -EIO when out is in error.
 */
#ifndef UVSCOPE_OUT_JSON_H
#define UVSCOPE_OUT_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/output.h"
#include "core/snapshot.h"
#include "core/socket_list.h"

/* First line of a session: "type":"attach". */
int uvs_json_hello(FILE *out, const struct uvs_attach_info *t);

/* One window: "type":"interval". */
int uvs_json_interval(FILE *out, const struct uvs_snapshot *s);

/* The whole session, same shape as an interval: "type":"summary". */
int uvs_json_summary(FILE *out, const struct uvs_snapshot *s);

/* "type":"pool_job": one job the thread pool served (--pool-jobs). */
int uvs_json_pool_job(FILE *out, int pid, const struct uvs_pool_job_record *j);

/* "type":"guard": the overhead guard stepped (docs/json.md). */
int uvs_json_guard_record(FILE *out, int pid, const struct uvs_guard_record *r);

/* The "guard" object of an interval (or, with summary, of the summary); null when it is off. */
void uvs_json_guard_object(FILE *out, const struct uvs_guard_snapshot *g, bool summary);

/* "type":"sockets": the target's socket table (`uvscope sockets --json`), one line. */
int uvs_json_socket_table(FILE *out, int pid, uint64_t ts_ns, const struct uvs_socket_table *t,
			  const struct uvs_sockets_snapshot *sum);

/* "type":"alert". */
int uvs_json_alert(FILE *out, const struct uvs_alert *a);

/* A JSON string, escaped and valid UTF-8; null for NULL or "" (for other JSON writers). */
void uvs_json_string(FILE *out, const char *s);

/* The fields of an alert of its kind, each after a comma: ,"tid":42,"role":"main",... */
void uvs_json_alert_fields(FILE *out, const struct uvs_alert *a);

/* The JSON lines output: every line above, as the session produces them, into out. */
struct uvs_output *uvs_json_output_new(FILE *out);

#endif /* UVSCOPE_OUT_JSON_H */
