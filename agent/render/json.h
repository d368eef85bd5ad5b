/* SPDX-License-Identifier: MIT */
/*
 * JSON lines output (`--json`): one object per line, schema in docs/json.md. Every function
 * writes exactly one line into out and returns 0, or -EIO when out is in error.
 */
#ifndef UVSCOPE_OUT_JSON_H
#define UVSCOPE_OUT_JSON_H

#include <stdint.h>
#include <stdio.h>

#include "core/snapshot.h"
#include "collect/socket_table.h"

/* What the "attach" line says about the target and the session. NULL or "" become null. */
struct uvs_json_target {
	int pid;
	const char *exe;            /* path of the executable that maps libuv */
	const char *build_id;       /* its GNU build id in hex */
	const char *libuv_version;  /* "1.48.0" */
	const char *node_version;   /* "v22.11.0", NULL when unknown */
	const char *mode;           /* "epoll" or "exact-phases" */
	const char *epoll_hooks;    /* "fentry" or "tracepoints": how epoll waits are caught */
	const char *const *missing; /* what is unavailable and why, one sentence each */
	size_t nmissing;
	uint64_t block_threshold_ns;
	uint64_t interval_ns;
	const struct uvs_thread_brief *threads; /* every thread of the target, with its role */
	size_t nthreads;
};

/* First line of a session: "type":"attach". */
int uvs_json_hello(FILE *out, const struct uvs_json_target *t);

/* One window: "type":"interval". */
int uvs_json_interval(FILE *out, const struct uvs_snapshot *s);

/* The whole session, same shape as an interval: "type":"summary". */
int uvs_json_summary(FILE *out, const struct uvs_snapshot *s);

/* "type":"pool_job": one job the thread pool served (--pool-jobs). */
int uvs_json_pool_job(FILE *out, int pid, const struct uvs_pool_job_record *j);

/* "type":"sockets": the target's socket table (`uvscope sockets --json`), one line. */
int uvs_json_socket_table(FILE *out, int pid, uint64_t ts_ns, const struct uvs_socket_table *t,
			  const struct uvs_sockets_snapshot *sum);

/* "type":"alert". */
int uvs_json_alert(FILE *out, const struct uvs_alert *a);

#endif /* UVSCOPE_OUT_JSON_H */
