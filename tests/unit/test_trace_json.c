// SPDX-License-Identifier: MIT
/*
 * The trace output on hand-built records: the whole file of a small session (golden), phases
 * clipped to their iteration, thread names escaped and renamed when a role is learnt, bounded
 * buffering, and the BPF record conversion the collector feeds it with.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "collect/loop.h"
#include "render/trace_json.h"
#include "text_count.h"

/* Time 0 of every trace here: 1 s on the monotonic clock, 1,000,000 s on the wall clock. */
#define MONO0 1000000000ull
#define REAL0 1000000000000000ull

struct rendered {
	struct uvs_output *o;
	char *buf;
	size_t len;
	FILE *f;
};

static struct rendered r;

static void open_trace(void)
{
	struct uvs_trace_clock clock = { .origin_mono_ns = MONO0, .origin_real_ns = REAL0 };

	memset(&r, 0, sizeof(r));
	r.f = open_memstream(&r.buf, &r.len);
	cr_assert_not_null(r.f);
	r.o = uvs_trace_output_new(r.f, &clock);
	cr_assert_not_null(r.o);
}

/* Ends the session and returns the file's text (freed by close_trace). */
static const char *finish_trace(void)
{
	cr_assert_eq(r.o->ops->end(r.o), 0);
	fflush(r.f);
	return r.buf;
}

static void close_trace(void)
{
	r.o->ops->destroy(r.o);
	free(r.o->priv);
	free(r.o);
	fclose(r.f);
	free(r.buf);
}

static const struct uvs_thread_brief threads[] = {
	{ .tid = 100, .role = UVS_ROLE_MAIN, .role_known = true, .comm = "node" },
	{ .tid = 105, .role = UVS_ROLE_THREADPOOL, .role_known = true, .comm = "we\"ird\\na\x01me" },
};

static void begin(void)
{
	struct uvs_attach_info a = { .pid = 100, .comm = "node", .node_version = "v20.20.2",
				     .mode = "exact-phases", .threads = threads, .nthreads = 2 };

	cr_assert_eq(r.o->ops->begin(r.o, &a), 0);
}

static void record(const struct uvs_record *rec)
{
	cr_assert_eq(r.o->ops->record(r.o, rec), 0);
}

static void phase(int tid, int p, uint64_t start, uint64_t end)
{
	struct uvs_record rec = { .kind = UVS_RECORD_PHASE, .pid = 100 };

	rec.phase = (struct uvs_phase_record){ .tid = tid, .phase = p, .start_ns = MONO0 + start,
					       .end_ns = MONO0 + end };
	record(&rec);
}

static void iteration(int tid, uint64_t wait, uint64_t start, uint64_t end)
{
	struct uvs_record rec = { .kind = UVS_RECORD_ITERATION, .pid = 100 };

	rec.iteration = (struct uvs_iteration_record){ .tid = tid,
						       .wait_start_ns = wait ? MONO0 + wait : 0,
						       .busy_start_ns = MONO0 + start,
						       .busy_end_ns = MONO0 + end };
	record(&rec);
}

/* A window at 1 ms that saw one loop (blocked for blocked_for ns when not 0). */
static void window_of(int tid, enum uvs_role role, uint64_t blocked_for)
{
	static struct uvs_snapshot s;

	memset(&s, 0, sizeof(s));
	s.ts_ns = REAL0 + 1000000;
	s.nloops = 1;
	s.loops[0] = (struct uvs_loop_snapshot){ .tid = tid, .role = role,
						 .blocked_now = blocked_for != 0,
						 .blocked_for_ns = blocked_for };
	strcpy(s.loops[0].comm, "node");
	cr_assert_eq(r.o->ops->interval(r.o, &s), 0);
}

#define HEAD                                                                                 \
	"{\"traceEvents\":[\n"                                                               \
	"{\"ph\":\"M\",\"pid\":100,\"tid\":100,\"name\":\"process_name\",\"args\":{\"name\":\"node\"}},\n"
#define MAIN_NAMED                                                                           \
	"{\"ph\":\"M\",\"pid\":100,\"tid\":100,\"name\":\"thread_name\",\"args\":{\"name\":\"main loop (node)\"}},\n" \
	"{\"ph\":\"M\",\"pid\":100,\"tid\":100,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":0}},\n"

Test(trace_json, golden_session)
{
	struct uvs_record gc = { .kind = UVS_RECORD_GC, .pid = 100 };
	struct uvs_record job = { .kind = UVS_RECORD_POOL_JOB, .pid = 100 };
	struct uvs_alert blocked = { .kind = UVS_ALERT_LOOP_BLOCKED, .pid = 100,
				     .ts_ns = REAL0 + 250000000 };
	struct uvs_alert fds = { .kind = UVS_ALERT_FD_LIMIT, .pid = 100, .ts_ns = REAL0 + 3000 };
	static struct uvs_snapshot sum;
	struct uvs_trace_stats st;

	open_trace();
	begin();
	/* One iteration of 1 ms with three phases, the first begun before the iteration. */
	phase(100, UVS_PHASE_POLL_IO, 9000, 10500);
	phase(100, UVS_PHASE_CHECK, 10500, 10700);
	phase(100, UVS_PHASE_TIMERS, 10700, 11000);
	gc.gc = (struct uvs_gc_record){ .tid = 100, .major = true, .start_ns = MONO0 + 10800,
					.end_ns = MONO0 + 10900 };
	record(&gc);
	iteration(100, 4000, 10000, 11000);
	job.pool_job = (struct uvs_pool_job_record){ .ts_ns = REAL0 + 2000000, .tid = 105,
						     .kind = UVS_POOL_FS, .fs_type = 6,
						     .wait_ns = 1500, .service_ns = 500000,
						     .end_mono_ns = MONO0 + 2000000 };
	record(&job);
	blocked.loop_blocked = (struct uvs_alert_loop_blocked){ .tid = 100, .role = UVS_ROLE_MAIN,
								 .ongoing = true,
								 .blocked_ns = 150000000,
								 .threshold_ns = 100000000 };
	cr_assert_eq(r.o->ops->alert(r.o, &blocked), 0);
	fds.fd_limit = (struct uvs_alert_fds){ .open = 900, .limit = 1024 };
	cr_assert_eq(r.o->ops->alert(r.o, &fds), 0);
	sum.agent.drops = 3;
	cr_assert_eq(r.o->ops->summary(r.o, &sum), 0);
	cr_assert_str_eq(
		finish_trace(),
		HEAD MAIN_NAMED
		"{\"ph\":\"X\",\"pid\":100,\"tid\":100,\"cat\":\"gc\",\"name\":\"GC (major)\",\"ts\":10.800,\"dur\":0.100},\n"
		"{\"ph\":\"X\",\"pid\":100,\"tid\":100,\"cat\":\"loop\",\"name\":\"iteration\",\"ts\":10.000,\"dur\":1.000,\"args\":{\"idle_before_us\":6.000}},\n"
		"{\"ph\":\"X\",\"pid\":100,\"tid\":100,\"cat\":\"phase\",\"name\":\"poll_io\",\"ts\":10.000,\"dur\":0.500},\n"
		"{\"ph\":\"X\",\"pid\":100,\"tid\":100,\"cat\":\"phase\",\"name\":\"check\",\"ts\":10.500,\"dur\":0.200},\n"
		"{\"ph\":\"X\",\"pid\":100,\"tid\":100,\"cat\":\"phase\",\"name\":\"timers\",\"ts\":10.700,\"dur\":0.300},\n"
		"{\"ph\":\"M\",\"pid\":100,\"tid\":105,\"name\":\"thread_name\",\"args\":{\"name\":\"pool thread (we\\\"ird\\\\na\\u0001me)\"}},\n"
		"{\"ph\":\"M\",\"pid\":100,\"tid\":105,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":3}},\n"
		"{\"ph\":\"X\",\"pid\":100,\"tid\":105,\"cat\":\"pool\",\"name\":\"fs stat\",\"ts\":1500.000,\"dur\":500.000,\"args\":{\"kind\":\"fs\",\"queue_wait_us\":1.500}},\n"
		"{\"ph\":\"i\",\"pid\":100,\"tid\":100,\"s\":\"t\",\"cat\":\"alert\",\"name\":\"loop_blocked\",\"ts\":250000.000,"
		"\"args\":{\"kind\":\"loop_blocked\",\"state\":\"firing\",\"severity\":\"info\",\"tid\":100,\"role\":\"main\",\"ongoing\":true,\"blocked_ns\":150000000,\"threshold_ns\":100000000,\"since_attach\":false,\"stopped\":null,\"samples\":null,\"stacks_cover_ns\":null,\"stacks\":null,\"places\":null,\"firing_ns\":0,\"suppressed\":0}},\n"
		"{\"ph\":\"i\",\"pid\":100,\"tid\":100,\"s\":\"p\",\"cat\":\"alert\",\"name\":\"fd_limit\",\"ts\":3.000,"
		"\"args\":{\"kind\":\"fd_limit\",\"state\":\"firing\",\"severity\":\"info\",\"open\":900,\"limit\":1024,\"firing_ns\":0,\"suppressed\":0}}\n"
		"],\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"uvscope trace\",\"pid\":100,"
		"\"node_version\":\"v20.20.2\",\"mode\":\"exact-phases\",\"ts_origin_monotonic_ns\":1000000000,"
		"\"ts_origin_realtime_ns\":1000000000000000,\"iterations\":1,\"slices\":6,\"alerts\":2,"
		"\"phase_spans_unplaced\":0,\"records_dropped\":3}}\n");
	uvs_trace_output_stats(r.o, &st);
	cr_expect_eq(st.iterations, 1);
	cr_expect_eq(st.slices, 6);
	cr_expect_eq(st.instants, 2);
	cr_expect_eq(st.dropped, 3);
	close_trace();
}

Test(trace_json, phases_are_clipped_to_their_iteration)
{
	const char *text;

	open_trace();
	begin();
	/* The moment between libuv's epoll(0) and its real wait: before the iteration. */
	phase(100, UVS_PHASE_POLL_IO, 1000, 1200);
	phase(100, UVS_PHASE_POLL_IO, 2000, 2600);
	/* A span that runs past the iteration's end (a clock oddity) is cut there. */
	phase(100, UVS_PHASE_TIMERS, 2600, 3500);
	iteration(100, 1200, 2000, 3000);
	/* An iteration with no phases of its own does not take the previous one's. */
	iteration(100, 0, 4000, 5000);
	text = finish_trace();
	cr_expect_eq(count(text, "\"cat\":\"phase\""), 2, "%s", text);
	cr_expect(strstr(text, "\"name\":\"timers\",\"ts\":2.600,\"dur\":0.400"), "%s", text);
	cr_expect(strstr(text, "\"name\":\"iteration\",\"ts\":4.000,\"dur\":1.000}"), "%s", text);
	close_trace();
}

Test(trace_json, pending_phases_are_bounded)
{
	struct uvs_trace_stats st;
	int i;

	open_trace();
	begin();
	for (i = 0; i < 70; i++)
		phase(100, UVS_PHASE_POLL_IO, 1000 + (uint64_t)i * 10, 1005 + (uint64_t)i * 10);
	iteration(100, 0, 1000, 2000);
	finish_trace();
	uvs_trace_output_stats(r.o, &st);
	cr_expect_eq(st.unplaced, 6);
	cr_expect_eq(st.slices, 65);
	close_trace();
}

Test(trace_json, a_worker_seen_later_is_renamed_by_its_window)
{
	const char *text;

	open_trace();
	begin();
	iteration(200, 0, 1000, 2000);
	window_of(200, UVS_ROLE_WORKER, 0);
	text = finish_trace();
	cr_expect(strstr(text, "\"tid\":200,\"name\":\"thread_name\",\"args\":{\"name\":\"event loop\"}"),
		  "%s", text);
	cr_expect(strstr(text, "\"tid\":200,\"name\":\"thread_name\",\"args\":{\"name\":\"worker loop (node)\"}"),
		  "%s", text);
	close_trace();
}

Test(trace_json, a_loop_blocked_at_the_end_gets_an_unfinished_slice)
{
	const char *text;

	open_trace();
	begin();
	iteration(100, 0, 1000, 2000);
	/* The phases it went through before the one it is stuck in (which has no record yet). */
	phase(100, UVS_PHASE_POLL_IO, 2000, 2500);
	phase(100, UVS_PHASE_CHECK, 2500, 2600);
	/* The last window, at 1 ms: blocked for the last 0.997 ms, since 3 us. */
	window_of(100, UVS_ROLE_MAIN, 997000);
	text = finish_trace();
	cr_expect(strstr(text, "\"cat\":\"unfinished\",\"name\":\"iteration (still running)\","
			       "\"ts\":3.000,\"dur\":997.000}"), "%s", text);
	/* Its phases, clipped to that slice (the wall clock put its start a little late). */
	cr_expect(strstr(text, "\"name\":\"check\",\"ts\":3.000,\"dur\":0.000") == NULL, "%s", text);
	cr_expect(strstr(text, "\"name\":\"poll_io\"") == NULL, "%s", text);
	close_trace();
	/* Blocked since 2 us: both phases are in its slice. */
	open_trace();
	begin();
	iteration(100, 0, 1000, 2000);
	phase(100, UVS_PHASE_POLL_IO, 2000, 2500);
	phase(100, UVS_PHASE_CHECK, 2500, 2600);
	window_of(100, UVS_ROLE_MAIN, 998000);
	text = finish_trace();
	cr_expect(strstr(text, "\"name\":\"poll_io\",\"ts\":2.000,\"dur\":0.500"), "%s", text);
	cr_expect(strstr(text, "\"name\":\"check\",\"ts\":2.500,\"dur\":0.100"), "%s", text);
	close_trace();
}

Test(trace_json, an_iteration_ends_a_block_the_window_saw)
{
	const char *text;

	open_trace();
	begin();
	window_of(100, UVS_ROLE_MAIN, 500000);
	iteration(100, 0, 500000, 1200000);
	text = finish_trace();
	cr_expect(!strstr(text, "unfinished"), "%s", text);
	close_trace();
}

Test(trace_json, ts_before_time_zero_is_zero)
{
	struct uvs_record job = { .kind = UVS_RECORD_POOL_JOB, .pid = 100 };
	const char *text;

	open_trace();
	begin();
	/* A job that began before tracing did: it starts at 0 and ends where it ended. */
	job.pool_job = (struct uvs_pool_job_record){ .ts_ns = REAL0 + 1000, .tid = 105,
						     .kind = UVS_POOL_CRYPTO, .fs_type = -1,
						     .service_ns = 5000, .end_mono_ns = MONO0 + 1000 };
	record(&job);
	text = finish_trace();
	cr_expect(strstr(text, "\"name\":\"crypto\",\"ts\":0.000,\"dur\":1.000"), "%s", text);
	close_trace();
}

Test(trace_json, summary_line)
{
	struct uvs_trace_stats st = { .iterations = 7, .slices = 40, .instants = 1, .dropped = 2 };
	char buf[256];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	uvs_trace_summary_line(f, "t.json", &st);
	fclose(f);
	cr_expect_str_eq(buf, "uvscope: trace: 7 loop iterations, 40 slices and 1 alerts written to "
			      "t.json; 2 records dropped (ring buffer full)\n");
}

Test(trace_json, bpf_records_become_session_records)
{
	struct uvs_trace_record it = { .start_ns = 20, .end_ns = 30, .wait_start_ns = 10,
				       .tid = 7, .tgid = 42, .type = UVS_TRACE_ITERATION };
	struct uvs_trace_record ph = { .start_ns = 20, .end_ns = 25, .tid = 7,
				       .type = UVS_TRACE_PHASE, .phase = UVS_PHASE_CHECK,
				       .tgid = 43 };
	struct uvs_trace_record bad = ph;
	struct uvs_record out;

	cr_assert_eq(uvs_loops_trace_record(&it, sizeof(it), &out), 0);
	cr_expect_eq(out.kind, UVS_RECORD_ITERATION);
	cr_expect_eq(out.pid, 42);
	cr_expect_eq(out.iteration.tid, 7);
	cr_expect_eq(out.iteration.wait_start_ns, 10);
	cr_expect_eq(out.iteration.busy_start_ns, 20);
	cr_expect_eq(out.iteration.busy_end_ns, 30);
	cr_assert_eq(uvs_loops_trace_record(&ph, sizeof(ph), &out), 0);
	cr_expect_eq(out.kind, UVS_RECORD_PHASE);
	cr_expect_eq(out.pid, 43); /* the record's process: one agent watches several */
	cr_expect_eq(out.phase.phase, UVS_PHASE_CHECK);
	cr_expect_eq(out.phase.end_ns, 25);
	cr_expect_eq(uvs_loops_trace_record(&ph, sizeof(ph) - 1, &out), -EINVAL);
	bad.phase = UVS_PHASE_COUNT;
	cr_expect_eq(uvs_loops_trace_record(&bad, sizeof(bad), &out), -EINVAL);
	bad = ph;
	bad.type = 9;
	cr_expect_eq(uvs_loops_trace_record(&bad, sizeof(bad), &out), -EINVAL);
	bad = ph;
	bad.end_ns = 1;
	cr_expect_eq(uvs_loops_trace_record(&bad, sizeof(bad), &out), -EINVAL);
}
