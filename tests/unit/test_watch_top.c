// SPDX-License-Identifier: MIT
/* Human outputs: the `watch` lines and summary, and the `top` frame (80 columns at most). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "render/guard_text.h"
#include "render/top.h"
#include "render/watch.h"
#include "core/socket_list.h"
#include "util/text.h"

#define TS_215003 1732657803000000000ull /* 2024-11-26 21:50:03 UTC */

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

TestSuite(watch, .init = utc);
TestSuite(top, .init = utc);

static struct uvs_snapshot snap;

static void set_loop(struct uvs_loop_snapshot *l, int tid, enum uvs_role role, const char *comm)
{
	memset(l, 0, sizeof(*l));
	l->tid = tid;
	l->role = role;
	strncpy(l->comm, comm, sizeof(l->comm)); /* may fill all 16 bytes, no NUL */
}

static void build_snapshot(void)
{
	struct uvs_loop_snapshot *l;

	memset(&snap, 0, sizeof(snap));
	snap.ts_ns = TS_215003;
	snap.window_ns = 1000000000;
	snap.pid = 4242;
	snap.nloops = 2;

	l = &snap.loops[0];
	set_loop(l, 4242, UVS_ROLE_MAIN, "node");
	l->iterations = 1203;
	l->busy_ns = 412000000;
	l->idle_ns = 588000000;
	l->utilization = 0.412;
	l->busy_p50_ns = 120000;
	l->busy_p99_ns = 3200000;
	l->busy_max_ns = 12000000;
	l->blocks = 1;

	l = &snap.loops[1];
	set_loop(l, 4250, UVS_ROLE_WORKER, "WorkerThread");
	l->iterations = 7;
	l->busy_ns = 1000000000;
	l->utilization = 1;
	l->busy_p99_ns = 1200000000;
	l->busy_max_ns = 1200000000;
	l->blocked_now = true;
	l->blocked_for_ns = 1200000000;
}

static char *render_watch(int (*fn)(FILE *, const struct uvs_snapshot *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_expect_eq(fn(f, &snap), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

/* Renders one line with fn(FILE *, arg) into a string the caller frees. */
#define RENDER(fn, arg)                                                                    \
	({                                                                                 \
		char *buf_ = NULL;                                                          \
		size_t len_ = 0;                                                            \
		FILE *f_ = open_memstream(&buf_, &len_);                                    \
		cr_assert_not_null(f_);                                                     \
		cr_expect_eq(fn(f_, arg), 0);                                               \
		cr_assert_eq(fclose(f_), 0);                                                \
		buf_;                                                                       \
	})

static char *render_alert(const struct uvs_alert *a)
{
	return RENDER(uvs_watch_alert, a);
}

Test(watch, interval_line)
{
	char *got;

	build_snapshot();
	got = render_watch(uvs_watch_interval);
	cr_expect_str_eq(got, "21:50:03 main/4242 util 41.2% it 1203 p99 3.20ms max 12.0ms blocks 1"
			      " | worker/4250 util 100.0% it 7 p99 1.20s max 1.20s"
			      " BLOCKED 1.20s\n");
	free(got);
}

Test(watch, interval_with_sockets)
{
	char *got;

	build_snapshot();
	snap.nloops = 1;
	snap.sockets.available = snap.sockets.traced = true;
	snap.sockets.tcp_open = 13;
	snap.sockets.tcp_states[UVS_TCP_ESTABLISHED] = 6;
	snap.sockets.tcp_states[UVS_TCP_CLOSE_WAIT] = 4;
	snap.sockets.listeners = 2;
	snap.sockets.accept_queue_max = 3;
	snap.sockets.accept_queue_limit = 2;
	snap.sockets.connects = 5;
	snap.sockets.connect_p99_ns = 64512;
	snap.sockets.connect_failed = 4;
	snap.sockets.retransmits = 12;
	snap.sockets.udp_open = 1;
	got = render_watch(uvs_watch_interval);
	cr_expect_str_eq(got, "21:50:03 main/4242 util 41.2% it 1203 p99 3.20ms max 12.0ms blocks 1"
			      " | tcp 13 (est 6 cw 4 acceptq 3/2) conn 5 p99 64.5us failed 4"
			      " retrans 12 udp 1\n");
	free(got);
}

Test(watch, interval_without_loops)
{
	char *got;

	build_snapshot();
	snap.nloops = 0;
	got = render_watch(uvs_watch_interval);
	cr_expect_str_eq(got, "21:50:03 no event loop seen yet\n");
	free(got);
}

Test(watch, alert_lines)
{
	struct uvs_alert a = {
		.kind = UVS_ALERT_LOOP_BLOCKED,
		.pid = 4242,
		.ts_ns = TS_215003,
		.loop_blocked = { .tid = 4242, .role = UVS_ROLE_MAIN, .ongoing = true,
				  .blocked_ns = 250000000, .threshold_ns = 100000000 },
	};
	char *got = render_alert(&a);

	cr_expect_str_eq(got, "21:50:03 ALERT loop blocked: main loop (tid 4242) blocked for 250ms"
			      " so far (threshold 100ms)\n");
	free(got);

	a.loop_blocked.ongoing = false;
	a.loop_blocked.blocked_ns = 251000000;
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 ALERT loop blocked: main loop (tid 4242) was blocked for"
			      " 251ms\n");
	free(got);

	a.loop_blocked.role = UVS_ROLE_WORKER;
	a.loop_blocked.tid = 4250;
	got = render_alert(&a);
	cr_expect_not_null(strstr(got, ": worker loop (tid 4250) was blocked"), "%s", got);
	free(got);

	/* Busy already when uvscope attached: counted from then, and said to be a lower bound. */
	a.loop_blocked.since_attach = true;
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 ALERT loop blocked: worker loop (tid 4250) was blocked for"
			      " at least 251ms, busy since before uvscope attached\n");
	free(got);
	a.loop_blocked.ongoing = true;
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 ALERT loop blocked: worker loop (tid 4250) blocked for at"
			      " least 251ms so far, busy since before uvscope attached (threshold"
			      " 100ms)\n");
	free(got);
}

/* The rules' kinds, and a resolved alert: what ended and after how long. */
Test(watch, rule_alert_lines)
{
	struct uvs_alert a = {
		.kind = UVS_ALERT_LOOP_UTILIZATION,
		.pid = 4242,
		.ts_ns = TS_215003,
		.loop_utilization = { .tid = 4242, .role = UVS_ROLE_MAIN, .share = 0.953,
				      .threshold = 0.9 },
	};
	char *got = render_alert(&a);

	cr_expect_str_eq(got, "21:50:03 ALERT loop busy: main loop (tid 4242) 95.3% of the time"
			      " (threshold 90.0%)\n");
	free(got);
	a.kind = UVS_ALERT_GC_SHARE;
	a.gc_share = a.loop_utilization;
	a.gc_share.share = 0.31;
	a.gc_share.threshold = 0.25;
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 ALERT GC: in V8's collector: main loop (tid 4242) 31.0% of"
			      " the time (threshold 25.0%)\n");
	free(got);
	a.kind = UVS_ALERT_POOL_QUEUE_WAIT;
	a.pool_queue_wait = (struct uvs_alert_queue_wait){ .pool_kind = UVS_POOL_FS,
		.wait_p99_ns = 250000000, .threshold_ns = 100000000 };
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 ALERT pool queue wait: fs jobs waited 250ms for a thread"
			      " (p99; threshold 100ms)\n");
	free(got);
	a.state = UVS_ALERT_RESOLVED;
	a.firing_ns = 12000000000ULL;
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 RESOLVED pool_queue_wait, after 12.0s\n");
	free(got);
	/* A loop's alert says which loop when it resolves too: a process has several. */
	a.kind = UVS_ALERT_LOOP_UTILIZATION;
	a.loop_utilization = (struct uvs_alert_loop_share){ .tid = 4250, .role = UVS_ROLE_WORKER };
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 RESOLVED loop_utilization: worker loop (tid 4250), after "
			      "12.0s\n");
	free(got);
	a.state = UVS_ALERT_FIRING;
	a.kind = UVS_ALERT_FD_GROWTH;
	a.fd_growth.windows = 1;
	a.fd_growth.open = 90;
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 ALERT file descriptors grew in the last interval: 90 open "
			      "(a leak?)\n");
	free(got);
	a.fd_growth.windows = 3;
	got = render_alert(&a);
	cr_expect_str_eq(got, "21:50:03 ALERT file descriptors grew in each of the last 3 intervals: "
			      "90 open (a leak?)\n");
	free(got);
}

Test(watch, summary)
{
	struct uvs_loop_snapshot *l;
	char *got;
	int p;

	build_snapshot();
	snap.window_ns = 65000000000ull;
	l = &snap.loops[0];
	l->has_phases = true;
	for (p = 0; p < UVS_PHASE_COUNT; p++) {
		l->phases[p].count = 1203;
		l->phases[p].total_ns = 125000000; /* 1/8 of the loop's time each */
		l->phases[p].p99_ns = 210000;
		l->phases[p].max_ns = 4000000;
	}
	/* A hostile name, as collection hands it on: sanitized where it was read (util/text.h). */
	strcpy(snap.loops[1].comm, "bad\x1b[2Jname");
	uvs_sanitize(snap.loops[1].comm, sizeof(snap.loops[1].comm));
	got = render_watch(uvs_watch_summary);
	cr_expect(!strncmp(got, "21:50:03 summary: pid 4242, 1m05s, 2 loops\n", 43), "%s", got);
	cr_expect_not_null(strstr(got, "  main/4242 (node): 1203 iterations, util 41.2%, busy p50"
				       " 120us p99 3.20ms max 12.0ms, 1 blocked episode\n"),
			   "%s", got);
	cr_expect_not_null(strstr(got, "  worker/4250 (bad?[2Jname): 7 iterations, util 100.0%"),
			   "%s", got);
	/* Blocked at the end: counted as an episode only when it ends, so said apart. */
	cr_expect_not_null(strstr(got, ", 0 blocked episodes and one still going at the end "
				       "(blocked for 1.20s)\n"), "%s", got);
	cr_expect_not_null(strstr(got, "    phase       share      count     p99     max\n"),
			   "%s", got);
	cr_expect_not_null(strstr(got, "    timers      12.5%       1203   210us  4.00ms\n"),
			   "%s", got);
	cr_expect_not_null(strstr(got, "    close       12.5%       1203   210us  4.00ms\n"),
			   "%s", got);
	/* one phase table only: the worker has no phases */
	cr_expect_null(strstr(strstr(got, "    close ") + 1, "    close "), "%s", got);
	cr_expect_not_null(strstr(got, "events, 0 dropped, 0 insert failures\n"), "%s", got);
	cr_expect_null(strchr(got, '\x1b'), "escape from comm reached the terminal");
	free(got);
}

/* Host names past the exact budget are estimates: the summary marks them so. */
Test(watch, summary_dns_names_sampled)
{
	struct uvs_pool_snapshot *p = &snap.pool;
	char *got;

	build_snapshot();
	p->available = true;
	p->size = 4;
	p->submitted = p->kinds[UVS_POOL_DNS].submitted = 20000;
	p->ndns = 2;
	snprintf(p->dns[0].name, sizeof(p->dns[0].name), "127.1");
	p->dns[0].count = 14848;
	snprintf(p->dns[1].name, sizeof(p->dns[1].name), "127.01");
	p->dns[1].count = 5072;
	p->dns_estimated = true;
	got = render_watch(uvs_watch_summary);
	cr_expect_not_null(strstr(got, ", names (sampled): 127.1 ~14848, 127.01 ~5072"), "%s", got);
	free(got);
	p->dns_estimated = false;
	got = render_watch(uvs_watch_summary);
	cr_expect_not_null(strstr(got, ", names: 127.1 14848, 127.01 5072"), "%s", got);
	free(got);
}

/* Loop threads the table could not hold: said on the interval's line and in the summary. */
Test(watch, loops_left_out)
{
	char *got;

	build_snapshot();
	got = render_watch(uvs_watch_interval);
	cr_expect_null(strstr(got, "not shown"), "%s", got);
	free(got);
	snap.loops_left_out = 2;
	got = render_watch(uvs_watch_interval);
	cr_expect_not_null(strstr(got, " | 2 more loops not shown"), "%s", got);
	free(got);
	snap.loops_left_out = 17;
	got = render_watch(uvs_watch_summary);
	cr_expect_not_null(strstr(got, "  and 17 loop threads not listed (the table holds 64: "
				       "the first to exit made room)\n"), "%s", got);
	free(got);
}

/* ---- top ----------------------------------------------------------------------------------- */

static struct uvs_alert alerts[7];

static void build_busy_snapshot(struct uvs_top_context *ctx)
{
	static const char *const comms[] = {
		"node", "WorkerThread-01", "libuv-worker\t\xff", "0123456789abcdef", "inspector-io!!!",
		"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
	};
	static const enum uvs_role roles[] = {
		UVS_ROLE_MAIN, UVS_ROLE_WORKER, UVS_ROLE_THREADPOOL, UVS_ROLE_LOOP, UVS_ROLE_OTHER,
		UVS_ROLE_WORKER,
	};
	size_t i;
	int p;

	build_snapshot();
	snap.nloops = 6;
	snap.agent.events = 123456789012ull;
	snap.agent.drops = 4294967296ull;
	snap.agent.insert_failures = 77;
	for (i = 0; i < snap.nloops; i++) {
		struct uvs_loop_snapshot *l = &snap.loops[i];

		set_loop(l, 4194303 - (int)i, roles[i], comms[i]);
		l->iterations = 1234567 * (i + 1);
		l->busy_ns = 500000000;
		l->idle_ns = 500000000;
		l->utilization = 0.5;
		l->busy_p50_ns = 999500;
		l->busy_p99_ns = 3599499999999ull;
		l->busy_max_ns = 359999000000000ull; /* 99h59m59s */
		l->blocked_now = i % 2;
		l->blocked_for_ns = 3599000000000ull; /* 59m59s */
		l->has_phases = true;
		for (p = 0; p < UVS_PHASE_COUNT; p++) {
			l->phases[p].count = 18446744073709551615ull;
			l->phases[p].total_ns = 62500000 * (p + 1);
			l->phases[p].p99_ns = 59949999999ull;
			l->phases[p].max_ns = 3599499999999ull;
		}
	}
	for (i = 0; i < 7; i++) {
		alerts[i] = (struct uvs_alert){
			.kind = UVS_ALERT_LOOP_BLOCKED,
			.pid = 4242,
			.ts_ns = TS_215003 + 1000000000ull * i,
			.loop_blocked = { .tid = 4194303 - (int)i, .role = roles[i % 6],
					  .ongoing = i % 2, .blocked_ns = 1000000000ull * (i + 1),
					  .threshold_ns = 100000000 },
		};
	}
	snap.pool.available = true;
	snap.pool.size = 1024;
	snap.pool.queued = 123456789;
	snap.pool.queued_max = 123456789;
	snap.pool.running = 1024;
	snap.pool.saturation = 0.999;
	snap.pool.sync_fs_on_loop = 1234567;
	for (p = 0; p < UVS_POOL_KINDS; p++)
		snap.pool.kinds[p] = (struct uvs_pool_kind_snapshot){ 123456789012ull, 123456789012ull,
			3599499999999ull, 3599499999999ull, 3599499999999ull, 3599499999999ull };
	*ctx = (struct uvs_top_context){
		.pid = 4194303,
		.target = "/home/someone/.nvm/versions/node/v22.11.0/bin/a-rather-long-node-binary-name",
		.mode = "exact-phases",
		.libuv_version = "1.48.0-with-a-long-vendor-suffix",
		.block_threshold_ns = 100000000,
		.elapsed_ns = 7620000000000ull,
		.recent = alerts,
		.nrecent = 7,
	};
}

static char *render_top(const struct uvs_top_context *ctx)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_expect_eq(uvs_top_render(f, &snap, ctx), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

/* Columns of each line once ANSI escapes are dropped; every byte must be printable ASCII. */
static void expect_fits(const char *text, int width)
{
	const char *p = text;
	int lineno = 1, col = 0;

	for (; *p; p++) {
		if (*p == '\033') {
			p++;
			cr_assert_eq(*p, '[', "line %d: bad escape", lineno);
			while (p[1] && !((p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= 'a' && p[1] <= 'z')))
				p++;
			p++;
			continue;
		}
		if (*p == '\n') {
			cr_expect_leq(col, width, "line %d is %d columns", lineno, col);
			lineno++;
			col = 0;
			continue;
		}
		cr_expect(*p >= 0x20 && *p < 0x7f, "line %d: byte 0x%02x", lineno,
			  (unsigned char)*p);
		col++;
	}
	cr_expect_eq(col, 0, "last line not terminated");
}

static void expect_fits_80(const char *text)
{
	expect_fits(text, 80);
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/*
 * A terminal smaller than the view: lines cut to its width, fewer lines than it has, the
 * top of the view shown and the way out on the last line (a 40x10 window showed the wrapped,
 * scrolled-away tail of 75-column lines).
 */
Test(top, fits_a_small_terminal)
{
	struct uvs_top_context ctx;
	char *got;

	build_busy_snapshot(&ctx);
	ctx.ansi = true;
	ctx.cols = 40;
	ctx.rows = 10;
	got = render_top(&ctx);
	expect_fits(got, 40);
	/* One less than it has: the last line's newline would scroll the header away. */
	cr_expect_eq(count_lines(got), 9, "%s", got);
	cr_expect_not_null(strstr(got, "uvscope  pid"), "the header first: %s", got);
	cr_expect_not_null(strstr(got, "\nq or Ctrl-C to quit\n"), "%s", got);
	free(got);
	/* A tall, wide one: the whole view, 80 columns at most, as without a terminal. */
	ctx.cols = 300;
	ctx.rows = 200;
	got = render_top(&ctx);
	expect_fits(got, 80);
	ctx.cols = ctx.rows = 0;
	{
		char *plain = render_top(&ctx);

		cr_expect_str_eq(got, plain);
		free(plain);
	}
	free(got);
}

Test(top, fits_80_columns)
{
	struct uvs_top_context ctx;
	char *got;

	build_busy_snapshot(&ctx);
	got = render_top(&ctx);
	expect_fits_80(got);
	cr_expect_null(strchr(got, '\033'), "escapes without ansi");
	free(got);

	ctx.ansi = true;
	got = render_top(&ctx);
	expect_fits_80(got);
	cr_expect(!strncmp(got, "\033[H\033[2J", 7), "no clear at the start");
	cr_expect_not_null(strstr(got, "\033[1m"), "no bold header");
	free(got);
}

Test(top, extreme_values_fit_80_columns)
{
	struct uvs_top_context ctx;
	char *got;
	size_t i;

	build_busy_snapshot(&ctx);
	ctx.pid = INT_MAX;
	ctx.elapsed_ns = UINT64_MAX;
	ctx.block_threshold_ns = UINT64_MAX;
	snap.window_ns = 1;
	snap.agent.events = snap.agent.drops = snap.agent.insert_failures = UINT64_MAX;
	for (i = 0; i < snap.nloops; i++) {
		struct uvs_loop_snapshot *l = &snap.loops[i];

		l->tid = INT_MIN;
		l->role = (enum uvs_role)99;
		l->iterations = UINT64_MAX;
		l->busy_p50_ns = l->busy_p99_ns = l->busy_max_ns = UINT64_MAX;
		l->blocked_now = true;
		l->blocked_for_ns = UINT64_MAX;
		l->utilization = 1e300;
		l->has_gc = true;
		l->gc = (struct uvs_gc_snapshot){ UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
	}
	snap.pool.size = UINT32_MAX;
	snap.pool.queued = snap.pool.running = INT64_MIN;
	snap.pool.queued_max = snap.pool.sync_fs_on_loop = UINT64_MAX;
	snap.pool.saturation = -1;
	for (i = 0; i < UVS_POOL_KINDS; i++)
		snap.pool.kinds[i] = (struct uvs_pool_kind_snapshot){ UINT64_MAX, UINT64_MAX,
			UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
	snap.syscalls.available = true;
	snap.syscalls.count = snap.syscalls.errors = UINT64_MAX;
	for (i = 0; i < UVS_SYS_ROLES; i++)
		snap.syscalls.role_count[i] = UINT64_MAX;
	snap.syscalls.nrows = 3;
	for (i = 0; i < 3; i++)
		snap.syscalls.rows[i] = (struct uvs_syscall_row){ i ? 4294967295u : 450,
			(enum uvs_sys_role)i, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
			UINT64_MAX, UINT64_MAX };
	snap.sockets.available = snap.sockets.traced = true;
	for (i = 0; i < UVS_SOCK_STATES; i++)
		snap.sockets.tcp_states[i] = UINT64_MAX;
	snap.sockets.tcp_open = snap.sockets.listeners = snap.sockets.udp_open = UINT64_MAX;
	snap.sockets.accept_queue_max = snap.sockets.accept_queue_limit = UINT64_MAX;
	snap.sockets.accept_queue_full = snap.sockets.connects = snap.sockets.retransmits = UINT64_MAX;
	snap.sockets.connect_p50_ns = snap.sockets.connect_p99_ns = UINT64_MAX;
	snap.sockets.npeers = UVS_TOP_PEERS;
	for (i = 0; i < UVS_TOP_PEERS; i++) {
		snap.sockets.peers[i].family = 10;
		memset(snap.sockets.peers[i].addr, 0xff, 16);
		snap.sockets.peers[i].port = 65535;
		snap.sockets.peers[i].count = UINT64_MAX;
	}
	snap.syscalls.nslow = 2;
	snap.syscalls.slow_count = UINT64_MAX;
	for (i = 0; i < 2; i++)
		snap.syscalls.slow[i] = (struct uvs_slow_call){ INT_MIN, (enum uvs_role)99,
			i ? 4294967295u : 450, INT64_MIN, UINT64_MAX, UINT64_MAX };
	got = render_top(&ctx);
	expect_fits_80(got);
	free(got);
}

Test(top, content)
{
	struct uvs_top_context ctx;
	char *got;

	build_busy_snapshot(&ctx);
	got = render_top(&ctx);
	/* a long version is cut to 23 characters; the exe name, last, loses the rest */
	cr_expect(!strncmp(got, "uvscope  pid 4194303  libuv 1.48.0-with-a-long-vend  exact-phases"
				"  up 2h07m  a-r\n", 81),
		  "%s", got);
	cr_expect_not_null(strstr(got, "block threshold 100ms"), "%s", got);
	cr_expect_not_null(strstr(got, "drops 4294967296"), "%s", got);
	cr_expect_not_null(strstr(got, "    TID ROLE         UTIL   IT/S    P50    P99    MAX STATE"),
			   "%s", got);
	cr_expect_not_null(strstr(got, "\n4194303 main        50.0%  1234k 1.00ms 59m59s 100h00m ok"
				       "            node\n"),
			   "%s", got);
	cr_expect_not_null(strstr(got, "\n4194302 worker      50.0%  2469k 1.00ms 59m59s 100h00m"
				       " BLOCKED 59m59s WorkerThre\n"),
			   "%s", got);
	cr_expect_not_null(strstr(got, "threadpool"), "%s", got);
	cr_expect_not_null(strstr(got, "phases of main/4194303 (node)"), "%s", got);
	cr_expect_not_null(strstr(got, "phases of other/4194299 (inspector-io!!!)"), "%s", got);
	cr_expect_not_null(strstr(got, "phases of threadpool/4194301 (libuv-worker?\?)"), "%s",
			   got);
	cr_expect_not_null(strstr(got, "  PHASE      SHARE      COUNT     P99     MAX"), "%s", got);
	cr_expect_not_null(strstr(got, "  timers      6.3%"), "%s", got);
	cr_expect_not_null(strstr(got, "  close      50.0% 18446744073709551615   59.9s  59m59s\n"),
			   "%s", got);
	cr_expect_not_null(strstr(got, "  poll_wait"), "%s", got);
	cr_expect_not_null(strstr(got, "recent alerts"), "%s", got);
	/* the newest UVS_TOP_ALERTS (5) of 7, oldest first */
	cr_expect_null(strstr(got, "21:50:03  "), "%s", got);
	cr_expect_null(strstr(got, "21:50:04  "), "%s", got);
	cr_expect_not_null(strstr(got, "21:50:05  threadpool/4194301 was blocked for 3.00s\n"),
			   "%s", got);
	cr_expect_not_null(strstr(got, "21:50:08  worker/4194298 blocked for 6.00s so far\n"
				       "21:50:09  main/4194297 was blocked for 7.00s\n"),
			   "%s", got);
	cr_expect(strlen(got) > 20 && !strcmp(got + strlen(got) - 20, "q or Ctrl-C to quit\n"),
		  "%s", got);
	free(got);
}

Test(top, no_loops_no_phases_no_alerts)
{
	struct uvs_top_context ctx = { .pid = 1 };
	char *got;

	build_snapshot();
	snap.nloops = 0;
	got = render_top(&ctx);
	expect_fits_80(got);
	cr_expect(!strncmp(got, "uvscope  pid 1  libuv ?  ?  up 0  ?\n", 36), "%s", got);
	cr_expect_not_null(strstr(got, "no event loop seen yet"), "%s", got);
	cr_expect_null(strstr(got, "phases of"), "%s", got);
	cr_expect_null(strstr(got, "recent alerts"), "%s", got);
	free(got);
}

Test(top, epoll_mode_has_no_phase_tables)
{
	struct uvs_top_context ctx = { .pid = 4242, .target = "node", .mode = "epoll" };
	char *got;

	build_snapshot();
	got = render_top(&ctx);
	expect_fits_80(got);
	cr_expect_not_null(strstr(got, "   4242 main        41.2%   1203  120us 3.20ms 12.0ms ok"
				       "            node\n"),
			   "%s", got);
	cr_expect_not_null(strstr(got, " BLOCKED 1.20s WorkerThrea"), "%s", got);
	cr_expect_null(strstr(got, "phases of"), "%s", got);
	free(got);
}

Test(top, thread_pool_panel)
{
	struct uvs_top_context ctx;
	char *got;

	build_busy_snapshot(&ctx);
	memset(&snap.pool, 0, sizeof(snap.pool));
	snap.pool.available = true;
	snap.pool.size = 2;
	snap.pool.queued = 3;
	snap.pool.queued_max = 14;
	snap.pool.running = 2;
	snap.pool.saturation = 0.9035;
	snap.pool.kinds[UVS_POOL_CRYPTO] = (struct uvs_pool_kind_snapshot){ 16, 13, 150000000,
		290000000, 0, 21000000 };
	got = render_top(&ctx);
	cr_expect(strstr(got, "pool size 2  queued 3 (max 14)  running 2  saturated 90.4%  sync fs on loop 0\n"),
		  "%s", got);
	cr_expect(strstr(got, "  crypto         16         13      150ms        290ms       21.0ms"),
		  "%s", got);
	cr_expect(!strstr(got, "  zlib "), "kinds without work are left out");
	free(got);
}

Test(watch, pool_segment)
{
	char *got;

	build_snapshot();
	snap.pool.available = true;
	snap.pool.size = 4;
	snap.pool.queued = 1;
	snap.pool.queued_max = 9;
	snap.pool.running = 4;
	snap.pool.saturation = 0.5;
	snap.pool.kinds[UVS_POOL_FS].submitted = 27;
	snap.pool.kinds[UVS_POOL_DNS].submitted = 3;
	snap.pool.sync_fs_on_loop = 2;
	got = render_watch(uvs_watch_interval);
	cr_expect(strstr(got, " | pool q 1 (max 9) run 4/4 sat 50.0% fs 27 dns 3 sync-fs-on-loop 2\n"),
		  "%s", got);
	free(got);
}

/* ---- the overhead guard --------------------------------------------------------------------- */

static int guard_line(FILE *out, const struct uvs_guard_record *r)
{
	return uvs_guard_text_record(out, NULL, r);
}

static char *render_guard(const struct uvs_guard_record *r)
{
	return RENDER(guard_line, r);
}

Test(watch, guard_lines)
{
	struct uvs_guard_record r = {
		.ts_ns = TS_215003, .action = UVS_GUARD_RECORD_DOWN, .step = "phases_off",
		.level = 1, .rate = 48210, .budget = 10000, .windows = 3, .phases_asked = true,
		.phases_off = true, .sample_hz = 99, .blocked_hz = 997,
	};
	char *got = render_guard(&r);

	cr_expect_str_eq(got, "21:50:03 GUARD probe hits 48210/s over the budget of 10000/s for 3 "
			      "intervals: exact phases off (phase figures left out until they are "
			      "back)\n");
	free(got);
	r.step = "sampling_low";
	r.sample_hz = 9;
	r.blocked_hz = 99;
	got = render_guard(&r);
	cr_expect_not_null(strstr(got, ": stack sampling down to 9 Hz (99 Hz while a loop is "
				       "blocked)\n"), "%s", got);
	free(got);
	r.action = UVS_GUARD_RECORD_UP;
	r.rate = 120;
	r.predicted = 1300;
	r.windows = 10;
	r.sample_hz = 99;
	r.blocked_hz = 997;
	got = render_guard(&r);
	cr_expect_str_eq(got, "21:50:03 GUARD probe hits 120/s, about 1300/s with the step undone,"
			      " under half the budget of 10000/s for 10 intervals: stack sampling "
			      "back to 99 Hz (997 Hz while a loop is blocked)\n");
	free(got);
	r.step = "phases_off";
	got = render_guard(&r);
	cr_expect_not_null(strstr(got, ": exact phases back on (phase figures again from the next"
				       " interval)\n"), "%s", got);
	free(got);
	r.action = UVS_GUARD_RECORD_EXHAUSTED;
	r.step = NULL;
	r.rate = 30800;
	r.rate_loop = 8000;
	r.rate_pool = 20000;
	r.rate_gc = 800;
	r.rate_samples = 2000;
	r.windows = 3;
	got = render_guard(&r);
	cr_expect_str_eq(got, "21:50:03 GUARD probe hits 30800/s over the budget of 10000/s for 3 "
			      "intervals, and no step left that would save a tenth of it; what "
			      "stays: loop hooks 8000/s, pool probes 20000/s, GC probes 800/s, stack "
			      "samples 2000/s (as hits); about 1.5-2.8% of one CPU of the target "
			      "(--no-pool takes the pool's out)\n");
	free(got);
	r.rate_pool = 2000;
	r.rate_loop = 26000;
	got = render_guard(&r);
	cr_expect_null(strstr(got, "--no-pool"), "the pool is not the most of it: %s", got);
	free(got);
	r.action = UVS_GUARD_RECORD_FAILED;
	r.step = "phases_off";
	r.step_down = false;
	snprintf(r.error, sizeof(r.error), "cannot put the uprobes back: permission denied");
	got = render_guard(&r);
	cr_expect_str_eq(got, "21:50:03 GUARD cannot undo the step phases_off: cannot put the "
			      "uprobes back: permission denied; the step stays for the rest of the "
			      "session\n");
	free(got);
	/* The pool's step says what is lost, and what stays (libuv's statics). */
	r = (struct uvs_guard_record){ .ts_ns = TS_215003, .action = UVS_GUARD_RECORD_DOWN,
				       .step = "pool_jobs_off", .level = 1, .rate = 41980,
				       .budget = 10000, .windows = 3, .pool_asked = true,
				       .pool_off = true };
	got = render_guard(&r);
	cr_expect_str_eq(got, "21:50:03 GUARD probe hits 41980/s over the budget of 10000/s for 3 "
			      "intervals: pool probes out (pool size and queue from libuv's statics;"
			      " jobs per kind, wait, service and completions unavailable until they "
			      "are back)\n");
	free(got);
	r.action = UVS_GUARD_RECORD_UP;
	r.pool_off = false;
	got = render_guard(&r);
	cr_expect_not_null(strstr(got, ": pool probes back in (jobs per kind again from the next "
				       "full interval; jobs already in flight are left out, the queue"
				       " from libuv's statics until the pool is seen idle)\n"), "%s",
			   got);
	free(got);
}

Test(watch, guard_in_interval_and_summary)
{
	struct uvs_loop_snapshot *l;
	char *got;
	int p;

	build_snapshot();
	snap.nloops = 1;
	snap.guard = (struct uvs_guard_snapshot){ .enabled = true, .budget = 10000, .rate = 48210,
						  .level = 0, .phases_asked = true,
						  .sample_hz = 99, .blocked_hz = 997 };
	got = render_watch(uvs_watch_interval);
	cr_expect_null(strstr(got, "guard"), "level 0 says nothing: %s", got);
	free(got);
	snap.guard.level = 2;
	snap.guard.phases_off = true;
	snap.guard.sampling_low = true;
	snap.guard.sample_hz = 9;
	snap.guard.blocked_hz = 99;
	got = render_watch(uvs_watch_interval);
	cr_expect_str_eq(got, "21:50:03 main/4242 util 41.2% it 1203 p99 3.20ms max 12.0ms blocks 1"
			      " | guard 48210 hits/s: phases off, stacks 9 Hz (99 Hz blocked)\n");
	free(got);
	snap.guard.pool_asked = snap.guard.pool_off = true;
	got = render_watch(uvs_watch_interval);
	cr_expect_not_null(strstr(got, " | guard 48210 hits/s: phases off, stacks 9 Hz (99 Hz "
				       "blocked), pool probes out\n"), "%s", got);
	free(got);
	snap.guard.pool_off = false;

	/* The summary: phases out for part of the session cover only the rest of it. */
	snap.window_ns = 65000000000ull;
	snap.guard.steps_down = 2;
	snap.guard.steps_up = 1;
	snap.guard.phases_off_ns = 40000000000ull;
	snap.guard.sampling_low_ns = 20000000000ull;
	snap.guard.pool_off_ns = 5000000000ull;
	snap.guard.rate = 21000;
	l = &snap.loops[0];
	l->has_phases = true;
	for (p = 0; p < UVS_PHASE_COUNT; p++) {
		l->phases[p].count = 100;
		l->phases[p].total_ns = 50000000; /* 8 x 50ms: 400ms of the loop's 1s */
	}
	l->phases[UVS_PHASE_TIMERS].total_ns = 100000000;
	l->phases[UVS_PHASE_CHECK].total_ns = 0; /* still 400ms in all */
	got = render_watch(uvs_watch_summary);
	cr_expect_not_null(strstr(got, "    exact phases for 400ms of 1.00s (the guard had them off"
				       " the rest); shares of that time:\n"), "%s", got);
	cr_expect_not_null(strstr(got, "    timers      25.0%"), "%s", got);
	cr_expect_not_null(strstr(got, "    pending     12.5%"), "%s", got);
	cr_expect_not_null(strstr(got, "  guard: budget 10000 probe hits/s, 21000/s on average; 2 "
				       "steps down, 1 up; exact phases off for 40.0s; stacks at the "
				       "low rate for 20.0s; pool probes out for 5.00s\n"), "%s", got);
	free(got);
	/* The relative budget, when there is one, is said with the absolute one. */
	snap.guard.max_overhead_ppm = 25000;
	got = render_watch(uvs_watch_summary);
	cr_expect_not_null(strstr(got, "  guard: budget 10000 probe hits/s (or 2.5% of the target's "
				       "CPU when lower), 21000/s on average"), "%s", got);
	free(got);
	snap.guard.max_overhead_ppm = 0;
	/* Phases on all along: shares of the loop's whole time, as always. */
	snap.guard.phases_off_ns = 0;
	got = render_watch(uvs_watch_summary);
	cr_expect_null(strstr(got, "exact phases for"), "%s", got);
	cr_expect_not_null(strstr(got, "    timers      10.0%"), "%s", got);
	free(got);
	snap.guard.enabled = false;
	got = render_watch(uvs_watch_summary);
	cr_expect_null(strstr(got, "guard"), "%s", got);
	free(got);
}

Test(top, guard_line)
{
	struct uvs_top_context ctx;
	char *got;

	build_busy_snapshot(&ctx);
	snap.guard = (struct uvs_guard_snapshot){ .enabled = true, .budget = 10000, .rate = 48210,
						  .level = 1, .phases_asked = true,
						  .phases_off = true, .sample_hz = 99,
						  .blocked_hz = 997 };
	got = render_top(&ctx);
	cr_expect_not_null(strstr(got, "\nguard: phases off (probe hits 48210/s, budget 10000/s)\n"),
			   "%s", got);
	expect_fits_80(got);
	free(got);
	snap.guard.level = 0;
	snap.guard.phases_off = false;
	got = render_top(&ctx);
	cr_expect_null(strstr(got, "guard"), "%s", got);
	free(got);
}

/* libuv starts its pool at the first job: size 0 is said as a pool not started, not a pool of 0. */
Test(watch, summary_pool_not_started)
{
	char *got;

	build_snapshot();
	snap.pool.available = true;
	snap.pool.size = 0;
	snap.pool.submitted = 0;
	got = render_watch(uvs_watch_summary);
	cr_expect_not_null(strstr(got, "  pool: not started (libuv starts its threads at the first "
				       "job), 0 jobs, saturated 0.0%"), "%s", got);
	free(got);
	build_snapshot();
	snap.pool.available = true;
	snap.pool.size = 4;
	snap.pool.submitted = 27;
	got = render_watch(uvs_watch_summary);
	cr_expect_not_null(strstr(got, "  pool: size 4, 27 jobs,"), "%s", got);
	cr_expect_null(strstr(got, "jobs counted for"), "%s", got);
	free(got);
	/* The guard had the pool's probes out for part of the session: its jobs are the rest's. */
	snap.window_ns = 19200000000ull;
	snap.guard.enabled = true;
	snap.guard.pool_off_ns = 12500000000ull;
	got = render_watch(uvs_watch_summary);
	cr_expect_not_null(strstr(got, "  pool: size 4, 27 jobs,"), "%s", got);
	cr_expect_not_null(strstr(got, "\n    jobs counted for 6.70s of 19.2s (the guard had the "
				       "pool's probes out the rest)\n"), "%s", got);
	free(got);
}
