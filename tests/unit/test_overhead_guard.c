// SPDX-License-Identifier: MIT
/*
 * The overhead guard's steps (core/overhead_guard.c) as a function of rates over time:
 * hysteresis both ways, the order of the steps and when one is worth taking, the prediction
 * that keeps a load from making it flap, failures, and what it says in snapshots and records.
 * A window is (length, uprobe hits, loop iterations, stack samples); a sample weighs
 * UVS_GUARD_SAMPLE_HITS (20) hits.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/overhead_guard.h"

#define SEC 1000000000ULL

static struct uvs_guard g;

/* --phases with 7 boundary hits per iteration, sampling at 99 Hz and 997 Hz, budget 10000/s. */
static void setup_full(void)
{
	struct uvs_guard_config c = { .enabled = true, .budget = 10000, .phases = true,
				      .phase_hits_per_iteration = 7, .sample_hz = 99,
				      .blocked_hz = 997 };

	uvs_guard_init(&g, &c);
}

TestSuite(guard, .init = setup_full);

/* One window of length ns with this many hits, iterations and samples. */
static struct uvs_guard_decision feed(uint64_t ns, uint64_t hits, uint64_t its, uint64_t samples)
{
	struct uvs_guard_window w = { .window_ns = ns, .hits = hits, .iterations = its,
				      .samples = samples };
	struct uvs_guard_decision d;

	uvs_guard_window(&g, &w, &d);
	return d;
}

/* n one-second windows at a rate; returns the first decision that did something, if any. */
static struct uvs_guard_decision feed_n(int n, uint64_t hits, uint64_t its, uint64_t samples,
					int *at)
{
	struct uvs_guard_decision d = { 0 }, first = { 0 };

	*at = -1;
	for (int i = 0; i < n; i++) {
		d = feed(SEC, hits, its, samples);
		if (d.action != UVS_GUARD_NONE && *at < 0) {
			*at = i;
			first = d;
		}
	}
	return first;
}

Test(guard, steps_in_order_and_only_after_three_windows_over)
{
	struct uvs_guard_settings set;
	struct uvs_guard_decision d;

	uvs_guard_settings(&g, &set);
	cr_assert(set.phases);
	cr_assert_eq(set.sample_hz, 99);
	cr_assert_eq(set.blocked_hz, 997);
	/* 45000 hits of 5000 iterations (9 each), 99 samples: 45000 + 1980 = 46980/s. */
	cr_expect_eq(feed(SEC, 45000, 5000, 99).action, UVS_GUARD_NONE);
	cr_expect_eq(feed(SEC, 45000, 5000, 99).action, UVS_GUARD_NONE);
	d = feed(SEC, 45000, 5000, 99);
	cr_assert_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_PHASES_OFF);
	cr_expect_eq(d.level, 1);
	cr_expect_eq(d.rate, 46980);
	cr_expect_eq(d.windows, 3);
	uvs_guard_settings(&g, &set);
	cr_expect(!set.phases);
	cr_expect_eq(set.sample_hz, 99, "sampling is the second step, not the first");
	/* Samples make most of the load now (a blocked loop at 997 Hz, say): 2000 + 10000/s. */
	cr_expect_eq(feed(SEC, 2000, 1000, 500).action, UVS_GUARD_NONE);
	cr_expect_eq(feed(SEC, 2000, 1000, 500).action, UVS_GUARD_NONE);
	d = feed(SEC, 2000, 1000, 500);
	cr_assert_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_SAMPLING_LOW);
	cr_expect_eq(d.level, 2);
	cr_expect_eq(d.rate, 12000);
	uvs_guard_settings(&g, &set);
	cr_expect(!set.phases);
	cr_expect_eq(set.sample_hz, 9);
	cr_expect_eq(set.blocked_hz, 99);
}

/*
 * Over the budget, but no step would save a tenth of it: a fast loop's epoll hooks make the load
 * (2 hits per iteration, not stepped) and phases or sampling would give back little. Nothing is
 * taken, it is said once; a step that becomes worth it later is taken then.
 */
Test(guard, only_a_step_worth_a_tenth_of_the_rate)
{
	struct uvs_guard_decision d;
	int at;

	/* 40000 hits: 200 iterations' phases would save 1400/s, 99 samples 1800/s: < 4198. */
	d = feed_n(3, 40000, 200, 99, &at);
	cr_expect_eq(d.action, UVS_GUARD_EXHAUSTED);
	cr_expect_eq(at, 2);
	cr_expect_eq(g.level, 0);
	d = feed_n(5, 40000, 200, 99, &at);
	cr_expect_eq(at, -1, "said once");
	/* The loop's phases grow to a tenth of the load: taken at once (still over the budget). */
	d = feed(SEC, 40000, 600, 99);
	cr_expect_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_PHASES_OFF);
	/* Sampling worth it but phases not: sampling is taken, out of order. */
	setup_full();
	d = feed_n(3, 1000, 10, 600, &at);
	cr_expect_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_SAMPLING_LOW);
	cr_expect(!uvs_guard_in_force(&g, UVS_GUARD_PHASES_OFF));
	/* ... and undone first, even so: the last taken is the first undone. */
	d = feed_n(10, 100, 10, 1, &at);
	cr_expect_eq(d.action, UVS_GUARD_UP);
	cr_expect_eq(d.step, UVS_GUARD_SAMPLING_LOW);
	cr_expect_eq(g.level, 0);
}

Test(guard, a_window_under_the_budget_starts_the_count_again)
{
	int at;

	feed(SEC, 50000, 5000, 0);
	feed(SEC, 50000, 5000, 0);
	cr_expect_eq(feed(SEC, 9000, 1000, 0).action, UVS_GUARD_NONE, "under: count reset");
	feed(SEC, 50000, 5000, 0);
	feed(SEC, 50000, 5000, 0);
	cr_expect_eq(g.level, 0);
	feed_n(1, 50000, 5000, 0, &at);
	cr_expect_eq(at, 0, "the third in a row after the dip steps down");
	cr_expect_eq(g.level, 1);
	/* At the budget exactly is not over it. */
	setup_full();
	feed_n(10, 10000, 1000, 0, &at);
	cr_expect_eq(at, -1);
}

Test(guard, rates_are_per_second_of_the_window)
{
	/* 6000 hits in half a second is 12000/s: over; in two seconds, 3000/s: not. */
	feed(SEC / 2, 6000, 600, 0);
	feed(SEC / 2, 6000, 600, 0);
	cr_expect_eq(feed(SEC / 2, 6000, 600, 0).action, UVS_GUARD_DOWN);
	setup_full();
	for (int i = 0; i < 5; i++)
		cr_expect_eq(feed(2 * SEC, 6000, 600, 0).action, UVS_GUARD_NONE);
	cr_expect_eq(uvs_guard_rate(6000, SEC / 2), 12000);
	cr_expect_eq(uvs_guard_rate(5, 0), 0);
	/* Samples weigh 20 hits: 200 hits and 500 samples a second are 10200/s. */
	setup_full();
	cr_expect_eq(feed(SEC, 200, 0, 500).rate, 10200);
	/* An empty window decides nothing and counts nothing. */
	setup_full();
	feed(SEC, 50000, 5000, 0);
	feed(SEC, 50000, 5000, 0);
	cr_expect_eq(feed(0, 50000, 5000, 0).action, UVS_GUARD_NONE);
	cr_expect_eq(g.over, 2);
	cr_expect_eq(g.ns, 2 * SEC);
}

Test(guard, steps_up_in_reverse_after_ten_calm_windows)
{
	struct uvs_guard_decision d;
	int at;

	feed_n(3, 50000, 5000, 99, &at);
	feed_n(3, 2000, 100, 500, &at);
	cr_assert_eq(g.level, 2);
	/* Quiet: 100 hits/s, 10 iterations/s, 1 sample/s (20). */
	d = feed_n(9, 100, 10, 1, &at);
	cr_expect_eq(at, -1, "nine calm windows are not enough");
	d = feed(SEC, 100, 10, 1);
	cr_assert_eq(d.action, UVS_GUARD_UP);
	cr_expect_eq(d.step, UVS_GUARD_SAMPLING_LOW, "the last step taken is the first undone");
	cr_expect_eq(d.level, 1);
	cr_expect_eq(d.windows, 10);
	cr_expect_eq(d.rate, 120);
	/* 20/s of samples at the low rate are 220/s at the full one (997/99 rounds up to 11). */
	cr_expect_eq(d.predicted, 120 + 200);
	d = feed_n(10, 100, 10, 1, &at);
	cr_assert_eq(at, 9);
	cr_expect_eq(d.action, UVS_GUARD_UP);
	cr_expect_eq(d.step, UVS_GUARD_PHASES_OFF);
	cr_expect_eq(d.predicted, 120 + 10 * 7, "7 boundary hits per iteration");
	cr_expect_eq(g.level, 0);
	cr_expect_eq(g.steps_down, 2);
	cr_expect_eq(g.steps_up, 2);
	/* Nothing left to undo. */
	feed_n(30, 100, 10, 1, &at);
	cr_expect_eq(at, -1);
}

Test(guard, a_calm_window_needs_the_prediction_under_half_the_budget)
{
	int at;

	feed_n(3, 50000, 5000, 0, &at);
	cr_assert_eq(g.level, 1);
	/* 2000 hits/s, 600 iterations/s: with phases 2000 + 4200 = 6200/s, over half (5000). */
	feed_n(50, 2000, 600, 0, &at);
	cr_expect_eq(at, -1, "phases would put it over half the budget: they stay off");
	/* One window that would not fit breaks a run of ten. */
	feed_n(9, 2000, 100, 0, &at);
	feed_n(1, 2000, 600, 0, &at);
	feed_n(9, 2000, 100, 0, &at);
	cr_expect_eq(g.level, 1);
	feed_n(1, 2000, 100, 0, &at);
	cr_expect_eq(at, 0, "2000 + 700 = 2700/s for ten windows in a row: back on");
	cr_expect_eq(g.level, 0);
}

/*
 * The flapping a plain threshold would have: a loop at a steady 1000 iterations per second pays
 * 2 epoll hits per iteration without phases and 9 with them. 9000/s is under the budget, so
 * nothing happens; at 1500 iterations/s, 13500/s with phases is over: one step down, and never
 * back (with phases 13500 > 5000), however long it runs.
 */
Test(guard, a_steady_load_never_makes_it_flap)
{
	int downs = 0, ups = 0;

	for (int its = 1000; its <= 1500; its += 500) {
		setup_full();
		downs = ups = 0;
		for (int i = 0; i < 600; i++) {
			bool phases = !uvs_guard_in_force(&g, UVS_GUARD_PHASES_OFF);
			struct uvs_guard_decision d =
				feed(SEC, (uint64_t)its * (2 + (phases ? 7 : 0)), its, 0);

			downs += d.action == UVS_GUARD_DOWN;
			ups += d.action == UVS_GUARD_UP;
		}
		cr_expect_eq(downs, its == 1000 ? 0 : 1, "%d it/s: %d steps down", its, downs);
		cr_expect_eq(ups, 0, "%d it/s: %d steps up", its, ups);
	}
}

Test(guard, every_step_taken_and_still_over_is_said_once_per_episode)
{
	struct uvs_guard_decision d;
	int at;

	feed_n(3, 50000, 5000, 0, &at);
	feed_n(3, 2000, 0, 1000, &at);
	cr_assert_eq(g.level, 2);
	feed(SEC, 50000, 5000, 0);
	feed(SEC, 50000, 5000, 0);
	d = feed(SEC, 50000, 5000, 0);
	cr_expect_eq(d.action, UVS_GUARD_EXHAUSTED);
	cr_expect_eq(d.level, 2);
	cr_expect_eq(d.windows, 3);
	feed_n(20, 50000, 5000, 0, &at);
	cr_expect_eq(at, -1, "said once");
	feed(SEC, 9000, 0, 0);
	feed_n(3, 50000, 5000, 0, &at);
	cr_expect_eq(at, 2, "a new episode after a window under the budget");
}

Test(guard, only_the_steps_that_apply)
{
	struct uvs_guard_config c = { .enabled = true, .budget = 1000, .sample_hz = 99,
				      .blocked_hz = 997 };
	struct uvs_guard_settings set;
	struct uvs_guard_decision d;
	int at;

	/* No exact phases: sampling is the only step. */
	uvs_guard_init(&g, &c);
	d = feed_n(3, 500, 1000, 99, &at);
	cr_expect_eq(d.step, UVS_GUARD_SAMPLING_LOW);
	cr_expect_eq(g.nsteps, 1);
	/* Nothing to step (no phases, no sampling): over the budget is only said. */
	c.sample_hz = c.blocked_hz = 0;
	uvs_guard_init(&g, &c);
	d = feed_n(3, 5000, 1000, 0, &at);
	cr_expect_eq(d.action, UVS_GUARD_EXHAUSTED);
	/* Sampling already at 1 Hz has nothing to give. */
	c.sample_hz = c.blocked_hz = 1;
	uvs_guard_init(&g, &c);
	cr_expect_eq(g.nsteps, 0);
	/* Low rates never reach 0 Hz. */
	c.sample_hz = 5;
	c.blocked_hz = 50;
	uvs_guard_init(&g, &c);
	feed_n(3, 0, 0, 500, &at);
	uvs_guard_settings(&g, &set);
	cr_expect_eq(set.sample_hz, 1);
	cr_expect_eq(set.blocked_hz, 5);
}

Test(guard, disabled_counts_but_never_steps)
{
	struct uvs_guard_config c = { .enabled = false, .budget = 1000, .phases = true,
				      .phase_hits_per_iteration = 7 };
	struct uvs_guard_snapshot snap;
	int at;

	uvs_guard_init(&g, &c);
	feed_n(50, 100000, 10000, 0, &at);
	cr_expect_eq(at, -1);
	cr_expect_eq(g.level, 0);
	cr_expect_eq(g.hits, 50 * 100000ULL);
	uvs_guard_snapshot(&g, true, &snap);
	cr_expect(!snap.enabled);
	cr_expect_eq(snap.rate, 100000);
}

Test(guard, a_step_that_fails)
{
	struct uvs_guard_decision d;
	struct uvs_guard_settings set;
	int at;

	/* Undoing phases_off fails (the uprobes cannot be put back): it stays off for good. */
	d = feed_n(3, 50000, 5000, 0, &at);
	cr_assert_eq(d.step, UVS_GUARD_PHASES_OFF);
	d = feed_n(10, 100, 1, 0, &at);
	cr_assert_eq(d.action, UVS_GUARD_UP);
	uvs_guard_failed(&g, &d);
	cr_expect_eq(g.level, 1);
	cr_expect_eq(g.steps_up, 0);
	uvs_guard_settings(&g, &set);
	cr_expect(!set.phases);
	feed_n(100, 100, 1, 0, &at);
	cr_expect_eq(at, -1, "not tried again");
	/* Sampling can still step down and back up above that floor. */
	d = feed_n(3, 2000, 0, 1000, &at);
	cr_expect_eq(d.step, UVS_GUARD_SAMPLING_LOW);
	d = feed_n(10, 100, 1, 1, &at);
	cr_expect_eq(d.action, UVS_GUARD_UP);
	cr_expect_eq(g.level, 1);

	/* Taking sampling_low fails: that step is dropped, the level stays. */
	setup_full();
	feed_n(3, 50000, 5000, 0, &at);
	d = feed_n(3, 2000, 0, 1000, &at);
	cr_assert_eq(d.step, UVS_GUARD_SAMPLING_LOW);
	uvs_guard_failed(&g, &d);
	cr_expect_eq(g.level, 1);
	cr_expect_eq(g.nsteps, 1);
	cr_expect_eq(g.steps_down, 1);
	cr_expect(!uvs_guard_in_force(&g, UVS_GUARD_SAMPLING_LOW));
	d = feed_n(3, 2000, 0, 1000, &at);
	cr_expect_eq(d.action, UVS_GUARD_EXHAUSTED);
}

Test(guard, time_and_hits_per_step)
{
	struct uvs_guard_snapshot snap;
	int at;

	feed_n(3, 50000, 5000, 0, &at); /* 3 s at level 0, then phases off */
	feed_n(3, 40000, 0, 500, &at);  /* 3 s phases off, then sampling low */
	feed_n(4, 50000, 0, 0, &at);    /* 4 s at level 2 */
	uvs_guard_snapshot(&g, false, &snap);
	cr_expect(snap.enabled);
	cr_expect_eq(snap.level, 2);
	cr_expect(snap.phases_asked);
	cr_expect(snap.phases_off);
	cr_expect(snap.sampling_low);
	cr_expect_eq(snap.sample_hz, 9);
	cr_expect_eq(snap.blocked_hz, 99);
	cr_expect_eq(snap.steps_down, 0, "session figures only in totals");
	uvs_guard_snapshot(&g, true, &snap);
	cr_expect_eq(snap.steps_down, 2);
	cr_expect_eq(snap.phases_off_ns, 7 * SEC);
	cr_expect_eq(snap.sampling_low_ns, 4 * SEC);
	/* 470000 hits and 1500 samples (30000) in 10 s. */
	cr_expect_eq(snap.rate, 50000);
	cr_expect_eq(snap.budget, 10000);
}

Test(guard, window_of_a_snapshot)
{
	static struct uvs_snapshot s;
	struct uvs_guard_window w;

	memset(&s, 0, sizeof(s));
	s.window_ns = 2 * SEC;
	s.nloops = 2;
	s.loops[0].iterations = 300;
	s.loops[1].iterations = 45;
	s.agent.probe_hits = 1234;
	s.agent.stack_samples = 17;
	uvs_guard_window_of(&s, &w);
	cr_expect_eq(w.window_ns, 2 * SEC);
	cr_expect_eq(w.iterations, 345);
	cr_expect_eq(w.hits, 1234);
	cr_expect_eq(w.samples, 17);
	cr_expect_eq(uvs_guard_load(&w), (1234 + 17 * 20) / 2, "hits per second, a sample as 20");
}

Test(guard, records)
{
	struct uvs_guard_record r;
	struct uvs_guard_decision d;
	int at;

	d = feed_n(3, 50000, 5000, 0, &at);
	uvs_guard_record(&g, &d, 77, NULL, &r);
	cr_expect_eq(r.action, UVS_GUARD_RECORD_DOWN);
	cr_expect_str_eq(r.step, "phases_off");
	cr_expect_eq(r.level, 1);
	cr_expect_eq(r.rate, 50000);
	cr_expect_eq(r.budget, 10000);
	cr_expect_eq(r.windows, 3);
	cr_expect(r.phases_asked && r.phases_off);
	cr_expect_eq(r.sample_hz, 99);
	cr_expect_eq(r.ts_ns, 77);
	d = feed_n(10, 100, 0, 0, &at);
	uvs_guard_failed(&g, &d);
	uvs_guard_record(&g, &d, 78, "no way", &r);
	cr_expect_eq(r.action, UVS_GUARD_RECORD_FAILED);
	cr_expect(!r.step_down);
	cr_expect_str_eq(r.error, "no way");
	cr_expect(r.phases_off, "the settings in force after the failure");
	cr_expect_eq(r.level, 1);
}

/*
 * A step is applied just after the window that decided it, so the window after a step holds a
 * few milliseconds of the old level: exact phases count as off in it both ways (the loop
 * figures leave its phases out too, collect/loop.c).
 */
Test(guard, the_window_after_a_step_has_both_levels)
{
	struct uvs_guard_snapshot snap;
	int at;

	uvs_guard_snapshot(&g, false, &snap);
	cr_expect(!snap.phases_off);
	feed_n(3, 50000, 5000, 0, &at); /* the third decides phases_off */
	uvs_guard_snapshot(&g, false, &snap);
	cr_expect(snap.phases_off, "the window after the step down");
	feed_n(10, 100, 1, 0, &at); /* the tenth undoes it */
	cr_assert_eq(at, 9);
	uvs_guard_snapshot(&g, false, &snap);
	cr_expect(snap.phases_off, "the window after the step up began with them out");
	feed(SEC, 100, 1, 0);
	uvs_guard_snapshot(&g, false, &snap);
	cr_expect(!snap.phases_off, "a whole window with them in");
	uvs_guard_snapshot(&g, true, &snap);
	cr_expect(!snap.phases_off);
}

Test(guard, the_last_window_is_accounted_not_decided)
{
	struct uvs_guard_window w = { .window_ns = SEC, .hits = 50000 };
	int at;

	feed_n(2, 50000, 0, 0, &at);
	uvs_guard_account(&g, &w);
	cr_expect_eq(g.level, 0);
	cr_expect_eq(g.hits, 150000);
	cr_expect_eq(g.ns, 3 * SEC);
}

/* Each decision says where its rate came from; the parts add up to it, samples weighted. */
Test(guard, the_rate_is_split_by_source)
{
	struct uvs_guard_window w = { .window_ns = 2 * SEC, .hits = 100000, .pool_hits = 60000,
				      .gc_hits = 400, .iterations = 1000, .samples = 200 };
	struct uvs_guard_decision d;

	uvs_guard_window(&g, &w, &d);
	cr_expect_eq(d.rate, 52000);
	cr_expect_eq(d.rate_pool, 30000);
	cr_expect_eq(d.rate_gc, 200);
	cr_expect_eq(d.rate_samples, 2000);
	cr_expect_eq(d.rate_loop, 19800);
	/* Inconsistent counts (more pool hits than hits) never give a negative part. */
	w.pool_hits = 150000;
	uvs_guard_window(&g, &w, &d);
	cr_expect_eq(d.rate_pool, 50000);
	cr_expect_eq(d.rate_gc, 0);
	cr_expect_eq(d.rate_loop, 0);
	cr_expect_eq(d.rate_pool + d.rate_gc + d.rate_samples + d.rate_loop, d.rate);
}

/* One window with its pool hits apart (they are in hits too). */
static struct uvs_guard_decision feed_pool(uint64_t hits, uint64_t pool_hits, uint64_t its,
					   uint64_t samples)
{
	struct uvs_guard_window w = { .window_ns = SEC, .hits = hits, .pool_hits = pool_hits,
				      .iterations = its, .samples = samples };
	struct uvs_guard_decision d;

	uvs_guard_window(&g, &w, &d);
	return d;
}

/* ---- the budget relative to the target's CPU time (--max-overhead) ----------------------- */

/* Default mode without sampling: one loop hook per wait, 10000/s, and at most 3% of the CPU. */
static struct uvs_guard_config relative_config(void)
{
	return (struct uvs_guard_config){ .enabled = true, .budget = 10000,
					  .max_overhead_ppm = 30000, .loop_hooks = true,
					  .loop_hook_hits_per_wait = 1 };
}

/* A window with the target's CPU time in it. */
static struct uvs_guard_decision feed_cpu(uint64_t hits, uint64_t its, uint64_t cpu_ns)
{
	struct uvs_guard_window w = { .window_ns = SEC, .hits = hits, .iterations = its,
				      .target_cpu_ns = cpu_ns };
	struct uvs_guard_decision d;

	uvs_guard_window(&g, &w, &d);
	return d;
}

/*
 * The plain HTTP server: 5000 requests/s, one loop hit each, 160 ms of CPU a second. 3% of that
 * at 2.5 us a hit is 1920 hits/s: over for 3 windows, the wait hooks go (the step that saves
 * the rate), and stay out: with them back the prediction (5000) is not under half of 1920.
 */
Test(guard, a_light_server_is_over_its_share_of_cpu_under_the_absolute_budget)
{
	struct uvs_guard_config c = relative_config();
	struct uvs_guard_decision d;
	int i;

	uvs_guard_init(&g, &c);
	cr_expect_eq(feed_cpu(5000, 5000, 160000000).action, UVS_GUARD_NONE);
	cr_expect_eq(feed_cpu(5000, 5000, 160000000).action, UVS_GUARD_NONE);
	d = feed_cpu(5000, 5000, 160000000);
	cr_assert_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_LOOP_HOOKS_OFF);
	cr_expect_eq(d.budget, 1920);
	for (i = 0; i < 30; i++)
		cr_expect_eq(feed_cpu(0, 5000, 150000000).action, UVS_GUARD_NONE);
	/* The same load with no relative budget stays under 10000: nothing is taken. */
	c.max_overhead_ppm = 0;
	uvs_guard_init(&g, &c);
	for (i = 0; i < 10; i++) {
		d = feed_cpu(5000, 5000, 160000000);
		cr_expect_eq(d.action, UVS_GUARD_NONE);
		cr_expect_eq(d.budget, 10000);
	}
}

/*
 * A busy server (the crypto bench server: 9600 hits/s on 820 ms of CPU a second) is within its
 * share (9840/s); a process that does little keeps every probe under the floor (1000/s), and one
 * whose CPU time is unknown has the absolute budget alone.
 */
Test(guard, the_relative_budget_has_a_floor_and_a_ceiling)
{
	struct uvs_guard_config c = relative_config();
	struct uvs_guard_decision d;
	int i;

	uvs_guard_init(&g, &c);
	for (i = 0; i < 5; i++) {
		d = feed_cpu(9600, 2000, 820000000);
		cr_expect_eq(d.action, UVS_GUARD_NONE);
		cr_expect_eq(d.budget, 9840);
	}
	uvs_guard_init(&g, &c);
	for (i = 0; i < 5; i++) {
		d = feed_cpu(900, 900, 1000000); /* 1 ms of CPU: 3% is 12 hits/s */
		cr_expect_eq(d.action, UVS_GUARD_NONE);
		cr_expect_eq(d.budget, UVS_GUARD_RELATIVE_FLOOR);
	}
	uvs_guard_init(&g, &c);
	for (i = 0; i < 5; i++) {
		d = feed_cpu(9000, 9000, 0);
		cr_expect_eq(d.action, UVS_GUARD_NONE);
		cr_expect_eq(d.budget, 10000);
	}
	/* And a busier process than the absolute budget allows for: that budget is the ceiling. */
	uvs_guard_init(&g, &c);
	cr_expect_eq(feed_cpu(9000, 9000, 2000000000).budget, 10000);
}

/* ---- the last step: the loops' wait hooks out (libuv's metrics read instead) ------------- */

/* Default mode: sampling at 99/997 Hz, one wait hook per wait, 10000/s; phases or not. */
static struct uvs_guard_config hooks_config(bool phases)
{
	return (struct uvs_guard_config){ .enabled = true, .budget = 10000, .phases = phases,
					  .phase_hits_per_iteration = phases ? 7 : 0,
					  .sample_hz = 99, .blocked_hz = 997, .loop_hooks = true,
					  .loop_hook_hits_per_wait = 1 };
}

static void setup_hooks(bool phases)
{
	struct uvs_guard_config c = hooks_config(phases);

	uvs_guard_init(&g, &c);
}

/* A window with gc GC-probe hits among its hits. */
static struct uvs_guard_decision feed_gc(uint64_t hits, uint64_t gc, uint64_t its,
					 uint64_t samples)
{
	struct uvs_guard_window w = { .window_ns = SEC, .hits = hits, .gc_hits = gc,
				      .iterations = its, .samples = samples };
	struct uvs_guard_decision d;

	uvs_guard_window(&g, &w, &d);
	return d;
}

/* n one-second windows alike; returns the last decision. */
static struct uvs_guard_decision feed_pool_n(int n, uint64_t hits, uint64_t pool_hits,
					     uint64_t its, uint64_t samples)
{
	struct uvs_guard_decision d = { 0 };

	for (int i = 0; i < n; i++)
		d = feed_pool(hits, pool_hits, its, samples);
	return d;
}

/* The fs HTTP server's default mode: no exact phases, sampling at 99/997 Hz, the pool step. */
static void setup_pool(void)
{
	struct uvs_guard_config c = { .enabled = true, .budget = 10000, .sample_hz = 99,
				      .blocked_hz = 997, .pool = true };

	uvs_guard_init(&g, &c);
}

/*
 * 2500 requests/s of 5 pool jobs (2 hits each) and 8 iterations (one epoll hook each): the
 * pool's 25000 hits/s are the step worth taking (sampling would give back 1782 of 46980), and
 * with them out the rate is the loop's. Undone only when the iterations, times the pool hits
 * per iteration measured before (25000 / 20000), predict under half the budget.
 */
Test(guard, the_pool_step_out_and_back_by_its_hits_per_iteration)
{
	struct uvs_guard_settings set;
	struct uvs_guard_decision d;

	setup_pool();
	uvs_guard_settings(&g, &set);
	cr_assert(set.pool_probes);
	d = feed_pool_n(3, 45000, 25000, 20000, 99);
	cr_assert_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_POOL_JOBS_OFF);
	cr_expect_eq(d.rate_pool, 25000);
	uvs_guard_settings(&g, &set);
	cr_expect(!set.pool_probes);
	cr_expect_eq(set.sample_hz, 99, "sampling would save too little: it stays");
	cr_expect_float_eq(g.pool_per_iteration, 1.25, 1e-9);
	/* The loop alone still over: nothing left worth a tenth, said once. */
	d = feed_pool_n(3, 20000, 0, 20000, 99);
	cr_expect_eq(d.action, UVS_GUARD_EXHAUSTED);
	/* 500 requests/s: 4000 iterations, 5980/s now, 10980 predicted with the pool's: stays. */
	for (int i = 0; i < 30; i++) {
		d = feed_pool(4000, 0, 4000, 99);
		cr_expect_eq(d.action, UVS_GUARD_NONE, "window %d", i);
		cr_expect_eq(d.predicted, 5980 + 5000);
	}
	cr_expect(uvs_guard_in_force(&g, UVS_GUARD_POOL_JOBS_OFF));
	/* 100 requests/s: 2780 + 1000 predicted, under half the budget for ten windows. */
	for (int i = 0; i < 9; i++)
		cr_expect_eq(feed_pool(800, 0, 800, 99).action, UVS_GUARD_NONE);
	d = feed_pool(800, 0, 800, 99);
	cr_assert_eq(d.action, UVS_GUARD_UP);
	cr_expect_eq(d.step, UVS_GUARD_POOL_JOBS_OFF);
	cr_expect_eq(d.predicted, 3780);
	cr_expect_eq(d.level, 0);
	uvs_guard_settings(&g, &set);
	cr_expect(set.pool_probes);
}

/*
 * The hits per iteration come only from windows with the probes in for all of them: the window
 * after the step is undone began with them out (and jobs then in flight go unseen), so its
 * low pool count would make the next prediction too low.
 */
Test(guard, the_pool_prediction_skips_windows_the_probes_were_out_for)
{
	struct uvs_guard_decision d;

	setup_pool();
	d = feed_pool_n(3, 40000, 25000, 15000, 0);
	cr_assert_eq(d.step, UVS_GUARD_POOL_JOBS_OFF);
	d = feed_pool_n(10, 600, 0, 600, 0);
	cr_assert_eq(d.action, UVS_GUARD_UP);
	/* Over again: the first window (probes out part of it) shows few pool hits. */
	cr_expect_eq(feed_pool(20000, 1000, 10000, 0).action, UVS_GUARD_NONE);
	cr_expect_eq(feed_pool(40000, 30000, 10000, 0).action, UVS_GUARD_NONE);
	d = feed_pool(40000, 30000, 10000, 0);
	cr_assert_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_POOL_JOBS_OFF);
	cr_expect_float_eq(g.pool_per_iteration, 3.0, 1e-9);
	/* A window under the budget starts the measure again, as it does the count. */
	feed_pool_n(10, 600, 0, 600, 0);
	cr_assert_eq(g.level, 0);
	feed_pool(40000, 5000, 1000, 0);  /* prev_mask: not measured */
	feed_pool(40000, 5000, 1000, 0);
	feed_pool(100, 0, 100, 0);        /* calm: starts again */
	feed_pool(40000, 8000, 1000, 0);
	feed_pool(40000, 8000, 1000, 0);
	d = feed_pool(40000, 8000, 1000, 0);
	cr_assert_eq(d.step, UVS_GUARD_POOL_JOBS_OFF);
	cr_expect_float_eq(g.pool_per_iteration, 8.0, 1e-9);
}

/* A loop blocked while its pool works: no iteration to measure by, so the prediction errs high. */
Test(guard, the_pool_prediction_without_iterations)
{
	struct uvs_guard_decision d;

	setup_pool();
	d = feed_pool_n(3, 30000, 30000, 0, 0);
	cr_assert_eq(d.step, UVS_GUARD_POOL_JOBS_OFF);
	cr_expect_float_eq(g.pool_per_iteration, 90000.0, 1e-9);
	d = feed_pool(100, 0, 1, 0);
	cr_expect_eq(d.predicted, 100 + 90000);
	cr_expect_eq(g.calm, 0);
}

/* Without statics to read or privileges to put them back, the pool's probes are never stepped. */
Test(guard, no_pool_step_unless_it_can_be_undone)
{
	struct uvs_guard_config c = { .enabled = true, .budget = 10000, .sample_hz = 99,
				      .blocked_hz = 997 };
	struct uvs_guard_settings set;
	struct uvs_guard_decision d;

	uvs_guard_init(&g, &c);
	d = feed_pool_n(3, 40000, 25000, 15000, 99);
	cr_expect_eq(d.action, UVS_GUARD_EXHAUSTED);
	uvs_guard_settings(&g, &set);
	cr_expect(set.pool_probes, "in: whether they were attached is the collector's");
}

/* Sampling, then the pool: undone in reverse, and each said in snapshots and records. */
Test(guard, the_pool_step_in_snapshots_and_records)
{
	struct uvs_guard_snapshot snap;
	struct uvs_guard_record r;
	struct uvs_guard_decision d;

	setup_pool();
	/* A blocked loop sampled at 997 Hz, and its pool busy. */
	d = feed_pool_n(3, 8000, 8000, 0, 500);
	cr_assert_eq(d.step, UVS_GUARD_SAMPLING_LOW);
	d = feed_pool_n(3, 12000, 12000, 1000, 50);
	cr_assert_eq(d.step, UVS_GUARD_POOL_JOBS_OFF);
	cr_expect_eq(d.level, 2);
	uvs_guard_record(&g, &d, 7, NULL, &r);
	cr_expect_str_eq(r.step, "pool_jobs_off");
	cr_expect(r.pool_asked && r.pool_off);
	cr_expect_eq(r.sample_hz, 9);
	/* The next window: out for (nearly) all of it, and said so. */
	uvs_guard_snapshot(&g, false, &snap);
	cr_expect(snap.pool_asked && snap.pool_off && snap.sampling_low);
	d = feed_pool(0, 0, 1, 50);
	/* The pool back first (the last taken), then sampling. */
	d = feed_pool_n(9, 0, 0, 1, 5);
	cr_assert_eq(d.action, UVS_GUARD_UP);
	cr_expect_eq(d.step, UVS_GUARD_POOL_JOBS_OFF);
	uvs_guard_record(&g, &d, 8, NULL, &r);
	cr_expect(!r.pool_off);
	uvs_guard_snapshot(&g, false, &snap);
	cr_expect(snap.pool_off, "the window after the step up began with the probes out");
	uvs_guard_snapshot(&g, true, &snap);
	cr_expect(!snap.pool_off);
	cr_expect_eq(snap.pool_off_ns, 10 * SEC);
	cr_expect_eq(snap.steps_down, 2);
	cr_expect_eq(snap.steps_up, 1);
	cr_expect_str_eq(uvs_guard_step_name(UVS_GUARD_POOL_JOBS_OFF), "pool_jobs_off");
}

Test(guard, wait_hooks_go_last_and_only_once_exact_phases_are_out)
{
	struct uvs_guard_settings set;
	struct uvs_guard_decision d;
	int at;

	setup_hooks(true);
	uvs_guard_settings(&g, &set);
	cr_assert(set.loop_hooks, "in at the start");
	/* 8 hits an iteration with phases: phases are the first step. */
	d = feed_n(3, 80000, 10000, 10, &at);
	cr_assert_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_PHASES_OFF);
	/* Then 1 hit an iteration, all the wait hook's (200 of them the GC's): it goes. */
	for (int i = 0; i < 2; i++)
		cr_expect_eq(feed_gc(20200, 200, 20000, 10).action, UVS_GUARD_NONE);
	d = feed_gc(20200, 200, 20000, 10);
	cr_assert_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_LOOP_HOOKS_OFF);
	cr_expect_eq(d.level, 2);
	uvs_guard_settings(&g, &set);
	cr_expect(!set.loop_hooks);
	cr_expect(!set.phases);
	cr_expect_eq(set.sample_hz, 99, "sampling was worth nothing here");
	cr_expect_str_eq(uvs_guard_step_name(UVS_GUARD_LOOP_HOOKS_OFF), "loop_hooks_off");

	/* With exact phases still in (taking them out failed), the wait hooks stay. */
	setup_hooks(true);
	d = feed_n(3, 80000, 10000, 10, &at);
	uvs_guard_failed(&g, &d);
	cr_expect(!uvs_guard_in_force(&g, UVS_GUARD_PHASES_OFF));
	d = feed_n(3, 80000, 10000, 10, &at);
	cr_expect_eq(d.action, UVS_GUARD_EXHAUSTED);
	cr_expect(!uvs_guard_in_force(&g, UVS_GUARD_LOOP_HOOKS_OFF));
}

/*
 * Out, the loop still spins at 20000 iterations/s: putting the hooks back would cost 20000/s
 * again, so they stay (no flapping) however low the rate without them is. When the load stops
 * they come back, predicted from libuv's loop count times the hits per iteration measured when
 * they went (1.5 here: idle-ish iterations pass the wait twice), then exact phases.
 */
Test(guard, wait_hooks_come_back_by_the_iterations_libuv_counts)
{
	struct uvs_guard_decision d;
	int at;

	setup_hooks(false);
	d = feed_n(3, 30000, 20000, 10, &at);
	cr_assert_eq(d.action, UVS_GUARD_DOWN);
	cr_expect_eq(d.step, UVS_GUARD_LOOP_HOOKS_OFF);
	cr_expect_eq(g.loop_hits_milli, 1500);
	/* 100 GC hits and 10 samples (200) a second, 20000 iterations: predicted 30300. */
	d = feed_n(30, 100, 20000, 10, &at);
	cr_expect_eq(at, -1, "the load that took them out keeps them out");
	cr_expect_eq(g.level, 1);
	/* Idle: 2 iterations a second, 3 predicted hits. */
	d = feed_n(10, 0, 2, 1, &at);
	cr_assert_eq(at, 9);
	cr_expect_eq(d.action, UVS_GUARD_UP);
	cr_expect_eq(d.step, UVS_GUARD_LOOP_HOOKS_OFF);
	cr_expect_eq(d.predicted, 20 + 3);
	cr_expect_eq(g.level, 0);
	/* The measured ratio is bounded: at least one hit a wait, at most two an iteration. */
	setup_hooks(false);
	feed_n(3, 90000, 20000, 0, &at);
	cr_expect_eq(g.loop_hits_milli, 2000);
	setup_hooks(false);
	feed_n(3, 15000, 20000, 0, &at);
	cr_expect_eq(g.loop_hits_milli, 1000);
}

Test(guard, wait_hooks_not_offered_where_the_collector_cannot)
{
	struct uvs_guard_config c = hooks_config(false);
	struct uvs_guard_decision d;
	struct uvs_guard_settings set;
	int at;

	/* Two hooks per wait (Node 18): the collector says it cannot take them out. */
	c.loop_hooks = false;
	c.loop_hook_hits_per_wait = 2;
	uvs_guard_init(&g, &c);
	d = feed_n(3, 40000, 20000, 0, &at);
	cr_expect_eq(d.action, UVS_GUARD_EXHAUSTED);
	uvs_guard_settings(&g, &set);
	cr_expect(set.loop_hooks, "hooks stay in");
}

Test(guard, wait_hooks_in_snapshots_and_records)
{
	struct uvs_guard_snapshot s;
	struct uvs_guard_record r;
	struct uvs_guard_decision d;
	int at;

	setup_hooks(false);
	d = feed_n(3, 30000, 20000, 10, &at);
	uvs_guard_record(&g, &d, 5, NULL, &r);
	cr_expect_str_eq(r.step, "loop_hooks_off");
	cr_expect(r.loop_hooks_off);
	/* The window that decided had them in; the next holds them out. */
	uvs_guard_snapshot(&g, false, &s);
	cr_expect(s.loop_hooks_off, "in force now");
	feed_n(2, 100, 20000, 10, &at);
	uvs_guard_snapshot(&g, true, &s);
	cr_expect(s.loop_hooks_off);
	cr_expect_eq(s.loop_hooks_off_ns, 2 * SEC);
	/* A failure to put them back keeps them out for good. */
	d = feed_n(10, 0, 2, 0, &at);
	cr_assert_eq(d.action, UVS_GUARD_UP);
	uvs_guard_failed(&g, &d);
	cr_expect(uvs_guard_in_force(&g, UVS_GUARD_LOOP_HOOKS_OFF));
	d = feed_n(30, 0, 2, 0, &at);
	cr_expect_eq(at, -1);
}
