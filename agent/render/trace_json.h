/* SPDX-License-Identifier: MIT */
/*
 * The timeline output (`uvscope trace`): Chrome trace-event JSON, which ui.perfetto.dev and
 * chrome://tracing open. One track per thread: on a loop thread each iteration's busy part is
 * a slice, its phases (with exact phases) are slices nested in it, and GC pauses are slices
 * inside those; each pool job is a slice on the pool thread that served it; alerts are instant
 * events. Events are written as they come (memory stays bounded however long the session), and
 * the JSON is closed when the session ends, whatever ended it.
 *
 * Time: "ts" and "dur" are microseconds (with three decimals: nanosecond precision) from the
 * moment the output was created, just before attaching.
 */
#ifndef UVSCOPE_TRACE_JSON_H
#define UVSCOPE_TRACE_JSON_H

#include <stdint.h>
#include <stdio.h>

#include "core/output.h"

/* Where the trace's time 0 is, on both clocks the agent's records use. */
struct uvs_trace_clock {
	uint64_t origin_mono_ns; /* CLOCK_MONOTONIC (BPF's clock) at ts 0 */
	uint64_t origin_real_ns; /* CLOCK_REALTIME at the same moment: alerts and pool jobs */
};

/* What was written, for the one-line summary. */
struct uvs_trace_stats {
	uint64_t iterations; /* iteration slices */
	uint64_t slices;     /* every slice: iterations, phases, GC pauses, pool jobs */
	uint64_t instants;   /* alerts */
	uint64_t unplaced;   /* phase spans lost: too many in one iteration */
	uint64_t dropped;    /* records the kernel had no room for (the session's loss counters) */
};

/* The clock of now: time 0 of a trace that starts now. */
struct uvs_trace_clock uvs_trace_clock_now(void);

/* A new trace output writing into out; NULL and errno on failure. */
struct uvs_output *uvs_trace_output_new(FILE *out, const struct uvs_trace_clock *clock);

/* What o (a trace output) has written so far. */
void uvs_trace_output_stats(const struct uvs_output *o, struct uvs_trace_stats *st);

/* "trace: ... written to PATH" on one line, for stderr. */
void uvs_trace_summary_line(FILE *out, const char *path, const struct uvs_trace_stats *st);

#endif
