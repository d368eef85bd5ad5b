// SPDX-License-Identifier: MIT
/*
 * The /metrics page: the power-of-two histogram conversion against a brute-force count, label
 * escaping and cutting, HELP and TYPE lines in both formats, content negotiation, alert
 * counting, and a hand-built page that `promtool check metrics` must accept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "render/prom_writer.h"
#include "render/prometheus.h"
#include "serve/metrics_output.h"
#include "util/hist_math.h"
#include "text_count.h"

static struct uvs_snapshot totals, window;

/* Renders into a string the caller frees. */
static char *render(enum uvs_prom_format f, const struct uvs_prom_page *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	cr_assert_not_null(mem);
	cr_assert_eq(uvs_prom_write_page(mem, f, p), 0);
	cr_assert_eq(fclose(mem), 0);
	return buf;
}

/* ---- histogram conversion --------------------------------------------------------------------- */

Test(prom_hist, bounds_are_exact)
{
	static const uint64_t values[] = { 0, 7, 1023, 1024, 1025, 2047, 2048, 2049, 3000,
					   1ULL << 20, (1ULL << 20) - 1, 1ULL << 35,
					   (1ULL << 35) - 1, 1ULL << 40, UINT64_MAX };
	struct uvs_hist h = { 0 };
	struct uvs_hist_pow2 p;
	size_t i, n = sizeof(values) / sizeof(values[0]);

	for (i = 0; i < n; i++)
		uvs_hist_record(&h, values[i]);
	uvs_hist_to_pow2(&h, 12345, &p);
	cr_expect_eq(p.count, n);
	cr_expect_eq(p.sum_ns, 12345);
	for (unsigned int b = 0; b < UVS_POW2_BOUNDS; b++) {
		uint64_t below = 0;

		for (i = 0; i < n; i++)
			below += values[i] < uvs_pow2_bound_ns(b);
		cr_expect_eq(p.below[b], below, "bound 2^%u: %lu, want %lu", UVS_POW2_FIRST_LOG2 + b,
			     (unsigned long)p.below[b], (unsigned long)below);
	}
}

Test(prom_hist, random_values_agree_with_a_plain_count)
{
	static uint64_t values[20000];
	struct uvs_hist h = { 0 };
	struct uvs_hist_pow2 p;
	uint64_t x = 88172645463325252ULL;

	for (size_t i = 0; i < 20000; i++) {
		/* xorshift, spread over 0 .. 2^40 by a random shift */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		values[i] = x >> (24 + x % 40);
		uvs_hist_record(&h, values[i]);
	}
	uvs_hist_to_pow2(&h, 0, &p);
	for (unsigned int b = 0; b < UVS_POW2_BOUNDS; b++) {
		uint64_t below = 0;

		for (size_t i = 0; i < 20000; i++)
			below += values[i] < uvs_pow2_bound_ns(b);
		cr_expect_eq(p.below[b], below, "bound %u", b);
		if (b)
			cr_expect_geq(p.below[b], p.below[b - 1], "cumulative");
	}
	cr_expect_eq(p.count, 20000);
}

/* ---- writer primitives --------------------------------------------------------------------- */

Test(prom_writer, seconds_are_exact_decimals)
{
	char s[32];

	uvs_prom_format_seconds(0, s, sizeof(s));
	cr_expect_str_eq(s, "0");
	uvs_prom_format_seconds(1, s, sizeof(s));
	cr_expect_str_eq(s, "0.000000001");
	uvs_prom_format_seconds(1024, s, sizeof(s));
	cr_expect_str_eq(s, "0.000001024");
	uvs_prom_format_seconds(1500000000ULL, s, sizeof(s));
	cr_expect_str_eq(s, "1.5");
	uvs_prom_format_seconds(3000000000ULL, s, sizeof(s));
	cr_expect_str_eq(s, "3");
	uvs_prom_format_seconds(1ULL << 35, s, sizeof(s));
	cr_expect_str_eq(s, "34.359738368");
	uvs_prom_format_seconds(UINT64_MAX, s, sizeof(s));
	cr_expect_str_eq(s, "18446744073.709551615");
}

static char *one_family(enum uvs_prom_format f, const struct uvs_prom_family *fam,
			const char *comm)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct uvs_prom_writer w;

	uvs_prom_begin(&w, mem, f);
	uvs_prom_base_label(&w, "pid", "7", 16);
	uvs_prom_base_label(&w, "comm", comm, 15);
	uvs_prom_family(&w, fam);
	uvs_prom_u64(&w, "kind=\"fs\"", 3);
	uvs_prom_u64(&w, NULL, 4);
	cr_assert_eq(uvs_prom_end(&w), 0);
	fclose(mem);
	return buf;
}

Test(prom_writer, counter_help_and_type_in_both_formats)
{
	static const struct uvs_prom_family c = { "uvscope_x", UVS_PROM_COUNTER,
						  "A \"quoted\" help\\text\nwith a newline." };
	char *text = one_family(UVS_PROM_TEXT, &c, "node");
	char *om = one_family(UVS_PROM_OPENMETRICS, &c, "node");

	cr_expect_str_eq(text,
			 "# HELP uvscope_x_total A \"quoted\" help\\\\text\\nwith a newline.\n"
			 "# TYPE uvscope_x_total counter\n"
			 "uvscope_x_total{pid=\"7\",comm=\"node\",kind=\"fs\"} 3\n"
			 "uvscope_x_total{pid=\"7\",comm=\"node\"} 4\n");
	cr_expect_str_eq(om,
			 "# HELP uvscope_x A \\\"quoted\\\" help\\\\text\\nwith a newline.\n"
			 "# TYPE uvscope_x counter\n"
			 "uvscope_x_total{pid=\"7\",comm=\"node\",kind=\"fs\"} 3\n"
			 "uvscope_x_total{pid=\"7\",comm=\"node\"} 4\n"
			 "# EOF\n");
	free(text);
	free(om);
}

Test(prom_writer, label_values_are_escaped_cut_and_made_safe)
{
	static const struct uvs_prom_family g = { "uvscope_g", UVS_PROM_GAUGE, "g" };
	char *a = one_family(UVS_PROM_TEXT, &g, "a\"b\\c");
	char *b = one_family(UVS_PROM_TEXT, &g, "x\ny\033[2Jz");
	/* 14 ASCII bytes then a 2-byte character: the cut at 15 leaves half of it. */
	char *c = one_family(UVS_PROM_TEXT, &g, "abcdefghijklmn\xc3\xa9tail");
	char *d = one_family(UVS_PROM_TEXT, &g, "0123456789abcdefghij");

	cr_expect(strstr(a, "comm=\"a\\\"b\\\\c\""), "%s", a);
	cr_expect(strstr(b, "comm=\"x?y?[2Jz\""), "control bytes never reach a scraper: %s", b);
	cr_expect(strstr(c, "comm=\"abcdefghijklmn?\""), "%s", c);
	cr_expect(strstr(d, "comm=\"0123456789abcde\""), "at most 15 bytes: %s", d);
	free(a);
	free(b);
	free(c);
	free(d);
}

Test(prom_writer, empty_family_writes_nothing)
{
	static const struct uvs_prom_family g = { "uvscope_g", UVS_PROM_GAUGE, "g" };
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct uvs_prom_writer w;

	uvs_prom_begin(&w, mem, UVS_PROM_TEXT);
	uvs_prom_family(&w, &g);
	uvs_prom_end(&w);
	fclose(mem);
	cr_expect_str_eq(buf, "");
	free(buf);
}

Test(prom_writer, histogram_lines)
{
	static const struct uvs_prom_family h = { "uvscope_h_seconds", UVS_PROM_HISTOGRAM, "h" };
	struct uvs_hist_pow2 p = { .count = 5, .sum_ns = 2500000000ULL };
	char *buf = NULL;
	size_t len = 0, lines = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct uvs_prom_writer w;

	for (unsigned int i = 0; i < UVS_POW2_BOUNDS; i++)
		p.below[i] = i < 3 ? 0 : i < 10 ? 2 : 4;
	uvs_prom_begin(&w, mem, UVS_PROM_TEXT);
	uvs_prom_family(&w, &h);
	uvs_prom_histogram(&w, "tid=\"1\"", &p);
	uvs_prom_end(&w);
	fclose(mem);
	cr_expect(strstr(buf, "# TYPE uvscope_h_seconds histogram\n"), "%s", buf);
	cr_expect(strstr(buf, "uvscope_h_seconds_bucket{tid=\"1\",le=\"0.000001024\"} 0\n"));
	cr_expect(strstr(buf, "uvscope_h_seconds_bucket{tid=\"1\",le=\"0.000524288\"} 2\n"));
	cr_expect(strstr(buf, "uvscope_h_seconds_bucket{tid=\"1\",le=\"34.359738368\"} 4\n"));
	cr_expect(strstr(buf, "uvscope_h_seconds_bucket{tid=\"1\",le=\"+Inf\"} 5\n"));
	cr_expect(strstr(buf, "uvscope_h_seconds_sum{tid=\"1\"} 2.5\n"));
	cr_expect(strstr(buf, "uvscope_h_seconds_count{tid=\"1\"} 5\n"));
	for (char *s = buf; (s = strstr(s, "_bucket{")); s++)
		lines++;
	cr_expect_eq(lines, UVS_POW2_BOUNDS + 1);
	free(buf);
}

/* ---- content negotiation -------------------------------------------------------------------- */

Test(prom_negotiate, accept_headers)
{
	static const struct {
		const char *accept;
		enum uvs_prom_format want;
	} cases[] = {
		{ NULL, UVS_PROM_TEXT },
		{ "", UVS_PROM_TEXT },
		{ "*/*", UVS_PROM_TEXT },
		{ "text/plain", UVS_PROM_TEXT },
		/* What Prometheus 2.x sends. */
		{ "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		  "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		  UVS_PROM_OPENMETRICS },
		{ "text/plain;q=0.5, Application/OpenMetrics-Text ; q=0.9", UVS_PROM_OPENMETRICS },
		{ "application/openmetrics-text;q=0", UVS_PROM_TEXT },
		{ "application/openmetrics-text; q=0.000", UVS_PROM_TEXT },
		{ "application/openmetrics-text;q=1.000", UVS_PROM_OPENMETRICS },
		{ "application/openmetrics-text;q=1.5", UVS_PROM_TEXT },
		{ "application/openmetrics-text;q=0.0001", UVS_PROM_TEXT },
		{ "application/openmetrics-text;q=abc", UVS_PROM_TEXT },
		{ "application/openmetrics-text;q=", UVS_PROM_TEXT },
		{ "application/openmetrics-textx", UVS_PROM_TEXT },
		{ "application/openmetrics", UVS_PROM_TEXT },
		{ ",,;;,application/openmetrics-text", UVS_PROM_OPENMETRICS },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(uvs_prom_negotiate(cases[i].accept), cases[i].want, "Accept: %s",
			     cases[i].accept ? cases[i].accept : "(none)");
}

/* ---- alert counting -------------------------------------------------------------------- */

Test(prom_alerts, one_count_per_blocked_episode)
{
	int ongoing[UVS_MAX_LOOPS] = { 0 };
	struct uvs_alert a = { .kind = UVS_ALERT_LOOP_BLOCKED };
	int fired = 0;

	/* tid 10: ongoing, then its end; tid 11: an end only (it ended between checks). */
	a.loop_blocked = (struct uvs_alert_loop_blocked){ .tid = 10, .ongoing = true };
	fired += uvs_metrics_alert_fires(&a, ongoing);
	a.loop_blocked = (struct uvs_alert_loop_blocked){ .tid = 11, .ongoing = false };
	fired += uvs_metrics_alert_fires(&a, ongoing);
	a.loop_blocked = (struct uvs_alert_loop_blocked){ .tid = 10, .ongoing = false };
	fired += uvs_metrics_alert_fires(&a, ongoing);
	cr_expect_eq(fired, 2);
	/* tid 10 again: a new episode counts again. */
	a.loop_blocked = (struct uvs_alert_loop_blocked){ .tid = 10, .ongoing = true };
	cr_expect(uvs_metrics_alert_fires(&a, ongoing));
	a.kind = UVS_ALERT_FD_GROWTH;
	cr_expect(uvs_metrics_alert_fires(&a, ongoing));
}

/* ---- the page ------------------------------------------------------------------------------ */

static void build(void)
{
	struct uvs_loop_snapshot *l;

	memset(&totals, 0, sizeof(totals));
	totals.pid = 4242;
	totals.nloops = 2;
	l = &totals.loops[0];
	l->tid = 4242;
	l->role = UVS_ROLE_MAIN;
	l->iterations = 1203;
	l->busy_ns = 412300000;
	l->idle_ns = 5587700000;
	l->blocks = 2;
	l->blocked_ns = 350000000;
	l->has_gc = true;
	l->gc.count = 9;
	l->gc.total_ns = 12000000;
	l->busy_hist.count = 1203;
	l->busy_hist.sum_ns = 412300000;
	for (int i = 0; i < UVS_POW2_BOUNDS; i++)
		l->busy_hist.below[i] = i < 5 ? 0 : i < 12 ? 1100 : i < 20 ? 1201 : 1203;
	totals.loops[1] = totals.loops[0];
	totals.loops[1].tid = 4250;
	totals.loops[1].role = UVS_ROLE_WORKER;
	totals.loops[1].has_gc = false;
	totals.pool.available = true;
	totals.pool.kinds[UVS_POOL_FS].submitted = 27;
	totals.pool.kinds[UVS_POOL_FS].completed = 27;
	totals.pool.kinds[UVS_POOL_CRYPTO].submitted = 4;
	totals.pool.kinds[UVS_POOL_CRYPTO].completed = 3;
	totals.pool.kinds[UVS_POOL_FS].wait_hist.count = 27;
	totals.pool.kinds[UVS_POOL_FS].wait_hist.below[UVS_POW2_BOUNDS - 1] = 27;
	totals.syscalls.available = true;
	totals.syscalls.role_count[UVS_SYS_LOOP] = 5000;
	totals.syscalls.errors = 3;
	totals.sockets.traced = true;
	totals.sockets.accepted = 17;
	totals.sockets.retransmits = 2;
	totals.agent.drops = 1;

	window = totals;
	window.ts_ns = 1796539334564888330ULL;
	window.loops[0].utilization = 0.0716;
	window.loops[1].utilization = 0.25;
	window.loops[1].blocked_for_ns = 120000000;
	window.pool.size = 4;
	window.pool.queued = 2;
	window.pool.running = 4;
	window.pool.saturation = 0.5;
	window.fds.available = true;
	window.fds.limit = 1048576;
	window.fds.by_type[UVS_FD_SOCKET] = 12;
	window.fds.by_type[UVS_FD_FILE] = 3;
	window.sockets.available = true;
	window.sockets.tcp_states[1] = 6; /* ESTABLISHED */
	window.sockets.tcp_states[10] = 1; /* LISTEN */
	window.sockets.accept_queue_limit = 511;
}

static const uint64_t alert_counts[UVS_PROM_ALERT_KINDS] = { [UVS_ALERT_LOOP_BLOCKED] = 2 };

static struct uvs_prom_page page(void)
{
	build();
	return (struct uvs_prom_page){
		.target = { .pid = 4242, .comm = "node", .container = "", .node_version = "v20.20.2",
			    .libuv_version = "1.46.0", .mode = "epoll" },
		.totals = &totals, .window = &window, .alerts = alert_counts };
}

Test(prom_page, figures_and_labels)
{
	struct uvs_prom_page p = page();
	char *s = render(UVS_PROM_TEXT, &p);
	const char *base = "pid=\"4242\",comm=\"node\",container=\"\"";
	char want[256];

#define HAS(...)                                                    \
	do {                                                        \
		snprintf(want, sizeof(want), __VA_ARGS__);          \
		cr_expect(strstr(s, want), "missing: %s", want);    \
	} while (0)
	HAS("uvscope_loop_iterations_total{%s,tid=\"4242\",role=\"main\"} 1203\n", base);
	HAS("uvscope_loop_busy_seconds_total{%s,tid=\"4242\",role=\"main\"} 0.4123\n", base);
	HAS("uvscope_loop_idle_seconds_total{%s,tid=\"4242\",role=\"main\"} 5.5877\n", base);
	HAS("uvscope_loop_blocked_episodes_total{%s,tid=\"4250\",role=\"worker\"} 2\n", base);
	HAS("uvscope_loop_blocked_seconds_total{%s,tid=\"4242\",role=\"main\"} 0.35\n", base);
	HAS("uvscope_loop_gc_collections_total{%s,tid=\"4242\",role=\"main\"} 9\n", base);
	HAS("uvscope_loop_utilization_ratio{%s,tid=\"4250\",role=\"worker\"} 0.25\n", base);
	HAS("uvscope_loop_blocked_now_seconds{%s,tid=\"4250\",role=\"worker\"} 0.12\n", base);
	HAS("uvscope_loop_busy_per_iteration_seconds_bucket{%s,tid=\"4242\",role=\"main\","
	    "le=\"+Inf\"} 1203\n", base);
	HAS("uvscope_pool_jobs_submitted_total{%s,kind=\"fs\"} 27\n", base);
	HAS("uvscope_pool_jobs_completed_total{%s,kind=\"crypto\"} 3\n", base);
	HAS("uvscope_pool_wait_seconds_count{%s,kind=\"fs\"} 27\n", base);
	HAS("uvscope_pool_queued_jobs{%s} 2\n", base);
	HAS("uvscope_pool_saturation_ratio{%s} 0.5\n", base);
	HAS("uvscope_syscalls_total{%s,role=\"loop\"} 5000\n", base);
	HAS("uvscope_fds_open{%s,type=\"socket\"} 12\n", base);
	HAS("uvscope_fds_limit{%s} 1048576\n", base);
	HAS("uvscope_tcp_sockets{%s,state=\"ESTABLISHED\"} 6\n", base);
	HAS("uvscope_tcp_sockets{%s,state=\"CLOSE_WAIT\"} 0\n", base);
	HAS("uvscope_tcp_connections_accepted_total{%s} 17\n", base);
	HAS("uvscope_alerts_total{%s,kind=\"loop_blocked\"} 2\n", base);
	HAS("uvscope_alerts_total{%s,kind=\"retransmit_rate\"} 0\n", base);
	HAS("uvscope_agent_lost_events_total{%s} 1\n", base);
	HAS("uvscope_last_interval_timestamp_seconds{%s} 1796539334.56488833\n", base);
	HAS("uvscope_target_info{%s,node_version=\"v20.20.2\",libuv_version=\"1.46.0\","
	    "mode=\"epoll\"} 1\n", base);
	HAS("# TYPE uvscope_target_info gauge\n");
	/* The worker's GC is not measured: no series rather than a zero. */
	cr_expect(!strstr(s, "uvscope_loop_gc_collections_total{pid=\"4242\",comm=\"node\","
			     "container=\"\",tid=\"4250\""));
	/* Every sample line carries the target's labels. */
	for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n"))
		if (line[0] != '#')
			cr_expect(strstr(line, base), "unlabelled: %s", line);
	free(s);
#undef HAS
}

Test(prom_page, what_is_not_measured_is_absent)
{
	struct uvs_prom_page p = page();
	char *s;

	totals.pool.available = false;
	totals.syscalls.available = false;
	totals.sockets.traced = false;
	window.fds.available = false;
	window.sockets.available = false;
	p.window = NULL;
	s = render(UVS_PROM_TEXT, &p);
	cr_expect(!strstr(s, "uvscope_pool_"), "%s", s);
	cr_expect(!strstr(s, "uvscope_syscall"));
	cr_expect(!strstr(s, "uvscope_tcp_"));
	cr_expect(!strstr(s, "uvscope_fds_"));
	cr_expect(!strstr(s, "uvscope_loop_utilization_ratio"), "gauges need an interval");
	cr_expect(!strstr(s, "uvscope_last_interval_timestamp_seconds"));
	cr_expect(strstr(s, "uvscope_loop_iterations_total"), "counters come from the totals");
	free(s);
}

/*
 * A loop whose thread exited leaves the page; a new thread of the process with its tid has one
 * series, its own (a page with both repeated the labels, which Prometheus rejects).
 */
Test(prom_page, exited_loops_leave_the_page)
{
	struct uvs_prom_page p = page();
	char *s;

	totals.nloops = 3;
	totals.loops[1].exited = true; /* worker 4250, gone */
	totals.loops[2] = totals.loops[1];
	totals.loops[2].exited = false; /* a new worker given tid 4250 */
	totals.loops[2].iterations = 7;
	s = render(UVS_PROM_TEXT, &p);
	cr_expect(strstr(s, "uvscope_loop_iterations_total{pid=\"4242\",comm=\"node\",container=\"\","
			    "tid=\"4250\",role=\"worker\"} 7\n"), "%s", s);
	cr_expect(!strstr(s, "uvscope_loop_iterations_total{pid=\"4242\",comm=\"node\",container=\"\","
			     "tid=\"4250\",role=\"worker\"} 1203\n"), "the gone one: %s", s);
	totals.nloops = 2;
	free(s);
	s = render(UVS_PROM_TEXT, &p);
	cr_expect(!strstr(s, "uvscope_loop_iterations_total{pid=\"4242\",comm=\"node\",container=\"\","
			     "tid=\"4250\""), "%s", s);
	free(s);
}

Test(prom_page, openmetrics_shape)
{
	struct uvs_prom_page p = page();
	char *s = render(UVS_PROM_OPENMETRICS, &p);
	size_t n = strlen(s);

	cr_expect(strstr(s, "# TYPE uvscope_loop_iterations counter\n"), "%s", s);
	cr_expect(strstr(s, "\nuvscope_loop_iterations_total{"));
	cr_expect(!strstr(s, "# TYPE uvscope_loop_iterations_total"));
	cr_expect(strstr(s, "# TYPE uvscope_pool_wait_seconds histogram\n"));
	cr_expect(strstr(s, "# TYPE uvscope_target info\nuvscope_target_info{"), "%s", s);
	cr_assert_geq(n, 6);
	cr_expect_str_eq(s + n - 6, "# EOF\n", "ends with # EOF");
	cr_expect_eq(strstr(s, "# EOF"), s + n - 6, "only at the end");
	free(s);
}

/* The text format as Prometheus itself checks it (promtool, from scripts/install-deps.sh). */
static void expect_promtool_passes(const char *page)
{
	FILE *tool = popen("promtool check metrics > /dev/null 2>&1", "w");
	int status;

	cr_assert_not_null(tool, "promtool cannot be started (scripts/install-deps.sh)");
	fputs(page, tool);
	status = pclose(tool);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "promtool check metrics failed (status %d) on:\n%s", status, page);
}

Test(prom_page, promtool_accepts_the_page)
{
	struct uvs_prom_page p = page();
	char *s = render(UVS_PROM_TEXT, &p);

	expect_promtool_passes(s);
	free(s);
}

/* ---- several targets on one page (serve -p A,B, --all) ---------------------------------------- */

/* The pages the metrics output put out, as the HTTP server would get them. */
struct pages {
	char *page[2];
	int published;
};

static int keep_page(void *arg, enum uvs_prom_format f, char *buf, size_t len)
{
	struct pages *p = arg;

	(void)len;
	free(p->page[f]);
	p->page[f] = buf;
	p->published += f == UVS_PROM_TEXT; /* a page is put out in both formats */
	return 0;
}

#define PID_A 4242
#define PID_B 5151

static struct uvs_snapshot totals_b;

/* pid A: the fixture above; pid B: other figures; any other pid: a target with nothing yet. */
static int two_totals(void *ctx, int pid, struct uvs_snapshot *out)
{
	(void)ctx;
	if (pid == PID_A)
		*out = totals;
	else if (pid == PID_B)
		*out = totals_b;
	else if (pid > 0)
		memset(out, 0, sizeof(*out)), out->pid = pid;
	else
		return -ESRCH;
	return 0;
}

static const struct uvs_output_source two_source = { .totals = two_totals };

static struct uvs_output *two_targets(struct pages *pages, struct uvs_snapshot *win_b)
{
	struct uvs_output *o = uvs_metrics_output_new_to(keep_page, pages);
	struct uvs_attach_info a = { .pid = PID_A, .comm = "node", .container = "",
				     .node_version = "v20.20.2", .libuv_version = "1.46.0",
				     .mode = "epoll" };

	cr_assert_not_null(o);
	o->source = &two_source;
	build();
	totals_b = totals;
	totals_b.pid = PID_B;
	totals_b.nloops = 1;
	totals_b.loops[0].tid = PID_B;
	totals_b.loops[0].iterations = 77;
	totals_b.pool.available = false; /* B's pool is not followed: its families lack B */
	*win_b = window;
	win_b->pid = PID_B;
	win_b->nloops = 1;
	win_b->loops[0] = totals_b.loops[0];
	win_b->loops[0].utilization = 0.5;
	window.pid = PID_A;
	memset(pages, 0, sizeof(*pages));
	cr_assert_eq(o->ops->begin(o, &a), 0);
	a.pid = PID_B;
	a.comm = "api \"v2\"";
	a.node_version = "v22.1.0";
	a.container = "4f0c1ab2e3d4";
	cr_assert_eq(o->ops->begin(o, &a), 0);
	return o;
}

static void free_output(struct uvs_output *o)
{
	struct uvs_outputs l = { 0 };

	cr_assert_eq(uvs_outputs_add(&l, o, &two_source), 0);
	uvs_outputs_free(&l);
}

static void free_pages(struct pages *p)
{
	free(p->page[0]);
	free(p->page[1]);
}

/* Each "# TYPE name" once (both formats want a family's samples together under it). */
static size_t expect_each_family_once(const char *page)
{
	size_t families = 0;

	for (const char *t = strstr(page, "# TYPE "); t; t = strstr(t + 1, "# TYPE ")) {
		char name[128];
		const char *sp = strchr(t + 7, ' ');

		cr_assert_not_null(sp);
		snprintf(name, sizeof(name), "%.*s", (int)(sp - t + 1), t);
		cr_expect_null(strstr(sp, name), "%s twice", name);
		families++;
	}
	return families;
}

Test(prom_targets, both_on_one_page_each_family_once)
{
	struct uvs_snapshot win_b;
	struct pages pages;
	struct uvs_output *o = two_targets(&pages, &win_b);
	const char *text, *om;

	cr_expect_eq(pages.published, 1, "the first page at once, the second target at its round");
	cr_assert_eq(o->ops->interval(o, &window), 0);
	cr_expect_eq(pages.published, 1, "B has no interval in this round yet");
	cr_assert_eq(o->ops->interval(o, &win_b), 0);
	cr_expect_eq(pages.published, 2, "the round is over: one page for both");
	text = pages.page[UVS_PROM_TEXT];
	om = pages.page[UVS_PROM_OPENMETRICS];
	cr_expect(strstr(text, "uvscope_loop_iterations_total{pid=\"4242\",comm=\"node\","
			       "container=\"\",tid=\"4242\",role=\"main\"} 1203\n"), "%s", text);
	cr_expect(strstr(text, "uvscope_loop_iterations_total{pid=\"5151\",comm=\"api \\\"v2\\\"\","
			       "container=\"4f0c1ab2e3d4\",tid=\"5151\",role=\"main\"} 77\n"), "%s", text);
	cr_expect(strstr(text, "uvscope_loop_utilization_ratio{pid=\"5151\",comm=\"api \\\"v2\\\"\","
			       "container=\"4f0c1ab2e3d4\",tid=\"5151\",role=\"main\"} 0.5\n"));
	cr_expect(strstr(text, "uvscope_target_info{pid=\"5151\",comm=\"api \\\"v2\\\"\","
			       "container=\"4f0c1ab2e3d4\",node_version=\"v22.1.0\","
			       "libuv_version=\"1.46.0\",mode=\"epoll\"} 1\n"), "%s", text);
	cr_expect(strstr(text, "uvscope_pool_jobs_submitted_total{pid=\"4242\""));
	cr_expect(!strstr(text, "uvscope_pool_jobs_submitted_total{pid=\"5151\""),
		  "B's pool is not measured");
	cr_expect_eq(count(text, "uvscope_agent_lost_events_total{"), 2);
	cr_expect_eq(count(text, "uvscope_last_interval_timestamp_seconds{"), 2);
	cr_expect_eq(expect_each_family_once(text), 37, "every family of the page, once");
	cr_expect_eq(expect_each_family_once(om), 37);
	cr_expect_eq(count(om, "# EOF"), 1);
	expect_promtool_passes(text);
	free_output(o);
	free_pages(&pages);
}

Test(prom_targets, alerts_are_counted_per_pid)
{
	struct uvs_snapshot win_b;
	struct pages pages;
	struct uvs_output *o = two_targets(&pages, &win_b);
	struct uvs_alert a = { .kind = UVS_ALERT_LOOP_BLOCKED, .pid = PID_B,
			       .loop_blocked = { .tid = PID_B, .ongoing = true } };
	const char *text;

	cr_assert_eq(o->ops->alert(o, &a), 0);
	a.loop_blocked.ongoing = false; /* the end of the same episode: not counted again */
	cr_assert_eq(o->ops->alert(o, &a), 0);
	a = (struct uvs_alert){ .kind = UVS_ALERT_FD_LIMIT, .pid = PID_A };
	cr_assert_eq(o->ops->alert(o, &a), 0);
	a.pid = 999; /* not a target: ignored */
	cr_assert_eq(o->ops->alert(o, &a), 0);
	cr_assert_eq(o->ops->interval(o, &window), 0);
	cr_assert_eq(o->ops->interval(o, &win_b), 0);
	text = pages.page[UVS_PROM_TEXT];
	cr_expect(strstr(text, "uvscope_alerts_total{pid=\"5151\",comm=\"api \\\"v2\\\"\","
			       "container=\"4f0c1ab2e3d4\",kind=\"loop_blocked\"} 1\n"), "%s", text);
	cr_expect(strstr(text, "uvscope_alerts_total{pid=\"4242\",comm=\"node\",container=\"\","
			       "kind=\"loop_blocked\"} 0\n"));
	cr_expect(strstr(text, "uvscope_alerts_total{pid=\"4242\",comm=\"node\",container=\"\","
			       "kind=\"fd_limit\"} 1\n"));
	cr_expect(strstr(text, "uvscope_alerts_total{pid=\"5151\",comm=\"api \\\"v2\\\"\","
			       "container=\"4f0c1ab2e3d4\",kind=\"fd_limit\"} 0\n"));
	free_output(o);
	free_pages(&pages);
}

Test(prom_targets, a_detached_target_leaves_the_page)
{
	struct uvs_snapshot win_b;
	struct pages pages;
	struct uvs_output *o = two_targets(&pages, &win_b);
	const char *text;

	cr_assert_eq(o->ops->interval(o, &window), 0);
	cr_assert_eq(o->ops->interval(o, &win_b), 0);
	cr_assert_eq(o->ops->summary(o, &totals), 0); /* A exited */
	cr_assert_eq(o->ops->interval(o, &win_b), 0);
	text = pages.page[UVS_PROM_TEXT];
	cr_expect(!strstr(text, "pid=\"4242\""), "A's series are gone:\n%s", text);
	cr_expect(strstr(text, "uvscope_loop_iterations_total{pid=\"5151\""));
	expect_promtool_passes(text);
	/* A interval of a detached pid is not brought back. */
	cr_assert_eq(o->ops->interval(o, &window), 0);
	cr_expect(!strstr(pages.page[UVS_PROM_TEXT], "pid=\"4242\""));
	/* The last one leaves: an empty page at once, not the figures of a process gone. */
	cr_assert_eq(o->ops->summary(o, &totals_b), 0);
	cr_expect_str_eq(pages.page[UVS_PROM_TEXT], "");
	cr_expect_str_eq(pages.page[UVS_PROM_OPENMETRICS], "# EOF\n");
	free_output(o);
	free_pages(&pages);
}

Test(prom_targets, at_most_UVS_METRICS_MAX_TARGETS)
{
	struct pages pages = { 0 };
	struct uvs_output *o = uvs_metrics_output_new_to(keep_page, &pages);
	struct uvs_attach_info a = { .comm = "node", .mode = "epoll" };
	struct uvs_snapshot *s = calloc(1, sizeof(*s));
	char label[32];
	int last = 1000 + UVS_METRICS_MAX_TARGETS;

	cr_assert_not_null(o);
	cr_assert_not_null(s);
	o->source = &two_source;
	for (a.pid = 1001; a.pid <= last + 1; a.pid++)
		cr_assert_eq(o->ops->begin(o, &a), 0, "pid %d", a.pid);
	for (s->pid = 1001; s->pid <= last + 1; s->pid++)
		cr_assert_eq(o->ops->interval(o, s), 0);
	snprintf(label, sizeof(label), "{pid=\"%d\"", last);
	cr_expect(strstr(pages.page[UVS_PROM_TEXT], label), "the 1024th is on the page");
	snprintf(label, sizeof(label), "{pid=\"%d\"", last + 1);
	cr_expect(!strstr(pages.page[UVS_PROM_TEXT], label), "the 1025th is left off");
	cr_expect_eq(count(pages.page[UVS_PROM_TEXT], "uvscope_target_info{"),
		     UVS_METRICS_MAX_TARGETS);
	free_output(o);
	free(s);
	free_pages(&pages);
}
