// SPDX-License-Identifier: MIT
/*
 * One session, several targets (-p A,B, --all), one set of outputs: each target begins, has
 * its intervals, alerts and records, and its summary when it is detached; calls for different
 * targets interleave. watch says whose each line is once a second target has begun; every
 * JSON line carries its pid. (The /metrics page of several targets: test_prometheus.c.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/output.h"
#include "render/json.h"
#include "render/watch.h"
#include "text_count.h"

#define TS_215003 1732657803000000000ull /* 2024-11-26 21:50:03 UTC */
#define SEC 1000000000ull

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

TestSuite(many_targets, .init = utc);

static struct uvs_snapshot snap_a, snap_b;

/* A target with one main loop; its figures differ by pid so that lines can be told apart. */
static void target_snapshot(struct uvs_snapshot *s, int pid, uint64_t iterations)
{
	memset(s, 0, sizeof(*s));
	s->ts_ns = TS_215003;
	s->window_ns = SEC;
	s->pid = pid;
	s->nloops = 1;
	s->loops[0].tid = pid;
	s->loops[0].role = UVS_ROLE_MAIN;
	strcpy(s->loops[0].comm, "node");
	s->loops[0].iterations = iterations;
	s->loops[0].utilization = 0.25;
}

/*
 * A session with A (pid 4242) then B (pid 4250, begun after A's first interval, as --all
 * finds a process), interleaved, then B exits and A goes on alone; the session ends.
 */
static void session(struct uvs_outputs *l)
{
	struct uvs_attach_info a = { .pid = 4242, .comm = "node", .exe = "/usr/bin/node",
				     .mode = "epoll" };
	struct uvs_alert alert = { .kind = UVS_ALERT_FD_LIMIT, .pid = 4250, .ts_ns = TS_215003 + SEC,
				   .fd_limit = { .open = 900, .limit = 1000 } };
	struct uvs_record job = { .kind = UVS_RECORD_POOL_JOB, .pid = 4242,
				  .pool_job = { .ts_ns = TS_215003 + SEC, .tid = 4243,
						.kind = UVS_POOL_CRYPTO, .fs_type = -1,
						.wait_ns = 2000000, .service_ns = 61000000 } };

	target_snapshot(&snap_a, 4242, 1203);
	target_snapshot(&snap_b, 4250, 77);
	uvs_outputs_begin(l, &a);
	uvs_outputs_interval(l, &snap_a);
	a.pid = 4250;
	a.comm = "api-server";
	uvs_outputs_begin(l, &a);
	snap_a.ts_ns = snap_b.ts_ns = TS_215003 + SEC;
	uvs_outputs_interval(l, &snap_b);
	uvs_outputs_interval(l, &snap_a);
	uvs_outputs_alert(l, &alert);
	uvs_outputs_record(l, &job);
	snap_b.ts_ns = TS_215003 + 2 * SEC;
	snap_b.window_ns = 2 * SEC;
	uvs_outputs_summary(l, &snap_b); /* B exited */
	snap_a.ts_ns = TS_215003 + 2 * SEC;
	uvs_outputs_interval(l, &snap_a);
	snap_a.ts_ns = TS_215003 + 3 * SEC;
	snap_a.window_ns = 3 * SEC;
	uvs_outputs_summary(l, &snap_a);
	uvs_outputs_end(l);
}

static char *run(struct uvs_output *(*new_output)(FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct uvs_outputs l = { 0 };

	cr_assert_not_null(f);
	cr_assert_eq(uvs_outputs_add(&l, new_output(f), NULL), 0);
	session(&l);
	cr_expect_eq(l.failed, 0);
	uvs_outputs_free(&l);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

Test(many_targets, watch_says_whose_each_line_is)
{
	char *got = run(uvs_watch_output_new);

	cr_expect_str_eq(got,
		"21:50:03 main/4242 util 25.0% it 1203 p99 0 max 0\n"
		"21:50:04 pid 4250 (api-server): main/4250 util 25.0% it 77 p99 0 max 0\n"
		"21:50:04 pid 4242 (node): main/4242 util 25.0% it 1203 p99 0 max 0\n"
		"21:50:04 pid 4250 (api-server): ALERT file descriptors: 900 open of a limit of 1000\n"
		"21:50:04 pid 4242 (node): job crypto on 4243: waited 2.00ms, served in 61.0ms\n"
		"21:50:05 summary: pid 4250, 2.00s, 1 loop\n"
		"  main/4250 (node): 77 iterations, util 25.0%, busy p50 0 p99 0 max 0, 0 blocked "
		"episodes\n"
		"  agent: 0 events, 0 dropped, 0 insert failures\n"
		"21:50:05 pid 4242 (node): main/4242 util 25.0% it 1203 p99 0 max 0\n"
		"21:50:06 summary: pid 4242, 3.00s, 1 loop\n"
		"  main/4242 (node): 1203 iterations, util 25.0%, busy p50 0 p99 0 max 0, 0 blocked "
		"episodes\n"
		"  agent: 0 events, 0 dropped, 0 insert failures\n");
	free(got);
}

Test(many_targets, watch_of_one_target_is_unchanged)
{
	char *buf = NULL, *one = NULL;
	size_t len = 0, one_len = 0;
	FILE *f = open_memstream(&buf, &len), *g = open_memstream(&one, &one_len);
	struct uvs_outputs l = { 0 };
	struct uvs_attach_info a = { .pid = 4242, .comm = "node", .mode = "epoll" };

	cr_assert(f && g);
	target_snapshot(&snap_a, 4242, 1203);
	cr_assert_eq(uvs_outputs_add(&l, uvs_watch_output_new(f), NULL), 0);
	uvs_outputs_begin(&l, &a);
	uvs_outputs_interval(&l, &snap_a);
	uvs_outputs_summary(&l, &snap_a);
	uvs_outputs_free(&l);
	cr_assert_eq(fclose(f), 0);
	uvs_watch_interval(g, &snap_a);
	uvs_watch_summary(g, &snap_a);
	cr_assert_eq(fclose(g), 0);
	cr_expect_str_eq(buf, one);
	free(buf);
	free(one);
}

Test(many_targets, every_json_line_carries_its_pid)
{
	char *got = run(uvs_json_output_new);
	int lines = 0;

	for (char *line = strtok(got, "\n"); line; line = strtok(NULL, "\n"), lines++) {
		const char *pid = strstr(line, ",\"pid\":");

		cr_assert_not_null(pid, "no pid: %s", line);
		cr_expect(!strncmp(pid, ",\"pid\":4242,", 12) || !strncmp(pid, ",\"pid\":4250,", 12),
			  "%s", line);
		/* The types in the order of the session, each with the pid it belongs to. */
		static const char *const want[] = {
			"{\"type\":\"attach\",\"schema\":1,\"pid\":4242,",
			"{\"type\":\"interval\",", /* A */
			"{\"type\":\"attach\",\"schema\":1,\"pid\":4250,",
			"{\"type\":\"interval\",", /* B */
			"{\"type\":\"interval\",", /* A */
			"{\"type\":\"alert\",\"schema\":1,\"kind\":\"fd_limit\",\"pid\":4250,",
			"{\"type\":\"pool_job\",\"schema\":1,\"pid\":4242,",
			"{\"type\":\"summary\",", /* B */
			"{\"type\":\"interval\",", /* A */
			"{\"type\":\"summary\",", /* A */
		};
		static const int want_pid[] = { 4242, 4242, 4250, 4250, 4242, 4250, 4242, 4250, 4242,
						4242 };
		char pid_field[32];

		cr_assert_lt(lines, 10, "one line too many: %s", line);
		cr_expect(!strncmp(line, want[lines], strlen(want[lines])), "line %d: %s", lines, line);
		snprintf(pid_field, sizeof(pid_field), ",\"pid\":%d,", want_pid[lines]);
		cr_expect_eq(count(line, pid_field), 1, "line %d is %d's: %s", lines, want_pid[lines],
			     line);
	}
	cr_expect_eq(lines, 10);
	free(got);
}
