// SPDX-License-Identifier: MIT
/*
 * The alert engine: every rule from hand-built snapshots, each firing on its condition and
 * resolving when it ends, with `for`, the hold-down against flapping and the rate limit.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/alerts.h"
#include "core/socket_list.h"

#define S 1000000000ULL
#define MS 1000000ULL

static struct uvs_alert_config cfg;
static struct uvs_alert_state st;
static struct uvs_snapshot snap;
static struct uvs_alert a[16];

/* Every rule off but one, with no for, no hold and no rate limit unless a test sets them. */
static void only(enum uvs_alert_kind kind)
{
	for (int k = UVS_ALERT_LOOP_BLOCKED; k <= UVS_ALERT_KIND_LAST; k++)
		cfg.rule[k].enabled = k == (int)kind;
	cfg.rule[kind].for_ns = 0;
	cfg.rule[kind].hold_ns = 0;
	cfg.rule[kind].rate_max = 0;
}

static void setup(void)
{
	uvs_alert_config_default(&cfg);
	memset(&st, 0, sizeof(st));
	memset(&snap, 0, sizeof(snap));
	memset(a, 0, sizeof(a));
	snap.pid = 7;
	snap.ts_ns = 1000 * S;
	snap.window_ns = S;
}

TestSuite(alerts, .init = setup);

/* One window: its alerts in a[], how many; the clock moves on by the window. */
static size_t judge(void)
{
	size_t n = uvs_alerts_window(&cfg, &st, &snap, a, 16);

	snap.ts_ns += snap.window_ns;
	return n;
}

/* Judges a window, expecting exactly one alert of `kind` in `state`, or none (state < 0). */
static void expect(enum uvs_alert_kind kind, int state, const char *what)
{
	size_t n = judge();

	if (state < 0) {
		cr_expect_eq(n, 0, "%s: %zu alerts, the first %s %s", what, n,
			     n ? uvs_alert_kind_name(a[0].kind) : "-",
			     n ? uvs_alert_status_name(a[0].state) : "-");
		return;
	}
	cr_assert_eq(n, 1, "%s: %zu alerts", what, n);
	cr_expect_eq(a[0].kind, kind, "%s: %s", what, uvs_alert_kind_name(a[0].kind));
	cr_expect_eq((int)a[0].state, state, "%s: %s", what, uvs_alert_status_name(a[0].state));
	cr_expect_eq(a[0].pid, 7);
}

Test(alerts, defaults_are_sane)
{
	setup();
	for (int k = UVS_ALERT_LOOP_BLOCKED; k <= UVS_ALERT_KIND_LAST; k++) {
		const struct uvs_rule *r = &cfg.rule[k];
		const struct uvs_rule_info *info = uvs_rule_info((enum uvs_alert_kind)k);

		cr_expect(r->enabled, "%d", k);
		cr_expect(r->threshold >= info->min && r->threshold > 0 && r->threshold <= info->max, "%d", k);
		cr_expect(r->rate_max > 0 && r->rate_per_ns > 0, "%d", k);
		cr_expect_eq(uvs_alert_kind_from_name(uvs_alert_kind_name((enum uvs_alert_kind)k)),
			     k);
	}
	cr_expect_eq(uvs_alert_config_block_ns(&cfg), 100 * MS);
	cr_expect_eq(uvs_alert_kind_from_name("no_such_rule"), 0);
}

/* ---- each rule fires on its condition and resolves when it ends ------------------------------ */

Test(alerts, pool_saturated)
{
	only(UVS_ALERT_POOL_SATURATED);
	snap.pool.available = true;
	snap.pool.size = 2;
	snap.pool.queued_max = 14;
	snap.pool.running = 1;
	snap.pool.saturation = 0.49;
	expect(UVS_ALERT_POOL_SATURATED, -1, "below half");
	snap.pool.saturation = 0.5;
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_FIRING, "at half");
	cr_expect_eq(a[0].pool_saturated.size, 2);
	cr_expect_eq(a[0].pool_saturated.queued_max, 14);
	cr_expect_eq(a[0].pool_saturated.running, 1);
	cr_expect_eq(a[0].pool_saturated.window_ns, S);
	cr_expect_eq(a[0].severity, UVS_SEVERITY_WARNING);
	cr_expect_eq(a[0].ts_ns, 1001 * S);
	expect(UVS_ALERT_POOL_SATURATED, -1, "still saturated: said already");
	snap.pool.saturation = 0;
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_RESOLVED, "no longer");
	cr_expect_eq(a[0].firing_ns, 2 * S, "fired at 1001 s, resolved at 1003 s");
	snap.pool.available = false;
	snap.pool.saturation = 1;
	expect(UVS_ALERT_POOL_SATURATED, -1, "the pool is not measured");
}

Test(alerts, pool_queue_wait)
{
	only(UVS_ALERT_POOL_QUEUE_WAIT);
	snap.pool.available = true;
	snap.pool.kinds[UVS_POOL_FS].completed = 10;
	snap.pool.kinds[UVS_POOL_FS].wait_p99_ns = 20 * MS;
	snap.pool.kinds[UVS_POOL_CRYPTO].wait_p99_ns = 900 * MS; /* no job: left over, ignored */
	expect(UVS_ALERT_POOL_QUEUE_WAIT, -1, "20 ms");
	snap.pool.kinds[UVS_POOL_CRYPTO].completed = 1;
	expect(UVS_ALERT_POOL_QUEUE_WAIT, UVS_ALERT_FIRING, "crypto waited 900 ms");
	cr_expect_eq(a[0].pool_queue_wait.pool_kind, UVS_POOL_CRYPTO);
	cr_expect_eq(a[0].pool_queue_wait.wait_p99_ns, 900 * MS);
	cr_expect_eq(a[0].pool_queue_wait.threshold_ns, 100 * MS);
	snap.pool.kinds[UVS_POOL_CRYPTO].completed = 0;
	expect(UVS_ALERT_POOL_QUEUE_WAIT, UVS_ALERT_RESOLVED, "no crypto job any more");
}

Test(alerts, sync_io)
{
	only(UVS_ALERT_SYNC_IO_ON_LOOP);
	snap.pool.available = true;
	expect(UVS_ALERT_SYNC_IO_ON_LOOP, -1, "none");
	snap.pool.sync_fs_on_loop = 3;
	snap.pool.sync_fs_on_loop_ns = 4500;
	expect(UVS_ALERT_SYNC_IO_ON_LOOP, UVS_ALERT_FIRING, "three");
	cr_expect_eq(a[0].sync_io.count, 3);
	cr_expect_eq(a[0].sync_io.total_ns, 4500);
	/* The pool's probes out (a guard step): nothing counted, nothing said either way. */
	snap.pool.statics_only = true;
	snap.pool.sync_fs_on_loop = 0;
	expect(UVS_ALERT_SYNC_IO_ON_LOOP, -1, "not measured: still firing, not resolved");
	snap.pool.statics_only = false;
	expect(UVS_ALERT_SYNC_IO_ON_LOOP, UVS_ALERT_RESOLVED, "none again");
	cfg.rule[UVS_ALERT_SYNC_IO_ON_LOOP].threshold = 5;
	snap.pool.sync_fs_on_loop = 4;
	expect(UVS_ALERT_SYNC_IO_ON_LOOP, -1, "below a threshold of 5");
}

Test(alerts, fd_limit)
{
	only(UVS_ALERT_FD_LIMIT);
	snap.fds.available = true;
	snap.fds.limit = 1000;
	snap.fds.open = 799;
	expect(UVS_ALERT_FD_LIMIT, -1, "below 80%");
	snap.fds.open = 800;
	expect(UVS_ALERT_FD_LIMIT, UVS_ALERT_FIRING, "at 80%");
	cr_expect_eq(a[0].fd_limit.open, 800);
	cr_expect_eq(a[0].fd_limit.limit, 1000);
	cr_expect_eq(a[0].severity, UVS_SEVERITY_CRITICAL);
	snap.fds.open = 700;
	expect(UVS_ALERT_FD_LIMIT, UVS_ALERT_RESOLVED, "70%");
	snap.fds.limit = UINT64_MAX;
	snap.fds.open = 1000000;
	expect(UVS_ALERT_FD_LIMIT, -1, "unlimited: never");
}

Test(alerts, fd_growth_for)
{
	only(UVS_ALERT_FD_GROWTH);
	cfg.rule[UVS_ALERT_FD_GROWTH].for_ns = 5 * S;
	snap.fds.available = true;
	snap.fds.limit = 100000;
	/* 100, 101, ...: growth in windows 2..; the fifth second of growth fires it, once. */
	for (int i = 0; i < 8; i++) {
		snap.fds.open = 100 + (uint64_t)i;
		expect(UVS_ALERT_FD_GROWTH, i == 5 ? UVS_ALERT_FIRING : -1, "growing");
		if (i == 5) {
			cr_expect_eq(a[0].fd_growth.open, 105);
			cr_expect_eq(a[0].fd_growth.windows, 5);
		}
	}
	expect(UVS_ALERT_FD_GROWTH, UVS_ALERT_RESOLVED, "no growth");
	/* Growth that stops before `for` never fires. */
	for (int i = 1; i <= 4; i++) {
		snap.fds.open += 1;
		expect(UVS_ALERT_FD_GROWTH, -1, "four seconds of growth");
	}
	expect(UVS_ALERT_FD_GROWTH, -1, "then none");
}

Test(alerts, fd_growth_threshold)
{
	only(UVS_ALERT_FD_GROWTH);
	cfg.rule[UVS_ALERT_FD_GROWTH].threshold = 10;
	snap.fds.available = true;
	snap.fds.open = 100;
	expect(UVS_ALERT_FD_GROWTH, -1, "the first window has nothing to compare with");
	snap.fds.open = 109;
	expect(UVS_ALERT_FD_GROWTH, -1, "9 more");
	snap.fds.open = 119;
	expect(UVS_ALERT_FD_GROWTH, UVS_ALERT_FIRING, "10 more");
}

Test(alerts, close_wait_growth)
{
	struct uvs_sockets_snapshot *k = &snap.sockets;

	only(UVS_ALERT_CLOSE_WAIT_GROWTH);
	cfg.rule[UVS_ALERT_CLOSE_WAIT_GROWTH].for_ns = 3 * S;
	k->available = true;
	for (int i = 1; i <= 4; i++) {
		k->tcp_states[UVS_TCP_CLOSE_WAIT] = (uint64_t)i;
		expect(UVS_ALERT_CLOSE_WAIT_GROWTH, i == 4 ? UVS_ALERT_FIRING : -1, "growing");
	}
	cr_expect_eq(a[0].close_wait_growth.close_wait, 4);
	cr_expect_eq(a[0].close_wait_growth.windows, 3);
	k->tcp_states[UVS_TCP_CLOSE_WAIT] = 0;
	expect(UVS_ALERT_CLOSE_WAIT_GROWTH, UVS_ALERT_RESOLVED, "closed");
}

Test(alerts, accept_queue_full)
{
	struct uvs_sockets_snapshot *k = &snap.sockets;

	only(UVS_ALERT_ACCEPT_QUEUE_FULL);
	k->available = true;
	k->accept_queue_full = 1;
	k->accept_queue_max = 3;
	k->accept_queue_limit = 2;
	expect(UVS_ALERT_ACCEPT_QUEUE_FULL, UVS_ALERT_FIRING, "full");
	cr_expect_eq(a[0].accept_queue_full.limit, 2);
	cr_expect_eq(a[0].accept_queue_full.queued, 3);
	expect(UVS_ALERT_ACCEPT_QUEUE_FULL, -1, "still full");
	k->accept_queue_full = 0;
	expect(UVS_ALERT_ACCEPT_QUEUE_FULL, UVS_ALERT_RESOLVED, "room again");
	k->accept_queue_full = 1;
	expect(UVS_ALERT_ACCEPT_QUEUE_FULL, UVS_ALERT_FIRING, "full again");
}

Test(alerts, retransmit_rate)
{
	struct uvs_sockets_snapshot *k = &snap.sockets;

	only(UVS_ALERT_RETRANSMIT_RATE);
	k->available = k->traced = true;
	/* 10 per second is the line, whatever the window's length. */
	snap.window_ns = 200 * MS;
	k->retransmits = 1;
	expect(UVS_ALERT_RETRANSMIT_RATE, -1, "5/s");
	k->retransmits = 2;
	expect(UVS_ALERT_RETRANSMIT_RATE, UVS_ALERT_FIRING, "10/s");
	cr_expect_eq(a[0].retransmit_rate.retransmits, 2);
	k->traced = false;
	expect(UVS_ALERT_RETRANSMIT_RATE, UVS_ALERT_RESOLVED, "not traced: no figure");
}

static struct uvs_loop_snapshot *add_loop(int tid, enum uvs_role role)
{
	struct uvs_loop_snapshot *l = &snap.loops[snap.nloops++];

	memset(l, 0, sizeof(*l));
	l->tid = tid;
	l->role = role;
	return l;
}

Test(alerts, loop_utilization_per_loop)
{
	struct uvs_loop_snapshot *main_loop, *worker;

	only(UVS_ALERT_LOOP_UTILIZATION);
	cfg.rule[UVS_ALERT_LOOP_UTILIZATION].for_ns = 2 * S;
	main_loop = add_loop(7, UVS_ROLE_MAIN);
	worker = add_loop(9, UVS_ROLE_WORKER);
	main_loop->utilization = 0.95;
	worker->utilization = 0.2;
	expect(UVS_ALERT_LOOP_UTILIZATION, -1, "one second busy");
	expect(UVS_ALERT_LOOP_UTILIZATION, UVS_ALERT_FIRING, "two seconds busy");
	cr_expect_eq(a[0].loop_utilization.tid, 7);
	cr_expect_eq(a[0].loop_utilization.role, UVS_ROLE_MAIN);
	cr_expect_float_eq(a[0].loop_utilization.share, 0.95, 1e-9);
	cr_expect_float_eq(a[0].loop_utilization.threshold, 0.9, 1e-9);
	worker->utilization = 0.99;
	expect(UVS_ALERT_LOOP_UTILIZATION, -1, "the worker's first second");
	expect(UVS_ALERT_LOOP_UTILIZATION, UVS_ALERT_FIRING, "the worker too");
	cr_expect_eq(a[0].loop_utilization.tid, 9);
	/* The worker exits: its loop is gone, so is its alert. */
	snap.nloops = 1;
	expect(UVS_ALERT_LOOP_UTILIZATION, UVS_ALERT_RESOLVED, "the worker is gone");
	cr_expect_eq(a[0].loop_utilization.tid, 9);
	cr_expect_eq(a[0].loop_utilization.role, UVS_ROLE_WORKER);
	main_loop->utilization = 0.5;
	expect(UVS_ALERT_LOOP_UTILIZATION, UVS_ALERT_RESOLVED, "main idles");
	cr_expect_eq(a[0].loop_utilization.tid, 7);
}

Test(alerts, gc_share)
{
	struct uvs_loop_snapshot *l;

	only(UVS_ALERT_GC_SHARE);
	l = add_loop(7, UVS_ROLE_MAIN);
	l->has_gc = true;
	l->gc.total_ns = 240 * MS;
	expect(UVS_ALERT_GC_SHARE, -1, "24% in GC");
	l->gc.total_ns = 300 * MS;
	expect(UVS_ALERT_GC_SHARE, UVS_ALERT_FIRING, "30% in GC");
	cr_expect_float_eq(a[0].gc_share.share, 0.3, 1e-9);
	l->gc.total_ns = 0;
	expect(UVS_ALERT_GC_SHARE, UVS_ALERT_RESOLVED, "no GC");
	l->has_gc = false;
	l->gc.total_ns = S;
	expect(UVS_ALERT_GC_SHARE, -1, "GC not measured");
}

/* ---- what every rule shares ----------------------------------------------------------------- */

/* Judges a window and counts what it said into *fired and *resolved. */
static void judge_count(int *fired, int *resolved)
{
	size_t n = judge();

	for (size_t j = 0; j < n; j++) {
		*fired += a[j].state == UVS_ALERT_FIRING;
		*resolved += a[j].state == UVS_ALERT_RESOLVED;
	}
}

/* A condition that comes and goes each window is one alert while the hold-down lasts. */
Test(alerts, flapping_is_one_alert)
{
	int fired = 0, resolved = 0;

	only(UVS_ALERT_POOL_SATURATED);
	cfg.rule[UVS_ALERT_POOL_SATURATED].hold_ns = 3 * S;
	snap.pool.available = true;
	for (int i = 0; i < 40; i++) {
		snap.pool.saturation = i % 2 ? 0 : 1;
		judge_count(&fired, &resolved);
	}
	cr_expect_eq(fired, 1, "flapping fired %d times", fired);
	cr_expect_eq(resolved, 0);
	/* Gone for the hold-down: resolved, once. */
	snap.pool.saturation = 0;
	expect(UVS_ALERT_POOL_SATURATED, -1, "gone 2 s (the last flap was 1 s)");
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_RESOLVED, "gone 3 s");
	expect(UVS_ALERT_POOL_SATURATED, -1, "said");
}

/* Without a hold-down the same input is an alert per flap: the hold is what stops it. */
Test(alerts, flapping_without_hold)
{
	int fired = 0, resolved = 0;

	only(UVS_ALERT_POOL_SATURATED);
	snap.pool.available = true;
	for (int i = 0; i < 10; i++) {
		snap.pool.saturation = i % 2 ? 0 : 1;
		judge_count(&fired, &resolved);
	}
	cr_expect_eq(fired, 5);
}

/* `for` needs the condition without a break: one window without it starts over. */
/* From scratch: only pool_saturated, with `for`, the pool saturated in windows of window_ns. */
static void saturated_for(uint64_t for_ns, uint64_t window_ns)
{
	setup();
	only(UVS_ALERT_POOL_SATURATED);
	cfg.rule[UVS_ALERT_POOL_SATURATED].for_ns = for_ns;
	snap.pool.available = true;
	snap.pool.saturation = 1;
	snap.window_ns = window_ns;
}

Test(alerts, for_needs_a_streak)
{
	only(UVS_ALERT_POOL_SATURATED);
	cfg.rule[UVS_ALERT_POOL_SATURATED].for_ns = 3 * S;
	snap.pool.available = true;
	for (int i = 0; i < 12; i++) {
		snap.pool.saturation = i % 3 == 2 ? 0 : 1;
		expect(UVS_ALERT_POOL_SATURATED, -1, "two seconds, then a break");
	}
	snap.pool.saturation = 1;
	expect(UVS_ALERT_POOL_SATURATED, -1, "1 s");
	expect(UVS_ALERT_POOL_SATURATED, -1, "2 s");
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_FIRING, "3 s");
	/* A window counts for its length: a 3 s window is enough at once. */
	saturated_for(3 * S, 3 * S);
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_FIRING, "one 3 s window");
	/*
	 * Measured windows fall a little short of the interval: a 1 s interval of 999.97 ms
	 * holds `for = 1s` (it took a second window), and three of them `for = 3s`; two do not.
	 */
	saturated_for(1 * S, 999970000);
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_FIRING, "one 999.97 ms window");
	saturated_for(3 * S, 999970000);
	expect(UVS_ALERT_POOL_SATURATED, -1, "1 s");
	expect(UVS_ALERT_POOL_SATURATED, -1, "2 s");
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_FIRING, "3 s");
}

/* At most rate_max firings per period; the ones held back are counted in the next that goes. */
Test(alerts, rate_limit)
{
	int fired = 0, resolved = 0;

	only(UVS_ALERT_ACCEPT_QUEUE_FULL);
	cfg.rule[UVS_ALERT_ACCEPT_QUEUE_FULL].rate_max = 2;
	cfg.rule[UVS_ALERT_ACCEPT_QUEUE_FULL].rate_per_ns = 60 * S;
	snap.sockets.available = true;
	/* 10 episodes in 20 s: 2 fire (and resolve), 8 are held back. */
	for (int i = 0; i < 20; i++) {
		snap.sockets.accept_queue_full = i % 2 ? 0 : 1;
		judge_count(&fired, &resolved);
	}
	cr_expect_eq(fired, 2);
	cr_expect_eq(resolved, 2, "a firing that went out resolves; a held one does not");
	cr_expect_eq(st.rule[UVS_ALERT_ACCEPT_QUEUE_FULL].suppressed, 8);
	cr_expect_eq(st.rule[UVS_ALERT_ACCEPT_QUEUE_FULL].fired, 2);
	cr_expect_eq(st.rule[UVS_ALERT_ACCEPT_QUEUE_FULL].resolved, 2);
	/* A minute after the first: a new period; the next alert says how many were held. */
	snap.ts_ns += 60 * S;
	snap.sockets.accept_queue_full = 1;
	expect(UVS_ALERT_ACCEPT_QUEUE_FULL, UVS_ALERT_FIRING, "a new period");
	cr_expect_eq(a[0].suppressed, 8);
	snap.sockets.accept_queue_full = 0;
	expect(UVS_ALERT_ACCEPT_QUEUE_FULL, UVS_ALERT_RESOLVED, "resolves");
	cr_expect_eq(a[0].suppressed, 0, "said once");
}

Test(alerts, disabled_rule_is_silent)
{
	only(UVS_ALERT_POOL_SATURATED);
	cfg.rule[UVS_ALERT_POOL_SATURATED].enabled = false;
	snap.pool.available = true;
	snap.pool.saturation = 1;
	expect(UVS_ALERT_POOL_SATURATED, -1, "off");
}

/* With every rule on, a quiet process raises nothing however long it is watched. */
Test(alerts, quiet_process_raises_nothing)
{
	struct uvs_loop_snapshot *l = add_loop(7, UVS_ROLE_MAIN);

	l->utilization = 0.05;
	l->has_gc = true;
	l->gc.total_ns = 2 * MS;
	snap.pool.available = true;
	snap.pool.size = 4;
	snap.fds.available = true;
	snap.fds.open = 20;
	snap.fds.limit = 1024;
	snap.sockets.available = snap.sockets.traced = true;
	snap.sockets.tcp_states[UVS_TCP_CLOSE_WAIT] = 1;
	for (int i = 0; i < 600; i++)
		expect(UVS_ALERT_LOOP_BLOCKED, -1, "quiet");
}

Test(alerts, cap_is_respected)
{
	snap.pool.available = true;
	snap.pool.saturation = 1;
	snap.pool.sync_fs_on_loop = 1;
	cr_expect_eq(uvs_alerts_window(&cfg, &st, &snap, a, 1), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_POOL_SATURATED);
}

/* ---- loop_blocked ------------------------------------------------------------------------------ */

Test(alerts, loop_blocked_ongoing_once_per_span)
{
	struct uvs_loop_busy loops[2] = {
		{ .tid = 42, .role = UVS_ROLE_MAIN, .busy = true, .busy_since_ns = S },
		{ .tid = 43, .role = UVS_ROLE_WORKER, .busy = false, .busy_since_ns = 5 },
	};
	uint64_t t = S;

	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 99999999, 9, a, 8), 0,
		     "just below the threshold");
	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 100 * MS, 9, a, 8), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_LOOP_BLOCKED);
	cr_expect_eq(a[0].state, UVS_ALERT_FIRING);
	cr_expect_eq(a[0].severity, UVS_SEVERITY_CRITICAL);
	cr_expect_eq(a[0].loop_blocked.tid, 42);
	cr_expect_eq(a[0].loop_blocked.role, UVS_ROLE_MAIN);
	cr_expect(a[0].loop_blocked.ongoing);
	cr_expect_eq(a[0].loop_blocked.blocked_ns, 100 * MS);
	cr_expect_eq(a[0].loop_blocked.threshold_ns, 100 * MS);
	cr_expect_eq(a[0].ts_ns, 9);
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 900 * MS, 9, a, 8), 0,
		     "the same span is alerted once");
	loops[0].busy_since_ns = t + 950 * MS;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 1100 * MS, 9, a, 8), 1,
		     "a new span");
	loops[0].busy = false;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, loops, 2, t + 9 * S, 9, a, 8), 0,
		     "waiting: not blocked");
}

Test(alerts, loop_blocked_ended)
{
	struct uvs_block_end b = { .tid = 4250, .role = UVS_ROLE_WORKER, .duration_ns = 300 * MS };

	cr_assert_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 55, &a[0]), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_LOOP_BLOCKED);
	cr_expect_eq(a[0].state, UVS_ALERT_RESOLVED);
	cr_expect_eq(a[0].pid, 7);
	cr_expect_eq(a[0].ts_ns, 55);
	cr_expect(!a[0].loop_blocked.ongoing);
	cr_expect_eq(a[0].loop_blocked.blocked_ns, 300 * MS);
	cr_expect_eq(a[0].loop_blocked.tid, 4250);
	cfg.rule[UVS_ALERT_LOOP_BLOCKED].enabled = false;
	cr_expect_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 56, &a[0]), 0, "off");
}

/*
 * A loop whose process is stopped: its ongoing alert says so as it is read then; a stop seen at
 * a later check of the same span (a SIGSTOP mid-block) is said when the block ends.
 */
Test(alerts, loop_blocked_stopped_is_said)
{
	struct uvs_loop_busy l = { .tid = 42, .role = UVS_ROLE_MAIN, .busy = true,
				   .busy_since_ns = S, .stopped = UVS_LOOP_STOPPED_SIGNAL };
	struct uvs_block_end b = { .tid = 42, .role = UVS_ROLE_MAIN, .duration_ns = 10 * S };

	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 100 * MS, 9, a, 8), 1);
	cr_expect_eq(a[0].loop_blocked.stopped, UVS_LOOP_STOPPED_SIGNAL);
	l.stopped = UVS_LOOP_RUNNING;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 9 * S, 9, a, 8), 0);
	cr_assert_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 10, &a[0]), 1);
	cr_expect_eq(a[0].loop_blocked.stopped, UVS_LOOP_STOPPED_SIGNAL, "stopped during it");

	/* Running when it crossed the threshold, stopped later: the end says so. */
	l.busy_since_ns = 20 * S;
	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, 20 * S + 100 * MS, 9, a, 8), 1);
	cr_expect_eq(a[0].loop_blocked.stopped, UVS_LOOP_RUNNING);
	l.stopped = UVS_LOOP_FROZEN;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, 20 * S + 500 * MS, 9, a, 8), 0);
	cr_assert_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 21, &a[0]), 1);
	cr_expect_eq(a[0].loop_blocked.stopped, UVS_LOOP_FROZEN);

	/* A block of a running loop says nothing of stops. */
	l.busy_since_ns = 40 * S;
	l.stopped = UVS_LOOP_RUNNING;
	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, 40 * S + 100 * MS, 9, a, 8), 1);
	cr_assert_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 41, &a[0]), 1);
	cr_expect_eq(a[0].loop_blocked.stopped, UVS_LOOP_RUNNING);
}

/*
 * A span alerted as ongoing whose end the collector never sends (it measured the span under the
 * threshold) is resolved at the second check that finds the loop out of it, with the length seen
 * while it lasted; an end that does come first resolves it once; a loop not read says nothing.
 */
Test(alerts, loop_blocked_ongoing_never_left_firing)
{
	struct uvs_loop_busy l = { .tid = 42, .role = UVS_ROLE_MAIN, .busy = true,
				   .busy_since_ns = S };
	struct uvs_block_end b = { .tid = 42, .role = UVS_ROLE_MAIN, .duration_ns = 150 * MS };

	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 120 * MS, 9, a, 8), 1);
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 180 * MS, 9, a, 8), 0);
	l.busy = false;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 190 * MS, 9, a, 8), 0,
		     "its end may still be on its way");
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, NULL, 0, S + 195 * MS, 9, a, 8), 0,
		     "not read this time: nothing said");
	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 200 * MS, 10, a, 8), 1);
	cr_expect_eq(a[0].kind, UVS_ALERT_LOOP_BLOCKED);
	cr_expect_eq(a[0].state, UVS_ALERT_RESOLVED);
	cr_expect(!a[0].loop_blocked.ongoing);
	cr_expect_eq(a[0].loop_blocked.blocked_ns, 180 * MS, "the longest seen");
	cr_expect_eq(a[0].loop_blocked.since_ns, S);
	cr_expect_eq(a[0].ts_ns, 10);
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 210 * MS, 9, a, 8), 0, "once");
	cr_expect_eq(st.rule[UVS_ALERT_LOOP_BLOCKED].resolved, 1);

	/* A new span; busy again in another one before the second check: over all the same. */
	l.busy = true;
	l.busy_since_ns = 2 * S;
	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, 2 * S + 100 * MS, 9, a, 8), 1);
	l.busy_since_ns = 2 * S + 110 * MS;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, 2 * S + 112 * MS, 9, a, 8), 0);
	/* Its end comes between the two checks: resolved by it, not again. */
	cr_assert_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 11, &a[0]), 1);
	cr_expect_eq(a[0].loop_blocked.since_ns, 0, "the collector's end");
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, 2 * S + 122 * MS, 9, a, 8), 0);
	cr_expect_eq(st.rule[UVS_ALERT_LOOP_BLOCKED].resolved, 2);
}

/*
 * A block a little over the threshold that ends before a check alerted it: its end is told
 * once, and a reading of that same span taken late (its start a few ms off BPF's) is no new
 * episode; a span that begins after that end is one.
 */
Test(alerts, loop_blocked_ended_unseen_told_once)
{
	struct uvs_block_end b = { .tid = 42, .role = UVS_ROLE_MAIN, .duration_ns = 112 * MS,
				   .end_ns = S + 112 * MS };
	struct uvs_loop_busy late = { .tid = 42, .role = UVS_ROLE_MAIN, .busy = true,
				      .busy_since_ns = S + 7 * MS };

	cr_assert_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 55, &a[0]), 1);
	cr_expect_eq(a[0].loop_blocked.blocked_ns, 112 * MS);
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &late, 1, S + 115 * MS, 9, a, 8), 0,
		     "the same span, read late");
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &late, 1, S + 130 * MS, 9, a, 8), 0);
	late.busy_since_ns = S + 200 * MS;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &late, 1, S + 310 * MS, 9, a, 8), 1,
		     "a new span after it");
	cr_expect_eq(st.rule[UVS_ALERT_LOOP_BLOCKED].fired, 2);
}

/* A span busy already at attach is told as such, ongoing and ended, and by the check's end. */
Test(alerts, loop_blocked_since_attach)
{
	struct uvs_loop_busy l = { .tid = 42, .role = UVS_ROLE_MAIN, .busy = true,
				   .busy_since_ns = S, .since_attach = true };
	struct uvs_block_end b = { .tid = 43, .role = UVS_ROLE_WORKER, .duration_ns = 300 * MS,
				   .end_ns = S + 300 * MS, .since_attach = true };

	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 120 * MS, 9, a, 8), 1);
	cr_expect(a[0].loop_blocked.since_attach);
	l.busy = false;
	cr_expect_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 130 * MS, 9, a, 8), 0);
	cr_assert_eq(uvs_alerts_blocks(&cfg, &st, 7, &l, 1, S + 140 * MS, 9, a, 8), 1);
	cr_expect(!a[0].loop_blocked.ongoing);
	cr_expect(a[0].loop_blocked.since_attach, "ended by the checks, still a lower bound");
	cr_assert_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 11, &a[0]), 1);
	cr_expect(a[0].loop_blocked.since_attach);
	b.since_attach = false;
	b.end_ns = S + 900 * MS;
	cr_assert_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 12, &a[0]), 1);
	cr_expect(!a[0].loop_blocked.since_attach);
}

/* The rate limit counts episodes: a held-back one says neither its start nor its end. */
Test(alerts, loop_blocked_rate_limit)
{
	struct uvs_loop_busy l = { .tid = 42, .role = UVS_ROLE_MAIN, .busy = true };
	struct uvs_block_end b = { .tid = 42, .role = UVS_ROLE_MAIN, .duration_ns = 200 * MS };
	size_t ongoing = 0, ended = 0;

	cfg.rule[UVS_ALERT_LOOP_BLOCKED].rate_max = 3;
	cfg.rule[UVS_ALERT_LOOP_BLOCKED].rate_per_ns = 60 * S;
	for (int i = 0; i < 10; i++) {
		uint64_t start = (uint64_t)(i + 1) * S;

		l.busy_since_ns = start;
		ongoing += uvs_alerts_blocks(&cfg, &st, 7, &l, 1, start + 150 * MS,
					     1000 * S + start, a, 8);
		ended += uvs_alerts_block_ended(&cfg, &st, 7, &b, 1000 * S + start + 200 * MS,
						&a[0]);
	}
	cr_expect_eq(ongoing, 3);
	cr_expect_eq(ended, 3);
	cr_expect_eq(st.rule[UVS_ALERT_LOOP_BLOCKED].suppressed, 7);
	/* An episode that ended before it was seen ongoing is one episode too. */
	b.duration_ns = 120 * MS;
	cr_expect_eq(uvs_alerts_block_ended(&cfg, &st, 7, &b, 2000 * S, &a[0]), 1);
	cr_expect_eq(a[0].suppressed, 7, "the held-back episodes are counted in the next");
}

/* Every kind has a name that is not the fallback: a new kind must be named. */
Test(alerts, every_kind_is_named)
{
	int k;

	for (k = UVS_ALERT_LOOP_BLOCKED; k <= UVS_ALERT_KIND_LAST; k++) {
		cr_expect_str_neq(uvs_alert_kind_name((enum uvs_alert_kind)k), "invalid", "%d", k);
		cr_expect_not_null(uvs_rule_info((enum uvs_alert_kind)k));
	}
	cr_expect_str_eq(uvs_alert_status_name(UVS_ALERT_RESOLVED), "resolved");
	cr_expect_str_eq(uvs_severity_name(UVS_SEVERITY_INFO), "info");
}

Test(alerts, a_process_no_longer_watched_resolves_what_fires)
{
	struct uvs_loop_snapshot *main_loop;
	size_t n;

	only(UVS_ALERT_POOL_SATURATED);
	cfg.rule[UVS_ALERT_LOOP_UTILIZATION].enabled = true;
	cfg.rule[UVS_ALERT_LOOP_UTILIZATION].for_ns = 0;
	cfg.rule[UVS_ALERT_LOOP_UTILIZATION].hold_ns = 0;
	main_loop = add_loop(7, UVS_ROLE_MAIN);
	main_loop->utilization = 0.99;
	snap.pool.available = true;
	snap.pool.size = 4;
	snap.pool.saturation = 0.9;
	cr_assert_eq(judge(), 2, "both fire");
	n = uvs_alerts_gone(&cfg, &st, &snap, a, 16);
	cr_assert_eq(n, 2, "both resolve when the process is gone: %zu", n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(a[i].state, UVS_ALERT_RESOLVED);
		cr_expect(a[i].detached, "said to be resolved by the detach");
		cr_expect_eq(a[i].pid, 7);
	}
	cr_expect_eq(uvs_alerts_gone(&cfg, &st, &snap, a, 16), 0, "once");
	cr_expect_eq(st.rule[UVS_ALERT_POOL_SATURATED].resolved, 1);
}

Test(alerts, a_quiet_process_no_longer_watched_resolves_nothing)
{
	only(UVS_ALERT_POOL_SATURATED);
	snap.pool.available = true;
	snap.pool.saturation = 0.1;
	cr_assert_eq(judge(), 0);
	cr_expect_eq(uvs_alerts_gone(&cfg, &st, &snap, a, 16), 0);
}

Test(alerts, a_muted_alert_stays_silent_at_the_detach)
{
	only(UVS_ALERT_POOL_SATURATED);
	cfg.rule[UVS_ALERT_POOL_SATURATED].rate_max = 1;
	cfg.rule[UVS_ALERT_POOL_SATURATED].rate_per_ns = 3600 * S;
	snap.pool.available = true;
	snap.pool.saturation = 0.9;
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_FIRING, "the first");
	snap.pool.saturation = 0;
	expect(UVS_ALERT_POOL_SATURATED, UVS_ALERT_RESOLVED, "over");
	snap.pool.saturation = 0.9;
	expect(UVS_ALERT_POOL_SATURATED, -1, "the second is held back by the rate limit");
	cr_expect_eq(uvs_alerts_gone(&cfg, &st, &snap, a, 16), 0, "and so is its resolution");
}
