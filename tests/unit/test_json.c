// SPDX-License-Identifier: MIT
/* JSON lines: golden renderings of every line type, string escaping, and stream errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "render/json.h"
#include "render/watch.h"

/* Renders with fn into a string the caller frees. */
#define RENDER(fn, arg)                                                                    \
	({                                                                                 \
		char *_buf = NULL;                                                          \
		size_t _len = 0;                                                            \
		FILE *_f = open_memstream(&_buf, &_len);                                    \
		cr_assert_not_null(_f);                                                     \
		cr_expect_eq(fn(_f, arg), 0);                                               \
		cr_assert_eq(fclose(_f), 0);                                                \
		_buf;                                                                       \
	})

static struct uvs_snapshot snap;

static int guard_line(FILE *f, const struct uvs_guard_record *r)
{
	return uvs_json_guard_record(f, 4242, r);
}

#define RENDER_GUARD(r) RENDER(guard_line, r)

static void build_snapshot(void)
{
	struct uvs_loop_snapshot *l;
	int p;

	memset(&snap, 0, sizeof(snap));
	snap.ts_ns = 1732657803123456789ull;
	snap.window_ns = 1000000000;
	snap.pid = 4242;
	snap.nloops = 2;
	snap.agent.events = 98765;
	snap.agent.drops = 2;
	snap.agent.insert_failures = 0;

	l = &snap.loops[0];
	l->tid = 4242;
	l->role = UVS_ROLE_MAIN;
	strcpy(l->comm, "node");
	l->iterations = 1203;
	l->busy_ns = 412300000;
	l->idle_ns = 587700000;
	l->utilization = 0.41234;
	l->busy_p50_ns = 120000;
	l->busy_p99_ns = 3200000;
	l->busy_max_ns = 12000000;
	l->blocks = 1;
	l->blocked_now = false;
	l->blocked_for_ns = 999; /* stale: only meaningful while blocked_now */
	l->has_phases = true;
	for (p = 0; p < UVS_PHASE_COUNT; p++) {
		l->phases[p].count = p + 1;
		l->phases[p].total_ns = (p + 1) * 1000;
		l->phases[p].p50_ns = (p + 1) * 10;
		l->phases[p].p99_ns = (p + 1) * 100;
		l->phases[p].max_ns = (p + 1) * 200;
	}
	l->has_gc = true;
	l->gc = (struct uvs_gc_snapshot){ .count = 9, .major = 2, .total_ns = 23400000,
					  .max_ns = 12100000 };

	l = &snap.loops[1];
	l->tid = 4250;
	l->role = UVS_ROLE_WORKER;
	strcpy(l->comm, "WorkerThread");
	l->iterations = 7;
	l->busy_ns = 1200000000;
	l->idle_ns = 0;
	l->utilization = 1.0;
	l->busy_p50_ns = 40;
	l->busy_p99_ns = 1200000000;
	l->busy_max_ns = 1200000000;
	l->blocks = 0;
	l->blocked_now = true;
	l->blocked_for_ns = 1200000000;
	l->has_phases = false;
	l->phases[0].count = 55; /* ignored: has_phases is false */
	l->has_gc = false;
	l->gc.count = 66; /* ignored: has_gc is false */
}

#define LOOP0                                                                              \
	"{\"tid\":4242,\"role\":\"main\",\"comm\":\"node\",\"iterations\":1203,"           \
	"\"busy_ns\":412300000,\"idle_ns\":587700000,\"utilization\":0.4123,"             \
	"\"busy_p50_ns\":120000,\"busy_p99_ns\":3200000,\"busy_max_ns\":12000000,"        \
	"\"blocks\":1,\"blocked_now\":false,\"blocked_for_ns\":0,\"phases\":{"            \
	"\"timers\":{\"count\":1,\"total_ns\":1000,\"p50_ns\":10,\"p99_ns\":100,\"max_ns\":200}," \
	"\"pending\":{\"count\":2,\"total_ns\":2000,\"p50_ns\":20,\"p99_ns\":200,\"max_ns\":400}," \
	"\"idle\":{\"count\":3,\"total_ns\":3000,\"p50_ns\":30,\"p99_ns\":300,\"max_ns\":600}," \
	"\"prepare\":{\"count\":4,\"total_ns\":4000,\"p50_ns\":40,\"p99_ns\":400,\"max_ns\":800}," \
	"\"poll_wait\":{\"count\":5,\"total_ns\":5000,\"p50_ns\":50,\"p99_ns\":500,"      \
	"\"max_ns\":1000},"                                                                \
	"\"poll_io\":{\"count\":6,\"total_ns\":6000,\"p50_ns\":60,\"p99_ns\":600,"        \
	"\"max_ns\":1200},"                                                                \
	"\"check\":{\"count\":7,\"total_ns\":7000,\"p50_ns\":70,\"p99_ns\":700,\"max_ns\":1400}," \
	"\"close\":{\"count\":8,\"total_ns\":8000,\"p50_ns\":80,\"p99_ns\":800,\"max_ns\":1600}" \
	"},\"gc\":{\"count\":9,\"major\":2,\"total_ns\":23400000,\"max_ns\":12100000}}"

#define LOOP1                                                                              \
	"{\"tid\":4250,\"role\":\"worker\",\"comm\":\"WorkerThread\",\"iterations\":7,"    \
	"\"busy_ns\":1200000000,\"idle_ns\":0,\"utilization\":1.0000,"                    \
	"\"busy_p50_ns\":40,\"busy_p99_ns\":1200000000,\"busy_max_ns\":1200000000,"       \
	"\"blocks\":0,\"blocked_now\":true,\"blocked_for_ns\":1200000000,\"phases\":null,"        \
	"\"gc\":null}"

#define AGENT "\"threadpool\":null,\"syscalls\":null,\"fds\":null,\"sockets\":null,\"agent\":{\"events\":98765,\"drops\":2,\"insert_failures\":0" \
	",\"pool_jobs_lost\":0,\"pool_jobs_unfollowed\":0,\"pool_jobs_unseen\":0,\"pool_records_dropped\":0,\"slow_syscalls_dropped\":0," \
	"\"syscall_pairs_unfit\":0,\"sockets_lost\":0,\"stack_samples\":0,\"stack_samples_lost\":0," \
	"\"gc_threads_lost\":0,\"gc_records_dropped\":0,\"probe_hits\":0},\"guard\":null"

Test(json, interval_golden)
{
	char *got;

	build_snapshot();
	got = RENDER(uvs_json_interval, &snap);
	cr_expect_str_eq(got,
			 "{\"type\":\"interval\",\"schema\":1,\"ts_ns\":1732657803123456789,"
			 "\"window_ns\":1000000000,\"pid\":4242,\"loops\":[" LOOP0 "," LOOP1 "],"
			 "\"loops_left_out\":0," AGENT "}\n");
	free(got);
}

Test(json, summary_golden)
{
	char *got;

	build_snapshot();
	snap.window_ns = 65000000000ull;
	snap.loops_left_out = 17;
	got = RENDER(uvs_json_summary, &snap);
	cr_expect_str_eq(got,
			 "{\"type\":\"summary\",\"schema\":1,\"ts_ns\":1732657803123456789,"
			 "\"window_ns\":65000000000,\"pid\":4242,\"loops\":[" LOOP0 "," LOOP1 "],"
			 "\"loops_left_out\":17," AGENT "}\n");
	free(got);
}

Test(json, no_loops)
{
	char *got;

	build_snapshot();
	snap.nloops = 0;
	got = RENDER(uvs_json_interval, &snap);
	cr_expect_str_eq(got,
			 "{\"type\":\"interval\",\"schema\":1,\"ts_ns\":1732657803123456789,"
			 "\"window_ns\":1000000000,\"pid\":4242,\"loops\":[],\"loops_left_out\":0,"
			 AGENT "}\n");
	free(got);
}

Test(json, utilization_is_clamped_and_rounded)
{
	static const struct {
		double in;
		const char *out;
	} cases[] = {
		{ 0, "\"utilization\":0.0000," },
		{ 0.00004, "\"utilization\":0.0000," },
		{ 0.00005, "\"utilization\":0.0001," },
		{ 0.99996, "\"utilization\":1.0000," },
		{ 1.5, "\"utilization\":1.0000," },
		{ -1, "\"utilization\":0.0000," },
		{ 0.0 / 0.0, "\"utilization\":0.0000," },
	};
	size_t i;

	build_snapshot();
	snap.nloops = 1;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got;

		snap.loops[0].utilization = cases[i].in;
		got = RENDER(uvs_json_interval, &snap);
		cr_expect_not_null(strstr(got, cases[i].out), "%g: %s", cases[i].in, got);
		free(got);
	}
}

Test(json, nasty_comm_is_escaped)
{
	char *got;

	build_snapshot();
	snap.nloops = 1;
	/* all 16 bytes used, no NUL: quote, backslash, controls, é, stray and cut UTF-8 */
	memcpy(snap.loops[0].comm, "q\"\\\n\x01\x7f\xc3\xa9\xff\xe2\x82" "abcd", 16);
	got = RENDER(uvs_json_interval, &snap);
	cr_expect_not_null(strstr(got, ",\"comm\":\"q\\\"\\\\\\u000a\\u0001\\u007f\xc3\xa9"
				       "\\ufffd\\ufffd\\ufffdabcd\",\"iterations\":"),
			   "%s", got);
	free(got);
}

Test(json, utf8_validation)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"" },           /* valid 4-byte */
		{ "\xe2\x82\xac", "\"\xe2\x82\xac\"" },                   /* valid 3-byte */
		{ "\xc0\x80", "\"\\ufffd\\ufffd\"" },                     /* overlong NUL */
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },          /* overlong '/' */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },          /* surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > U+10FFFF */
		{ "\xf0\x9f", "\"\\ufffd\\ufffd\"" },                     /* cut at the end */
		{ "\t\r\x1f", "\"\\u0009\\u000d\\u001f\"" },
	};
	struct uvs_attach_info t = { .pid = 1 };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got;

		t.exe = cases[i].in;
		got = RENDER(uvs_json_hello, &t);
		cr_expect_not_null(strstr(got, cases[i].out), "case %zu: %s", i, got);
		free(got);
	}
}

Test(json, alert_golden)
{
	struct uvs_alert a = {
		.kind = UVS_ALERT_LOOP_BLOCKED,
		.pid = 4242,
		.ts_ns = 1732657803000000000ull,
		.loop_blocked = { .tid = 4250, .role = UVS_ROLE_WORKER, .ongoing = true,
				  .blocked_ns = 250000000, .threshold_ns = 100000000 },
	};
	char *got = RENDER(uvs_json_alert, &a);

	cr_expect_str_eq(got, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"loop_blocked\","
			      "\"pid\":4242,\"state\":\"firing\",\"severity\":\"info\","
			      "\"tid\":4250,\"role\":\"worker\",\"ongoing\":true,"
			      "\"blocked_ns\":250000000,\"threshold_ns\":100000000,"
			      "\"since_attach\":false,\"stopped\":null,\"samples\":null,\"stacks_cover_ns\":null,\"stacks\":null,\"places\":null,"
			      "\"firing_ns\":0,\"suppressed\":0,"
			      "\"ts_ns\":1732657803000000000}\n");
	free(got);

	a.loop_blocked.ongoing = false;
	a.loop_blocked.role = UVS_ROLE_MAIN;
	a.state = UVS_ALERT_RESOLVED;
	a.severity = UVS_SEVERITY_CRITICAL;
	a.suppressed = 3;
	got = RENDER(uvs_json_alert, &a);
	cr_expect_not_null(strstr(got, "\"state\":\"resolved\",\"severity\":\"critical\","
				       "\"tid\":4250,\"role\":\"main\",\"ongoing\":false,"), "%s", got);
	cr_expect_not_null(strstr(got, "\"firing_ns\":0,\"suppressed\":3,"), "%s", got);
	free(got);
	/* Busy already at attach: a lower bound, said. */
	a.loop_blocked.since_attach = true;
	got = RENDER(uvs_json_alert, &a);
	cr_expect_not_null(strstr(got, "\"threshold_ns\":100000000,\"since_attach\":true,"), "%s",
			   got);
	free(got);
	/* A stopped process's loop: which stop, in JSON and in watch's line. */
	a.loop_blocked.since_attach = false;
	a.loop_blocked.stopped = UVS_LOOP_STOPPED_SIGNAL;
	got = RENDER(uvs_json_alert, &a);
	cr_expect_not_null(strstr(got, "\"since_attach\":false,\"stopped\":\"signal\","), "%s", got);
	free(got);
	a.loop_blocked.stopped = UVS_LOOP_FROZEN;
	a.loop_blocked.ongoing = true;
	got = RENDER(uvs_watch_alert, &a);
	cr_expect_not_null(strstr(got, "blocked for 250ms so far (threshold 100ms): the process's "
				       "cgroup is frozen"), "%s", got);
	free(got);
}

Test(json, hello_golden)
{
	static const char *const missing[] = {
		"exact phases: uv__run_check not found (stripped \"node\" binary)",
		"busy histogram of threads started before attach",
	};
	static const struct uvs_thread_brief threads[] = {
		{ .tid = 4242, .role = UVS_ROLE_MAIN, .role_known = true, .comm = "node" },
		{ .tid = 4243, .role = UVS_ROLE_OTHER, .role_known = false, .comm = "a\"b" },
		{ .tid = 4250, .role = UVS_ROLE_THREADPOOL, .role_known = true,
		  .comm = "0123456789abcdef" /* 16 bytes, no NUL */ },
	};
	struct uvs_attach_info t = {
		.threads = threads,
		.nthreads = 3,
		.pid = 4242,
		.ns_pid = 1,
		.container = "4f3c2b1a09e8",
		.exe = "/usr/bin/node",
		.build_id = "0123456789abcdef0123456789abcdef01234567",
		.libuv_version = "1.48.0",
		.node_version = "v22.11.0",
		.mode = "epoll",
		.epoll_hooks = "tracepoints",
		.epoll_hooks_per_wait = 2,
		.host_cost = "every syscall",
		.collector = "bpf",
		.missing = missing,
		.nmissing = 2,
		.block_threshold_ns = 100000000,
		.interval_ns = 1000000000,
		.guard_budget = 10000,
	};
	char *got = RENDER(uvs_json_hello, &t);

	cr_expect_str_eq(got, "{\"type\":\"attach\",\"schema\":1,\"pid\":4242,"
			      "\"ns_pid\":1,\"container\":\"4f3c2b1a09e8\","
			      "\"exe\":\"/usr/bin/node\","
			      "\"build_id\":\"0123456789abcdef0123456789abcdef01234567\","
			      "\"libuv_version\":\"1.48.0\",\"node_version\":\"v22.11.0\","
			      "\"mode\":\"epoll\",\"epoll_hooks\":\"tracepoints\",\"epoll_hooks_per_wait\":2,\"wait_in_phases\":false,\"waits_at_poll_entry\":false,\"host_cost\":\"every syscall\",\"stacks\":null,\"pool\":null,\"collector\":\"bpf\",\"figures\":null,"
			      "\"block_threshold_ns\":100000000,"
			      "\"interval_ns\":1000000000,\"guard_budget\":10000,\"unavailable\":["
			      "\"exact phases: uv__run_check not found (stripped \\\"node\\\" binary)\","
			      "\"busy histogram of threads started before attach\"],\"threads\":["
			      "{\"tid\":4242,\"role\":\"main\",\"comm\":\"node\"},"
			      "{\"tid\":4243,\"role\":\"unknown\",\"comm\":\"a\\\"b\"},"
			      "{\"tid\":4250,\"role\":\"threadpool\","
			      "\"comm\":\"0123456789abcdef\"}]}\n");
	free(got);
}

Test(json, hello_unknowns_are_null)
{
	struct uvs_attach_info t = {
		.pid = 7,
		.exe = "/opt/app/bin/my app",
		.build_id = "", /* the object has none */
		.mode = "exact-phases",
	};
	char *got = RENDER(uvs_json_hello, &t);

	cr_expect_str_eq(got, "{\"type\":\"attach\",\"schema\":1,\"pid\":7,"
			      "\"ns_pid\":null,\"container\":null,"
			      "\"exe\":\"/opt/app/bin/my app\",\"build_id\":null,"
			      "\"libuv_version\":null,\"node_version\":null,"
			      "\"mode\":\"exact-phases\",\"epoll_hooks\":null,\"epoll_hooks_per_wait\":null,\"wait_in_phases\":false,\"waits_at_poll_entry\":false,\"host_cost\":null,\"stacks\":null,\"pool\":null,\"collector\":null,\"figures\":null,"
			      "\"block_threshold_ns\":0,"
			      "\"interval_ns\":0,\"guard_budget\":null,\"unavailable\":[],\"threads\":[]}\n");
	free(got);
}

Test(json, hello_says_how_the_pool_is_followed)
{
	static const struct uvs_pool_hooks pool = {
		.sites = 14,
		.plan = "4-probe",
		.plan_why = "no sessions",
		.hits_per_job = 4,
		.delay = true,
		.cpu_work = "uv__queue_work",
		.cpu_work_why = "/app/addon.node calls uv_queue_work itself",
		.nstepped = 2,
		.stepped = { "uv__queue_work", "uv__queue_done" },
	};
	struct uvs_attach_info t = { .pid = 7, .exe = "/usr/bin/node", .mode = "epoll",
				     .pool = &pool };
	char *got = RENDER(uvs_json_hello, &t);

	cr_expect(strstr(got, ",\"stacks\":null,\"pool\":{\"sites\":14,\"plan\":\"4-probe\","
			      "\"plan_why\":\"no sessions\",\"hits_per_job\":4,\"fs_confirmed\":false,"
			      "\"delay\":true,\"cpu_work\":"
			      "\"uv__queue_work\",\"cpu_work_why\":\"/app/addon.node calls "
			      "uv_queue_work itself\",\"single_stepped\":[\"uv__queue_work\","
			      "\"uv__queue_done\"]},\"collector\":null,"), "%s", got);
	free(got);
}

Test(json, hello_says_which_figures_are_exact_sampled_unavailable)
{
	static const struct uvs_figures figures = {
		.set = true,
		.nexact = 2, .exact = { "loop busy, idle and utilization", "fds" },
		.nsampled = 1, .sampled = { "blocked loops" },
		.nunavailable = 1, .unavailable = { "loop phases" },
	};
	struct uvs_attach_info t = { .pid = 7, .exe = "/usr/bin/node", .mode = "libuv-metrics",
				     .collector = "proc", .figures = &figures };
	char *got = RENDER(uvs_json_hello, &t);

	cr_expect(strstr(got, ",\"collector\":\"proc\",\"figures\":{\"exact\":[\"loop busy, "
			      "idle and utilization\",\"fds\"],\"sampled\":[\"blocked loops\"],"
			      "\"unavailable\":[\"loop phases\"]},"), "%s", got);
	free(got);
}

Test(json, figures_a_collector_lacks_are_null)
{
	struct uvs_loop_snapshot *l;
	char *got;

	build_snapshot();
	l = &snap.loops[0];
	l->no_iterations = true;
	l->no_busy_dist = true;
	snap.pool.available = true;
	snap.pool.statics_only = true;
	snap.pool.size = 2;
	snap.pool.queued = 14;
	got = RENDER(uvs_json_interval, &snap);
	cr_expect(strstr(got, "\"comm\":\"node\",\"iterations\":null,\"busy_ns\":412300000,"),
		  "%s", got);
	cr_expect(strstr(got, "\"busy_p50_ns\":null,\"busy_p99_ns\":null,\"busy_max_ns\":null,"),
		  "%s", got);
	cr_expect(strstr(got, "\"size\":2,\"queued\":14,"), "%s", got);
	cr_expect(strstr(got, "\"submitted\":null,\"completed\":null,\"sync_fs_on_loop\":null,"
			      "\"sync_fs_on_loop_ns\":null,\"sync_fs_other\":null,\"kinds\":null}"),
		  "%s", got);
	free(got);
}

Test(json, stream_error_is_reported)
{
	FILE *f = fopen("/dev/null", "r"); /* writes to a read-only stream set the error flag */
	struct uvs_alert a = { .kind = UVS_ALERT_LOOP_BLOCKED };

	cr_assert_not_null(f);
	build_snapshot();
	cr_expect_eq(uvs_json_interval(f, &snap), -EIO);
	cr_expect_eq(uvs_json_alert(f, &a), -EIO);
	fclose(f);
}

Test(json, threadpool_golden)
{
	struct uvs_snapshot *snap = calloc(1, sizeof(*snap));
	struct uvs_pool_snapshot *p = &snap->pool;
	char *got;

	snap->pid = 1;
	p->available = true;
	p->completion = true;
	p->size = 4;
	p->queued = 2;
	p->queued_max = 14;
	p->running = 4;
	p->saturation = 0.25;
	p->submitted = 30;
	p->completed = 28;
	p->sync_fs_on_loop = 3;
	p->sync_fs_on_loop_ns = 4500;
	p->kinds[UVS_POOL_FS] =
		(struct uvs_pool_kind_snapshot){ 20, 19, 100, 900, 2000, 9000, 300, 200000000 };
	p->kinds[UVS_POOL_CRYPTO] = (struct uvs_pool_kind_snapshot){ 10, 9, 5, 6, 7, 8, 9, 10 };
	p->ndns = 2;
	snprintf(p->dns[0].name, sizeof(p->dns[0].name), "api.example.com");
	p->dns[0].count = 5;
	snprintf(p->dns[1].name, sizeof(p->dns[1].name), "we\"ird");
	p->dns[1].count = 1;
	p->dns_estimated = true;
	p->fs_ops[6] = 12;  /* stat */
	p->fs_ops[1] = 4;   /* open */
	p->fs_ops[63] = 1;  /* beyond the names we know */
	got = RENDER(uvs_json_interval, snap);
	cr_expect(strstr(got,
			 "\"threadpool\":{\"size\":4,\"queued\":2,\"queued_max\":14,\"running\":4,"
			 "\"fs_io_uring\":false,\"completion\":true,\"saturation\":0.2500,"
			 "\"submitted\":30,\"completed\":28,\"sync_fs_on_loop\":3,"
			 "\"sync_fs_on_loop_ns\":4500,\"sync_fs_other\":0,\"kinds\":{"
			 "\"fs\":{\"submitted\":20,\"completed\":19,\"wait_p50_ns\":100,"
			 "\"wait_p99_ns\":900,\"service_p50_ns\":2000,\"service_p99_ns\":9000,"
			 "\"completion_p50_ns\":300,\"completion_p99_ns\":200000000,"
			 "\"ops\":{\"open\":4,\"stat\":12,\"unknown\":1}},"
			 "\"dns\":{\"submitted\":0,\"completed\":0,\"wait_p50_ns\":0,\"wait_p99_ns\":0,"
			 "\"service_p50_ns\":0,\"service_p99_ns\":0,\"completion_p50_ns\":0,"
			 "\"completion_p99_ns\":0,\"hosts\":[{\"name\":\"api.example.com\","
			 "\"count\":5},{\"name\":\"we\\\"ird\",\"count\":1}],\"hosts_estimated\":true},"
			 "\"crypto\":{\"submitted\":10,\"completed\":9,\"wait_p50_ns\":5,"
			 "\"wait_p99_ns\":6,\"service_p50_ns\":7,\"service_p99_ns\":8,"
			 "\"completion_p50_ns\":9,\"completion_p99_ns\":10},"),
		  "got %s", got);
	free(got);
	/* Without --pool-delay the completion delay is not measured: null, not 0. */
	p->completion = false;
	got = RENDER(uvs_json_interval, snap);
	cr_expect(strstr(got, "\"fs_io_uring\":false,\"completion\":false,"), "got %s", got);
	cr_expect(strstr(got, "\"crypto\":{\"submitted\":10,\"completed\":9,\"wait_p50_ns\":5,"
			      "\"wait_p99_ns\":6,\"service_p50_ns\":7,\"service_p99_ns\":8,"
			      "\"completion_p50_ns\":null,\"completion_p99_ns\":null}"), "got %s", got);
	free(got);
	free(snap);
}

Test(json, pool_alerts)
{
	struct uvs_alert sat = { .kind = UVS_ALERT_POOL_SATURATED, .pid = 42,
				 .ts_ns = 1732657803123456789ULL,
				 .severity = UVS_SEVERITY_WARNING,
				 .pool_saturated = { .saturation = 0.9035, .queued_max = 14,
						     .size = 2, .running = 2,
						     .window_ns = 200000000 } };
	struct uvs_alert sync = { .kind = UVS_ALERT_SYNC_IO_ON_LOOP, .pid = 42,
				  .ts_ns = 1732657803123456789ULL,
				  .state = UVS_ALERT_RESOLVED, .severity = UVS_SEVERITY_WARNING,
				  .firing_ns = 4000000000ULL,
				  .sync_io = { .count = 36, .total_ns = 812000,
					       .window_ns = 1000000000 } };
	char *got = RENDER(uvs_json_alert, &sat);

	cr_expect_str_eq(got, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"threadpool_saturated\","
			      "\"pid\":42,\"state\":\"firing\",\"severity\":\"warning\","
			      "\"saturation\":0.9035,\"queued_max\":14,\"size\":2,"
			      "\"running\":2,\"window_ns\":200000000,\"firing_ns\":0,"
			      "\"suppressed\":0,"
			      "\"ts_ns\":1732657803123456789}\n");
	free(got);
	got = RENDER(uvs_json_alert, &sync);
	cr_expect_str_eq(got, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"sync_io_on_loop\","
			      "\"pid\":42,\"state\":\"resolved\",\"severity\":\"warning\","
			      "\"count\":36,\"total_ns\":812000,\"window_ns\":1000000000,"
			      "\"firing_ns\":4000000000,\"suppressed\":0,"
			      "\"ts_ns\":1732657803123456789}\n");
	free(got);
}

/* The kinds the rules added: a loop's share, and the pool's queue wait. */
Test(json, rule_alerts)
{
	struct uvs_alert u = { .kind = UVS_ALERT_LOOP_UTILIZATION, .pid = 42, .ts_ns = 9,
			       .severity = UVS_SEVERITY_WARNING,
			       .loop_utilization = { .tid = 43, .role = UVS_ROLE_WORKER, .share = 0.97,
						     .threshold = 0.9, .window_ns = 1000000000 } };
	struct uvs_alert g = { .kind = UVS_ALERT_GC_SHARE, .pid = 42, .ts_ns = 9,
			       .state = UVS_ALERT_RESOLVED, .firing_ns = 31000000000ULL,
			       .gc_share = { .tid = 42, .role = UVS_ROLE_MAIN, .share = 0.1,
					     .threshold = 0.25, .window_ns = 1000000000 } };
	struct uvs_alert w = { .kind = UVS_ALERT_POOL_QUEUE_WAIT, .pid = 42, .ts_ns = 9,
			       .suppressed = 2,
			       .pool_queue_wait = { .pool_kind = UVS_POOL_CRYPTO,
						    .wait_p99_ns = 250000000,
						    .threshold_ns = 100000000,
						    .window_ns = 1000000000 } };
	char *got = RENDER(uvs_json_alert, &u);

	cr_expect_str_eq(got, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"loop_utilization\","
			      "\"pid\":42,\"state\":\"firing\",\"severity\":\"warning\",\"tid\":43,"
			      "\"role\":\"worker\",\"utilization\":0.9700,\"threshold\":0.9000,"
			      "\"window_ns\":1000000000,\"firing_ns\":0,\"suppressed\":0,"
			      "\"ts_ns\":9}\n");
	free(got);
	got = RENDER(uvs_json_alert, &g);
	cr_expect_str_eq(got, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"gc_share\","
			      "\"pid\":42,\"state\":\"resolved\",\"severity\":\"info\",\"tid\":42,"
			      "\"role\":\"main\",\"gc_share\":0.1000,\"threshold\":0.2500,"
			      "\"window_ns\":1000000000,\"firing_ns\":31000000000,"
			      "\"suppressed\":0,\"ts_ns\":9}\n");
	free(got);
	got = RENDER(uvs_json_alert, &w);
	cr_expect_str_eq(got, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"pool_queue_wait\","
			      "\"pid\":42,\"state\":\"firing\",\"severity\":\"info\","
			      "\"pool_kind\":\"crypto\",\"wait_p99_ns\":250000000,"
			      "\"threshold_ns\":100000000,\"window_ns\":1000000000,"
			      "\"firing_ns\":0,\"suppressed\":2,\"ts_ns\":9}\n");
	free(got);
}

Test(json, fds_and_fd_alerts)
{
	struct uvs_snapshot *snap = calloc(1, sizeof(*snap));
	struct uvs_alert limit = { .kind = UVS_ALERT_FD_LIMIT, .pid = 7, .ts_ns = 5,
				   .fd_limit = { .open = 820, .limit = 1024 } };
	struct uvs_alert growth = { .kind = UVS_ALERT_FD_GROWTH, .pid = 7, .ts_ns = 6,
				    .fd_growth = { .open = 130, .limit = 1024, .windows = 5 } };
	char *got;

	snap->fds = (struct uvs_fd_snapshot){ .available = true, .open = 431, .limit = 1024,
					      .growth = -3, .by_type = { 300, 100, 20, 10, 1 } };
	got = RENDER(uvs_json_interval, snap);
	cr_expect(strstr(got, ",\"fds\":{\"open\":431,\"limit\":1024,\"growth\":-3,\"by_type\":{"
			      "\"file\":300,\"socket\":100,\"pipe\":20,\"anon\":10,\"other\":1},"
			      "\"source\":\"proc\",\"drift\":null},"),
		  "%s", got);
	free(got);
	snap->fds.from_syscalls = true;
	got = RENDER(uvs_json_interval, snap);
	cr_expect(strstr(got, "\"source\":\"syscalls\",\"drift\":null}"), "%s", got);
	free(got);
	snap->fds.from_syscalls = false;
	snap->fds.rescanned = true;
	snap->fds.drift = -2;
	got = RENDER(uvs_json_interval, snap);
	cr_expect(strstr(got, "\"source\":\"proc\",\"drift\":-2}"), "%s", got);
	free(got);
	snap->fds.limit = UINT64_MAX;
	got = RENDER(uvs_json_interval, snap);
	cr_expect(strstr(got, "\"limit\":null"), "unlimited is null: %s", got);
	free(got);
	got = RENDER(uvs_json_alert, &limit);
	cr_expect_str_eq(got, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"fd_limit\",\"pid\":7,"
			      "\"state\":\"firing\",\"severity\":\"info\",\"open\":820,"
			      "\"limit\":1024,\"firing_ns\":0,\"suppressed\":0,\"ts_ns\":5}\n");
	free(got);
	got = RENDER(uvs_json_alert, &growth);
	cr_expect_str_eq(got, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"fd_growth\",\"pid\":7,"
			      "\"state\":\"firing\",\"severity\":\"info\",\"open\":130,"
			      "\"limit\":1024,\"windows\":5,\"firing_ns\":0,\"suppressed\":0,"
			      "\"ts_ns\":6}\n");
	free(got);
	free(snap);
}

Test(json, syscalls)
{
	struct uvs_snapshot *snap = calloc(1, sizeof(*snap));
	struct uvs_syscalls_snapshot *y = &snap->syscalls;
	char *got;

	y->available = true;
	y->slow_threshold_ns = 10000000;
	y->count = 12;
	y->errors = 1;
	y->role_count[UVS_SYS_LOOP] = 10;
	y->role_ns[UVS_SYS_LOOP] = 300500000;
	y->role_count[UVS_SYS_POOL] = 2;
	y->role_ns[UVS_SYS_POOL] = 40;
	y->nrows = 2;
	y->rows[0] = (struct uvs_syscall_row){ 202, UVS_SYS_LOOP, 1, 1, 300000000, 300000000,
					       300000000, 300000000 };
	y->rows[1] = (struct uvs_syscall_row){ 999, UVS_SYS_POOL, 2, 0, 40, 20, 20, 21 };
	y->nslow = 1;
	y->slow_count = 3;
	y->slow[0] = (struct uvs_slow_call){ 4242, UVS_ROLE_MAIN, 202, -110, 300000000, 77 };
	got = RENDER(uvs_json_interval, snap);
	cr_expect(strstr(got,
			 ",\"syscalls\":{\"count\":12,\"errors\":1,\"by_role\":{"
			 "\"loop\":{\"count\":10,\"total_ns\":300500000},"
			 "\"pool\":{\"count\":2,\"total_ns\":40},"
			 "\"other\":{\"count\":0,\"total_ns\":0}},\"calls\":["
			 "{\"name\":\"futex\",\"nr\":202,\"role\":\"loop\",\"count\":1,"
			 "\"errors\":1,\"total_ns\":300000000,\"p50_ns\":300000000,"
			 "\"p99_ns\":300000000,\"max_ns\":300000000},"
			 "{\"name\":\"syscall_999\",\"nr\":999,\"role\":\"pool\",\"count\":2,"
			 "\"errors\":0,\"total_ns\":40,\"p50_ns\":20,\"p99_ns\":20,\"max_ns\":21}],"
			 "\"calls_dropped\":0,\"slow_threshold_ns\":10000000,"
			 "\"slow_on_loop_count\":3,\"slow_on_loop\":[{\"tid\":4242,\"role\":\"main\","
			 "\"name\":\"futex\",\"nr\":202,\"duration_ns\":300000000,\"ret\":-110,"
			 "\"ts_ns\":77}],\"lost\":0},\"fds\":null"),
		  "got %s", got);
	free(got);
	free(snap);
}

Test(json, pool_job)
{
	struct uvs_pool_job_record crypto = { 77, 4251, UVS_POOL_CRYPTO, -1, 129100000, 61000000 };
	struct uvs_pool_job_record stat = { 78, 4252, UVS_POOL_FS, 6, 96000, 17400 };
	struct uvs_pool_job_record odd = { 79, 4252, UVS_POOL_FS, 63, 1, 2 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	uvs_json_pool_job(f, 4242, &crypto);
	uvs_json_pool_job(f, 4242, &stat);
	uvs_json_pool_job(f, 4242, &odd);
	cr_assert_eq(fclose(f), 0);
	cr_expect_str_eq(buf,
			 "{\"type\":\"pool_job\",\"schema\":1,\"pid\":4242,\"ts_ns\":77,\"tid\":4251,"
			 "\"kind\":\"crypto\",\"op\":null,\"wait_ns\":129100000,\"service_ns\":61000000}\n"
			 "{\"type\":\"pool_job\",\"schema\":1,\"pid\":4242,\"ts_ns\":78,\"tid\":4252,"
			 "\"kind\":\"fs\",\"op\":\"stat\",\"wait_ns\":96000,\"service_ns\":17400}\n"
			 "{\"type\":\"pool_job\",\"schema\":1,\"pid\":4242,\"ts_ns\":79,\"tid\":4252,"
			 "\"kind\":\"fs\",\"op\":\"unknown\",\"wait_ns\":1,\"service_ns\":2}\n");
	free(buf);
}

/* The overhead guard: its object in an interval and a summary, and its "guard" lines. */
Test(json, guard)
{
	struct uvs_guard_record r = {
		.ts_ns = 77, .action = UVS_GUARD_RECORD_DOWN, .step = "phases_off", .level = 1,
		.rate = 48210, .predicted = 5, .budget = 10000, .windows = 3, .phases_asked = true,
		.phases_off = true, .sample_hz = 99, .blocked_hz = 997, .rate_loop = 40000,
		.rate_pool = 6000, .rate_gc = 10, .rate_samples = 2200,
	};
	char *got;

	got = RENDER_GUARD(&r);
	cr_expect_str_eq(got, "{\"type\":\"guard\",\"schema\":1,\"pid\":4242,\"ts_ns\":77,"
			      "\"action\":\"down\",\"step\":\"phases_off\",\"level\":1,"
			      "\"rate\":48210,\"predicted\":null,\"budget\":10000,\"windows\":3,"
			      "\"phases\":\"off\",\"sample_hz\":99,\"blocked_hz\":997,"
			      "\"pool\":null,\"loop_hooks\":\"on\",\"rate_by_source\":{\"loop\":40000,\"pool\":6000,\"gc\":10,"
			      "\"samples\":2200},\"error\":null}\n");
	free(got);
	r = (struct uvs_guard_record){ .ts_ns = 78, .action = UVS_GUARD_RECORD_UP,
				       .step = "sampling_low", .level = 0, .rate = 120,
				       .predicted = 1300, .budget = 10000, .windows = 10 };
	got = RENDER_GUARD(&r);
	cr_expect_str_eq(got, "{\"type\":\"guard\",\"schema\":1,\"pid\":4242,\"ts_ns\":78,"
			      "\"action\":\"up\",\"step\":\"sampling_low\",\"level\":0,"
			      "\"rate\":120,\"predicted\":1300,\"budget\":10000,\"windows\":10,"
			      "\"phases\":null,\"sample_hz\":null,\"blocked_hz\":null,"
			      "\"pool\":null,\"loop_hooks\":\"on\","
			      "\"rate_by_source\":{\"loop\":0,\"pool\":0,\"gc\":0,\"samples\":0},"
			      "\"error\":null}\n");
	free(got);
	r = (struct uvs_guard_record){ .ts_ns = 80, .action = UVS_GUARD_RECORD_DOWN,
				       .step = "loop_hooks_off", .level = 1, .rate = 500000,
				       .budget = 2000, .windows = 3, .sample_hz = 99,
				       .blocked_hz = 997, .loop_hooks_off = true };
	got = RENDER_GUARD(&r);
	cr_expect_not_null(strstr(got, "\"step\":\"loop_hooks_off\""), "%s", got);
	cr_expect_not_null(strstr(got, "\"blocked_hz\":997,\"pool\":null,\"loop_hooks\":\"off\","), "%s", got);
	free(got);
	r = (struct uvs_guard_record){ .ts_ns = 79, .action = UVS_GUARD_RECORD_FAILED,
				       .step = "phases_off", .level = 1, .phases_asked = true,
				       .phases_off = true, .error = "cannot \"put\" back" };
	got = RENDER_GUARD(&r);
	cr_expect_not_null(strstr(got, "\"action\":\"failed\",\"step\":\"phases_off\""), "%s", got);
	cr_expect_not_null(strstr(got, "\"error\":\"cannot \\\"put\\\" back\"}"), "%s", got);
	free(got);
	r.action = UVS_GUARD_RECORD_EXHAUSTED;
	r.step = NULL;
	got = RENDER_GUARD(&r);
	cr_expect_not_null(strstr(got, "\"action\":\"exhausted\",\"step\":null"), "%s", got);
	cr_expect_not_null(strstr(got, "\"error\":null"), "%s", got);
	free(got);

	build_snapshot();
	snap.agent.probe_hits = 48210;
	snap.guard = (struct uvs_guard_snapshot){ .enabled = true, .budget = 10000, .rate = 48210,
						  .level = 2, .phases_asked = true,
						  .phases_off = true, .sample_hz = 9,
						  .blocked_hz = 99, .sampling_low = true,
						  .steps_down = 2, .steps_up = 1,
						  .phases_off_ns = 7, .sampling_low_ns = 4,
						  .loop_hooks_off = true,
						  .loop_hooks_off_ns = 3 };
	got = RENDER(uvs_json_interval, &snap);
	cr_expect_not_null(strstr(got, "\"probe_hits\":48210},\"guard\":{\"budget\":10000,"
				       "\"rate\":48210,\"level\":2,\"phases\":\"off\","
				       "\"sample_hz\":9,\"blocked_hz\":99,\"pool\":null,"
				       "\"loop_hooks\":\"off\"}}\n"), "%s", got);
	free(got);
	got = RENDER(uvs_json_summary, &snap);
	cr_expect_not_null(strstr(got, "\"guard\":{\"budget\":10000,\"rate\":48210,\"level\":2,"
				       "\"phases\":\"off\",\"sample_hz\":9,\"blocked_hz\":99,"
				       "\"pool\":null,\"loop_hooks\":\"off\",\"steps_down\":2,\"steps_up\":1,"
				       "\"phases_off_ns\":7,\"sampling_low_ns\":4,\"pool_off_ns\":0,"
				       "\"loop_hooks_off_ns\":3}}\n"), "%s", got);
	free(got);
	snap.guard.phases_off = false;
	got = RENDER(uvs_json_interval, &snap);
	cr_expect_not_null(strstr(got, "\"phases\":\"exact\""), "%s", got);
	free(got);
	/* The pool's step: where its figures come from, and how long the probes were out. */
	snap.guard.pool_asked = true;
	got = RENDER(uvs_json_interval, &snap);
	cr_expect_not_null(strstr(got, "\"blocked_hz\":99,\"pool\":\"probes\",\"loop_hooks\":\"off\"}"), "%s", got);
	free(got);
	snap.guard.pool_off = true;
	snap.guard.pool_off_ns = 12;
	got = RENDER(uvs_json_summary, &snap);
	cr_expect_not_null(strstr(got, "\"pool\":\"statics\",\"loop_hooks\":\"off\",\"steps_down\""), "%s", got);
	cr_expect_not_null(strstr(got, "\"pool_off_ns\":12,\"loop_hooks_off_ns\":3}"), "%s", got);
	free(got);
	r = (struct uvs_guard_record){ .ts_ns = 80, .action = UVS_GUARD_RECORD_DOWN,
				       .step = "pool_jobs_off", .level = 1, .pool_asked = true,
				       .pool_off = true };
	got = RENDER_GUARD(&r);
	cr_expect_not_null(strstr(got, "\"step\":\"pool_jobs_off\""), "%s", got);
	cr_expect_not_null(strstr(got, "\"pool\":\"statics\",\"loop_hooks\":\"on\",\"rate_by_source\""), "%s", got);
	free(got);
}
