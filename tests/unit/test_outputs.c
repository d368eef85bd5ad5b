// SPDX-License-Identifier: MIT
/* The output interface: several outputs at once, every call to each, totals on demand. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/output.h"
#include "render/json.h"
#include "render/top.h"
#include "render/watch.h"

static struct uvs_snapshot snap;

/* A test output: counts every call, and pulls the totals when asked for an interval. */
struct counting {
	int begin, interval, alert, record, summary, end, destroyed;
	uint64_t pulled_window;
};

static struct counting counted;

static int c_begin(struct uvs_output *o, const struct uvs_attach_info *a)
{
	(void)o, (void)a;
	counted.begin++;
	return 0;
}

static int c_interval(struct uvs_output *o, const struct uvs_snapshot *s)
{
	struct uvs_snapshot *totals = calloc(1, sizeof(*totals));

	counted.interval++;
	/* As a /metrics endpoint would: the cumulative figures, pulled now. */
	if (totals && o->source && o->source->totals(o->source->ctx, s->pid, totals) == 0)
		counted.pulled_window = totals->window_ns;
	free(totals);
	return 0;
}

static int c_alert(struct uvs_output *o, const struct uvs_alert *a)
{
	(void)o, (void)a;
	counted.alert++;
	return 0;
}

static int c_record(struct uvs_output *o, const struct uvs_record *r)
{
	(void)o, (void)r;
	counted.record++;
	return 0;
}

static int c_summary(struct uvs_output *o, const struct uvs_snapshot *s)
{
	(void)o, (void)s;
	counted.summary++;
	return 0;
}

static int c_end(struct uvs_output *o)
{
	(void)o;
	counted.end++;
	return 0;
}

static void c_destroy(struct uvs_output *o)
{
	(void)o;
	counted.destroyed++;
}

static const struct uvs_output_ops counting_ops = {
	.name = "counting", .begin = c_begin, .interval = c_interval, .alert = c_alert,
	.record = c_record, .summary = c_summary, .end = c_end, .destroy = c_destroy,
};

static int fake_totals(void *ctx, int pid, struct uvs_snapshot *out)
{
	if (pid != 42)
		return -ESRCH;
	memset(out, 0, sizeof(*out));
	out->window_ns = *(uint64_t *)ctx;
	return 0;
}

Test(outputs, every_output_gets_every_call)
{
	char *json = NULL, *watch = NULL;
	size_t jlen = 0, wlen = 0;
	FILE *jf = open_memstream(&json, &jlen), *wf = open_memstream(&watch, &wlen);
	struct uvs_outputs l = { 0 };
	uint64_t since_attach = 65000000000ULL;
	struct uvs_output_source src = { .ctx = &since_attach, .totals = fake_totals };
	struct uvs_attach_info info = { .pid = 42, .exe = "/usr/bin/node", .mode = "epoll" };
	struct uvs_alert a = { .kind = UVS_ALERT_FD_LIMIT, .pid = 42,
			       .fd_limit = { .open = 900, .limit = 1000 } };
	struct uvs_record r = { .kind = UVS_RECORD_POOL_JOB, .pid = 42,
				.pool_job = { .tid = 43, .kind = UVS_POOL_CRYPTO, .fs_type = -1 } };

	memset(&counted, 0, sizeof(counted));
	memset(&snap, 0, sizeof(snap));
	snap.pid = 42;
	cr_assert_eq(uvs_outputs_add(&l, uvs_json_output_new(jf), &src), 0);
	cr_assert_eq(uvs_outputs_add(&l, uvs_watch_output_new(wf), &src), 0);
	cr_assert_eq(uvs_outputs_add(&l, uvs_output_new(&counting_ops, stdout, 0), &src), 0);
	uvs_outputs_begin(&l, &info);
	uvs_outputs_interval(&l, &snap);
	uvs_outputs_alert(&l, &a);
	uvs_outputs_record(&l, &r);
	uvs_outputs_summary(&l, &snap);
	uvs_outputs_end(&l);
	cr_expect_eq(l.failed, 0);
	uvs_outputs_free(&l);
	cr_expect_eq(counted.destroyed, 1);
	cr_expect_eq(counted.begin + counted.interval + counted.alert + counted.record +
			     counted.summary + counted.end, 6);
	cr_expect_eq(counted.pulled_window, since_attach, "totals pulled on demand");
	fclose(jf);
	fclose(wf);
	/* JSON: attach, interval, alert, pool_job, summary, one line each. */
	cr_expect_not_null(strstr(json, "{\"type\":\"attach\""), "%s", json);
	cr_expect_not_null(strstr(json, "\n{\"type\":\"interval\""), "%s", json);
	cr_expect_not_null(strstr(json, "\n{\"type\":\"alert\",\"schema\":1,\"kind\":\"fd_limit\""));
	cr_expect_not_null(strstr(json, "\n{\"type\":\"pool_job\""), "%s", json);
	cr_expect_not_null(strstr(json, "\n{\"type\":\"summary\""), "%s", json);
	/* watch: no attach line of its own, the rest as text. */
	cr_expect_not_null(strstr(watch, "ALERT file descriptors: 900 open of a limit of 1000"),
			   "%s", watch);
	cr_expect_not_null(strstr(watch, " job crypto on 43:"), "%s", watch);
	cr_expect_not_null(strstr(watch, " summary: pid 42,"), "%s", watch);
	free(json);
	free(watch);
}

/* top redraws its last frame at an alert, with the alert in its recent list. */
Test(outputs, top_redraws_on_alert)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct uvs_outputs l = { 0 };
	struct uvs_attach_info info = { .pid = 42, .exe = "/usr/bin/node", .mode = "epoll",
					.libuv_version = "1.46.0", .block_threshold_ns = 100000000 };
	struct uvs_alert a = { .kind = UVS_ALERT_LOOP_BLOCKED, .pid = 42, .ts_ns = 0,
			       .loop_blocked = { .tid = 42, .role = UVS_ROLE_MAIN, .ongoing = true,
						 .blocked_ns = 250000000 } };
	char *second;

	memset(&snap, 0, sizeof(snap));
	snap.pid = 42;
	cr_assert_eq(uvs_outputs_add(&l, uvs_top_output_new(f), NULL), 0);
	uvs_outputs_begin(&l, &info);
	uvs_outputs_alert(&l, &a); /* before any frame: nothing to draw yet */
	fflush(f);
	cr_expect_eq(len, 0, "%s", buf);
	uvs_outputs_interval(&l, &snap);
	uvs_outputs_alert(&l, &a);
	uvs_outputs_free(&l);
	fclose(f);
	second = strstr(buf + 1, "uvscope  pid 42");
	cr_assert_not_null(second, "two frames: %s", buf);
	cr_expect_not_null(strstr(second, "recent alerts"), "%s", second);
	cr_expect_not_null(strstr(second, "main/42 blocked for 250ms so far"), "%s", second);
	free(buf);
}

Test(outputs, a_full_list_is_refused)
{
	struct uvs_outputs l = { 0 };
	struct uvs_output *o;
	int i;

	for (i = 0; i < UVS_MAX_OUTPUTS; i++)
		cr_assert_eq(uvs_outputs_add(&l, uvs_output_new(&counting_ops, stdout, 0), NULL), 0);
	o = uvs_output_new(&counting_ops, stdout, 0);
	cr_expect_eq(uvs_outputs_add(&l, o, NULL), -E2BIG);
	free(o);
	cr_expect_eq(uvs_outputs_add(&l, NULL, NULL), -EINVAL);
	uvs_outputs_free(&l);
}

Test(outputs, a_failing_output_is_noted)
{
	FILE *f = fopen("/dev/null", "r"); /* writes to a read-only stream set its error flag */
	struct uvs_outputs l = { 0 };

	cr_assert_not_null(f);
	memset(&snap, 0, sizeof(snap));
	cr_assert_eq(uvs_outputs_add(&l, uvs_json_output_new(f), NULL), 0);
	uvs_outputs_interval(&l, &snap);
	cr_expect_eq(l.failed, -EBADF, "%d", l.failed);
	uvs_outputs_free(&l);
	fclose(f);
}

/* A full disk says so, not "an I/O error" (errno says why a write failed inside stdio). */
Test(outputs, a_full_disk_is_said_so)
{
	FILE *f = fopen("/dev/full", "w");
	struct uvs_outputs l = { 0 };

	cr_assert_not_null(f);
	setvbuf(f, NULL, _IOFBF, 16); /* flushed within the line, by fprintf */
	memset(&snap, 0, sizeof(snap));
	cr_assert_eq(uvs_outputs_add(&l, uvs_json_output_new(f), NULL), 0);
	uvs_outputs_interval(&l, &snap);
	cr_expect_eq(l.failed, -ENOSPC, "%d", l.failed);
	uvs_outputs_free(&l);
	fclose(f);
}
