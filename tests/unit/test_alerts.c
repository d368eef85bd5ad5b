// SPDX-License-Identifier: MIT
/* The alert engine: every rule from hand-built snapshots, with its state across windows. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/alerts.h"
#include "core/socket_list.h"

static struct uvs_alert_config cfg;
static struct uvs_alert_state st;
static struct uvs_snapshot snap;
static struct uvs_alert a[8];

static void setup(void)
{
	uvs_alert_config_default(&cfg, 100000000ULL);
	memset(&st, 0, sizeof(st));
	memset(&snap, 0, sizeof(snap));
	memset(a, 0, sizeof(a));
	snap.pid = 7;
	snap.ts_ns = 1234;
	snap.window_ns = 1000000000ULL;
}

TestSuite(alerts, .init = setup);

static size_t judge(void)
{
	return uvs_alerts_window(&cfg, &st, &snap, a, 8);
}

/* The socket rules, as tests/unit/test_sockets.c checked them before the engine had them. */
Test(alerts, sockets)
{
	struct uvs_sockets_snapshot *k = &snap.sockets;
	int i;

	k->available = k->traced = true;
	/* CLOSE_WAIT 1, 2, 3, 4: the third growth in a row raises it, once. */
	for (i = 1; i <= 4; i++) {
		k->tcp_states[UVS_TCP_CLOSE_WAIT] = (uint64_t)i;
		size_t n = judge();

		cr_assert_eq(n, i == 4 ? 1 : 0, "window %d: %zu alerts", i, n);
	}
	cr_expect_eq(a[0].kind, UVS_ALERT_CLOSE_WAIT_GROWTH);
	cr_expect_eq(a[0].close_wait_growth.close_wait, 4);
	cr_expect_eq(a[0].close_wait_growth.windows, 3);
	cr_expect_eq(a[0].pid, 7);
	cr_expect_eq(a[0].ts_ns, 1234);
	cr_expect_eq(judge(), 0, "no growth: no alert");

	/* A full queue: once, again only after it had room. */
	k->accept_queue_full = 1;
	k->accept_queue_max = 3;
	k->accept_queue_limit = 2;
	cr_assert_eq(judge(), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_ACCEPT_QUEUE_FULL);
	cr_expect_eq(a[0].accept_queue_full.limit, 2);
	cr_expect_eq(a[0].accept_queue_full.queued, 3);
	cr_expect_eq(judge(), 0, "still full: said");
	k->accept_queue_full = 0;
	cr_expect_eq(judge(), 0);
	k->accept_queue_full = 1;
	cr_expect_eq(judge(), 1, "full again");
	k->accept_queue_full = 0;

	/* Retransmits: 10 per second is the line, whatever the window's length. */
	snap.window_ns = 200000000ULL;
	k->retransmits = 1;
	cr_expect_eq(judge(), 0, "5/s");
	k->retransmits = 2;
	cr_assert_eq(judge(), 1, "10/s");
	cr_expect_eq(a[0].kind, UVS_ALERT_RETRANSMIT_RATE);
	cr_expect_eq(a[0].retransmit_rate.retransmits, 2);
	k->traced = false;
	cr_expect_eq(judge(), 0, "not traced: no figure");
}

Test(alerts, fd_growth_once_per_streak)
{
	int i;

	snap.fds.available = true;
	snap.fds.limit = 100000;
	/* 100, 101, ..., growth in windows 2..6: the fifth growth raises it, and only that. */
	for (i = 0; i < 8; i++) {
		snap.fds.open = 100 + (uint64_t)i;
		size_t n = judge();

		cr_assert_eq(n, i == 5 ? 1 : 0, "window %d: %zu", i, n);
	}
	snap.fds.open = 107; /* no growth: the streak ends */
	cr_expect_eq(judge(), 0);
	for (i = 1; i <= 5; i++) {
		snap.fds.open = 107 + (uint64_t)i;
		cr_expect_eq(judge(), i == 5 ? 1 : 0, "second streak, growth %d", i);
	}
	cr_expect_eq(a[0].kind, UVS_ALERT_FD_GROWTH);
	cr_expect_eq(a[0].fd_growth.open, 112);
	cr_expect_eq(a[0].fd_growth.windows, 5);
}

Test(alerts, fd_limit_episode)
{
	snap.fds.available = true;
	snap.fds.limit = 1000;
	snap.fds.open = 799;
	cr_expect_eq(judge(), 0, "below 80%");
	snap.fds.open = 800;
	cr_assert_eq(judge(), 1, "at 80%");
	cr_expect_eq(a[0].kind, UVS_ALERT_FD_LIMIT);
	cr_expect_eq(a[0].fd_limit.open, 800);
	cr_expect_eq(a[0].fd_limit.limit, 1000);
	snap.fds.open = 760;
	cr_expect_eq(judge(), 0, "still above 75%: same episode");
	snap.fds.open = 810;
	cr_expect_eq(judge(), 0, "same episode");
	snap.fds.open = 749;
	cr_expect_eq(judge(), 0, "below 75%: the episode ends");
	snap.fds.open = 850;
	cr_expect_eq(judge(), 1, "a new episode");
	snap.fds.limit = UINT64_MAX;
	snap.fds.open = 1000000;
	setup();
	snap.fds.available = true;
	snap.fds.limit = UINT64_MAX;
	snap.fds.open = 1000000;
	cr_expect_eq(judge(), 0, "unlimited: never");
}

Test(alerts, pool_rules)
{
	snap.pool.available = true;
	snap.pool.size = 2;
	snap.pool.queued_max = 14;
	snap.pool.saturation = 0.49;
	cr_expect_eq(judge(), 0);
	snap.pool.saturation = 0.5;
	cr_assert_eq(judge(), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_POOL_SATURATED);
	cr_expect_eq(a[0].pool_saturated.size, 2);
	cr_expect_eq(a[0].pool_saturated.queued_max, 14);
	cr_expect_eq(a[0].pool_saturated.window_ns, 1000000000ULL);
	cr_expect_eq(judge(), 1, "every saturated window");
	snap.pool.saturation = 0;
	snap.pool.sync_fs_on_loop = 3;
	snap.pool.sync_fs_on_loop_ns = 4500;
	cr_assert_eq(judge(), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_SYNC_IO_ON_LOOP);
	cr_expect_eq(a[0].sync_io.count, 3);
	cr_expect_eq(a[0].sync_io.total_ns, 4500);
	snap.pool.available = false;
	cr_expect_eq(judge(), 0, "pool not measured: nothing");
}

Test(alerts, cap_is_respected)
{
	snap.pool.available = true;
	snap.pool.saturation = 1;
	snap.pool.sync_fs_on_loop = 1;
	cr_expect_eq(uvs_alerts_window(&cfg, &st, &snap, a, 1), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_POOL_SATURATED);
}

Test(alerts, loop_blocked_ongoing_once_per_span)
{
	struct uvs_loop_busy loops[2] = {
		{ .tid = 42, .role = UVS_ROLE_MAIN, .busy = true, .busy_since_ns = 1000000000ULL },
		{ .tid = 43, .role = UVS_ROLE_WORKER, .busy = false, .busy_since_ns = 5 },
	};
	uint64_t t = 1000000000ULL;

	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 99999999, 9, a, 8), 0,
		     "just below the threshold");
	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 100000000, 9, a, 8), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_LOOP_BLOCKED);
	cr_expect_eq(a[0].loop_blocked.tid, 42);
	cr_expect_eq(a[0].loop_blocked.role, UVS_ROLE_MAIN);
	cr_expect(a[0].loop_blocked.ongoing);
	cr_expect_eq(a[0].loop_blocked.blocked_ns, 100000000);
	cr_expect_eq(a[0].loop_blocked.threshold_ns, 100000000);
	cr_expect_eq(a[0].ts_ns, 9);
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 900000000, 9, a, 8), 0,
		     "the same span is alerted once");
	loops[0].busy_since_ns = t + 950000000;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 1100000000, 9, a, 8), 1,
		     "a new span");
	loops[0].busy = false;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 9000000000ULL, 9, a, 8), 0,
		     "waiting: not blocked");
}

Test(alerts, loop_blocked_ended)
{
	struct uvs_block_end b = { .tid = 4250, .role = UVS_ROLE_WORKER, .duration_ns = 300000000 };

	uvs_alerts_block_ended(&cfg, 7, &b, 55, &a[0]);
	cr_expect_eq(a[0].kind, UVS_ALERT_LOOP_BLOCKED);
	cr_expect_eq(a[0].pid, 7);
	cr_expect_eq(a[0].ts_ns, 55);
	cr_expect(!a[0].loop_blocked.ongoing);
	cr_expect_eq(a[0].loop_blocked.blocked_ns, 300000000);
	cr_expect_eq(a[0].loop_blocked.tid, 4250);
}

/* Every kind has a name that is not the fallback: a new kind must be named. */
Test(alerts, every_kind_is_named)
{
	int k;

	for (k = UVS_ALERT_LOOP_BLOCKED; k <= UVS_ALERT_RETRANSMIT_RATE; k++)
		cr_expect_str_neq(uvs_alert_kind_name((enum uvs_alert_kind)k), "invalid", "%d", k);
}
