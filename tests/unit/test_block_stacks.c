// SPDX-License-Identifier: MIT
/* The stacks a blocked-loop alert carries: kept per loop, counted by stack, rendered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/block_stacks.h"
#include "render/json.h"
#include "render/stack_text.h"
#include "render/watch.h"

static const struct uvs_frame F_MAIN = { UVS_FRAME_NATIVE, "main", NULL, 0 };
static const struct uvs_frame F_UVRUN = { UVS_FRAME_NATIVE, "uv_run", NULL, 0 };
static const struct uvs_frame F_ROUTE = { UVS_FRAME_JS, "route", "/app/server.js", 30 };
static const struct uvs_frame F_SPIN = { UVS_FRAME_JS, "spin", "/app/server.js", 14 };
static const struct uvs_frame F_HASH = { UVS_FRAME_NATIVE, "sha256_block_data_order_avx2",
					  NULL, 0 };
static const struct uvs_frame F_WAIT = { UVS_FRAME_JS, "waitHere", "/app/w.js", 3 };
static const struct uvs_frame F_FUTEX = { UVS_FRAME_KERNEL, "futex_wait", NULL, 0 };

static void add(struct uvs_block_stacks *b, int tid, uint64_t ts, enum uvs_sample_state state,
		const struct uvs_frame *frames, size_t n)
{
	struct uvs_sample s = {
		.ts_ns = ts, .weight_ns = 1000000,
		.labels = { .tid = tid, .role = UVS_ROLE_MAIN, .state = state,
			    .phase = UVS_PHASE_TIMERS },
		.frames = frames, .nframes = n,
	};

	uvs_block_stacks_add(b, &s);
}

Test(block_stacks, counts_the_samples_of_the_block_by_stack)
{
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	const struct uvs_frame spin[] = { F_MAIN, F_UVRUN, F_ROUTE, F_SPIN };
	const struct uvs_frame hash[] = { F_MAIN, F_UVRUN, F_ROUTE, F_HASH };
	struct uvs_alert_stacks top;
	char line[256];

	cr_assert_not_null(b);
	/* Before the block (ts < 100) and on another thread: not counted. */
	add(b, 1, 50, UVS_STATE_LOOP_BUSY, hash, 4);
	add(b, 2, 150, UVS_STATE_LOOP_BUSY, hash, 4);
	/* Idle samples are never kept. */
	add(b, 1, 150, UVS_STATE_LOOP_IDLE, hash, 4);
	for (int i = 0; i < 7; i++)
		add(b, 1, 100 + i, UVS_STATE_LOOP_BUSY, spin, 4);
	for (int i = 0; i < 3; i++)
		add(b, 1, 120 + i, UVS_STATE_LOOP_BUSY, hash, 4);
	cr_assert_eq(uvs_block_stacks_top(b, 1, 100, 200, &top), 10);
	cr_assert_eq(top.nstacks, 2);
	cr_expect_eq(top.stacks[0].samples, 7);
	cr_expect_eq(top.stacks[1].samples, 3);
	/* Innermost first. */
	cr_expect_str_eq(top.stacks[0].frames[0]->name, "spin");
	cr_expect_str_eq(top.stacks[0].frames[3]->name, "main");
	cr_expect_str_eq(uvs_stack_line(top.stacks[1].frames, top.stacks[1].nframes, line,
					sizeof(line)),
			 "route /app/server.js:30");
	/* A window that ends before the hash samples. */
	cr_expect_eq(uvs_block_stacks_top(b, 1, 100, 110, &top), 7);
	uvs_block_stacks_free(b);
}

/* A hot function sampled in many different leaves is one place, whatever the leaves. */
Test(block_stacks, places_merge_what_whole_stacks_split)
{
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	struct uvs_frame leaves[12];
	char names[12][16];
	struct uvs_alert_stacks top;
	char line[256];

	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "leaf_%d", i);
		leaves[i] = (struct uvs_frame){ UVS_FRAME_NATIVE, names[i], NULL, 0 };
		const struct uvs_frame st[] = { F_MAIN, F_UVRUN, F_ROUTE, F_SPIN, leaves[i] };

		add(b, 1, 100 + i, UVS_STATE_LOOP_BUSY, st, 5);
	}
	const struct uvs_frame other[] = { F_MAIN, F_UVRUN, F_HASH };
	for (int i = 0; i < 3; i++)
		add(b, 1, 200 + i, UVS_STATE_LOOP_BUSY, other, 3);
	uvs_block_stacks_top(b, 1, 0, 0, &top);
	/* Whole stacks: 13 distinct, the top 8 kept, the biggest is the native one (3). */
	cr_expect_eq(top.nstacks, UVS_ALERT_MAX_STACKS);
	cr_expect_eq(top.stacks[0].samples, 3);
	/* Places: the JS function with all 12, then the native stack's 3 innermost frames. */
	cr_assert_eq(top.nplaces, 2);
	cr_expect_eq(top.places[0].samples, 12);
	cr_expect_str_eq(uvs_stack_line(top.places[0].frames, top.places[0].nframes, line,
					sizeof(line)), "spin /app/server.js:14 < route /app/server.js:30");
	cr_expect_eq(top.places[1].samples, 3);
	cr_expect_str_eq(uvs_stack_line(top.places[1].frames, top.places[1].nframes, line,
					sizeof(line)), "sha256_block_data_order_avx2 < uv_run < main");
	uvs_block_stacks_free(b);
}

/*
 * A place starts at the Node function the application called: execSync's three node frames
 * (as a nested loop's sleep is sampled) give execSync and the application's callers; a stack of
 * Node's functions only keeps its innermost ones.
 */
Test(block_stacks, places_start_at_the_node_function_the_application_called)
{
	static const struct uvs_frame timers = { UVS_FRAME_JS, "processTimers",
						 "node:internal/timers", 504 };
	static const struct uvs_frame exec = { UVS_FRAME_JS, "execSync", "node:child_process",
					       954 };
	static const struct uvs_frame spawn = { UVS_FRAME_JS, "spawnSync", "node:child_process",
						832 };
	static const struct uvs_frame spawn_int = { UVS_FRAME_JS, "spawnSync",
						    "node:internal/child_process", 1108 };
	static const struct uvs_frame wait = { UVS_FRAME_NATIVE, "epoll_pwait", NULL, 0 };
	const struct uvs_frame app[] = { F_MAIN, F_UVRUN, timers, F_ROUTE, exec, spawn, spawn_int,
					 wait };
	const struct uvs_frame node_only[] = { F_MAIN, F_UVRUN, timers, exec, spawn, spawn_int,
					       wait };
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	struct uvs_alert_stacks top;
	char line[256];

	const char *want[] = {
		"execSync node:child_process:954 < route /app/server.js:30 < "
		"processTimers node:internal/timers:504",
		"spawnSync node:internal/child_process:1108 < spawnSync node:child_process:832 < "
		"execSync node:child_process:954",
	};

	for (int i = 0; i < 3; i++)
		add(b, 1, 100 + i, UVS_STATE_OFF_CPU, app, 8);
	add(b, 2, 100, UVS_STATE_OFF_CPU, node_only, 7);
	for (int tid = 1; tid <= 2; tid++) {
		uvs_block_stacks_top(b, tid, 0, 0, &top);
		cr_assert_eq(top.nplaces, 1, "thread %d", tid);
		cr_expect_str_eq(uvs_stack_line(top.places[0].frames, top.places[0].nframes, line,
						sizeof(line)), want[tid - 1]);
	}
	uvs_block_stacks_free(b);
}

Test(block_stacks, gc_time_is_clipped_to_the_block)
{
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	struct uvs_gc_record g1 = { .tid = 1, .major = true, .start_ns = 90, .end_ns = 110 };
	struct uvs_gc_record g2 = { .tid = 1, .major = false, .start_ns = 150, .end_ns = 160 };
	struct uvs_gc_record other = { .tid = 2, .start_ns = 100, .end_ns = 200 };

	uvs_block_stacks_gc(b, &g1);
	uvs_block_stacks_gc(b, &g2);
	uvs_block_stacks_gc(b, &other);
	cr_expect_eq(uvs_block_stacks_gc_ns(b, 1, 100, 200), 10 + 10);
	cr_expect_eq(uvs_block_stacks_gc_ns(b, 1, 155, 200), 5);
	uvs_block_stacks_free(b);
}

/*
 * Shares are of time: the overhead guard may lower the rate within a block, and a sample taken
 * at the lower rate stands for more time. 3 samples at 1 ms, then 1 at 10 ms: 23% and 77%.
 */
Test(block_stacks, shares_weigh_each_sample_by_its_period)
{
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	const struct uvs_frame spin[] = { F_MAIN, F_UVRUN, F_ROUTE, F_SPIN };
	const struct uvs_frame wait[] = { F_MAIN, F_UVRUN, F_WAIT, F_FUTEX };
	struct uvs_sample late = {
		.ts_ns = 200, .weight_ns = 10000000,
		.labels = { .tid = 1, .role = UVS_ROLE_MAIN, .state = UVS_STATE_LOOP_BUSY },
		.frames = wait, .nframes = 4,
	};
	struct uvs_alert_stacks top;

	for (int i = 0; i < 3; i++)
		add(b, 1, 100 + i, UVS_STATE_LOOP_BUSY, spin, 4);
	uvs_block_stacks_add(b, &late);
	cr_assert_eq(uvs_block_stacks_top(b, 1, 0, 0, &top), 4);
	cr_expect_eq(top.time_ns, 13000000);
	cr_expect_eq(top.stacks[0].samples, 1, "the most time first, not the most samples");
	cr_expect_eq(top.stacks[0].time_ns, 10000000);
	cr_expect_eq(top.stacks[1].samples, 3);
	cr_expect_eq(top.cover_ns, 0, "every sample of the block kept");
	uvs_block_stacks_free(b);
}

/* A block longer than the samples kept: they are its last part, and the alert says how long. */
Test(block_stacks, a_block_longer_than_the_ring_says_what_its_samples_cover)
{
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	const struct uvs_frame spin[] = { F_MAIN, F_UVRUN, F_ROUTE, F_SPIN };
	struct uvs_alert_stacks top;

	for (uint64_t i = 0; i < UVS_BLOCK_RING + 500; i++)
		add(b, 1, 1000000 * (i + 1), UVS_STATE_LOOP_BUSY, spin, 4);
	cr_assert_eq(uvs_block_stacks_top(b, 1, 1, 0, &top), UVS_BLOCK_RING);
	cr_expect_eq(top.cover_ns, 1000000ULL * (UVS_BLOCK_RING - 1));
	cr_assert_eq(uvs_block_stacks_top(b, 1, 1, 1000000ULL * (UVS_BLOCK_RING + 600), &top),
		     UVS_BLOCK_RING);
	cr_expect_eq(top.cover_ns, 1000000ULL * (UVS_BLOCK_RING + 99), "up to the block's end");
	uvs_block_stacks_free(b);
}

/*
 * A block with more collections than the ring keeps (3,830 in a 1.5 s block, by a helper's
 * count, were told as 15 ms of GC where 262 ms was true): the older ones are counted from the
 * marks of the running total, to within a mark's interval (10 ms, here 1 ms of GC) at its start.
 */
Test(block_stacks, gc_of_a_block_with_thousands_of_collections)
{
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	const uint64_t ms = 1000000;

	/* 3000 pauses of 100 us, one every 500 us, from 1 s on: 300 ms of GC in 1.5 s. */
	for (uint64_t i = 0; i < 3000; i++) {
		struct uvs_gc_record g = { .tid = 1, .start_ns = 1000 * ms + i * ms / 2,
					   .end_ns = 1000 * ms + i * ms / 2 + ms / 10 };

		uvs_block_stacks_gc(b, &g);
	}
	uint64_t got = uvs_block_stacks_gc_ns(b, 1, 1000 * ms, 2500 * ms);

	cr_expect(got >= 298 * ms && got <= 300 * ms, "%llu ns of GC", (unsigned long long)got);
	got = uvs_block_stacks_gc_ns(b, 1, 2000 * ms, 2500 * ms);
	cr_expect(got >= 99 * ms && got <= 101 * ms, "the last third: %llu", (unsigned long long)got);
	got = uvs_block_stacks_gc_ns(b, 1, 2400 * ms, 2500 * ms);
	cr_expect_eq(got, 20 * ms, "within the ring: exact");
	uvs_block_stacks_free(b);
}

static char *render_alert(int (*fn)(FILE *, const struct uvs_alert *), const struct uvs_alert *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_expect_eq(fn(f, a), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

Test(block_stacks, the_alert_names_the_places_in_text_and_json)
{
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	const struct uvs_frame spin[] = { F_MAIN, F_UVRUN, F_ROUTE, F_SPIN };
	const struct uvs_frame wait[] = { F_MAIN, F_UVRUN, F_WAIT, F_FUTEX };
	struct uvs_alert_stacks top;
	struct uvs_alert a = { .kind = UVS_ALERT_LOOP_BLOCKED, .pid = 7, .ts_ns = 0 };
	char *text, *json;

	for (int i = 0; i < 3; i++)
		add(b, 1, 100 + i, UVS_STATE_LOOP_BUSY, spin, 4);
	add(b, 1, 110, UVS_STATE_OFF_CPU, wait, 4);
	uvs_block_stacks_top(b, 1, 0, 0, &top);
	a.loop_blocked = (struct uvs_alert_loop_blocked){
		.tid = 1, .role = UVS_ROLE_MAIN, .ongoing = false, .blocked_ns = 720000000,
		.threshold_ns = 100000000, .stacks = &top, .has_gc = true, .gc_ns = 12000000 };
	text = render_alert(uvs_watch_alert, &a);
	cr_expect(strstr(text, "was blocked for 720ms, 12.0ms of it in GC; 4 samples:\n"), "%s",
		  text);
	cr_expect(strstr(text, "75.0%  spin /app/server.js:14 < route /app/server.js:30\n"), "%s",
		  text);
	cr_expect_eq(top.nplaces, 2);
	cr_expect(strstr(text, "25.0%  (asleep) waitHere /app/w.js:3\n"), "%s", text);
	json = render_alert(uvs_json_alert, &a);
	cr_expect(strstr(json, "\"gc_ns\":12000000,\"stopped\":null,\"samples\":4,\"stacks_cover_ns\":null,"
			       "\"stacks\":[{\"samples\":3,\"off_cpu\":0,\"time_ns\":3000000,"
			       "\"frames\":[\"spin /app/server.js:14\","
			       "\"route /app/server.js:30\",\"uv_run\",\"main\"]},{\"samples\":1,"
			       "\"off_cpu\":1,\"time_ns\":1000000,\"frames\":[\"futex_wait\","
			       "\"waitHere /app/w.js:3\","),
		  "%s", json);
	free(text);
	free(json);
	uvs_block_stacks_free(b);
}

/*
 * Each kept sample has room for its own depth: once the ring has wrapped, a slot that held a
 * shallow stack takes a deep one (and the reverse) whole, and a stack deeper than
 * UVS_BLOCK_FRAMES keeps its innermost frames.
 */
Test(block_stacks, slots_reused_by_stacks_of_other_depths)
{
	struct uvs_block_stacks *b = uvs_block_stacks_new();
	const struct uvs_frame shallow[] = { F_MAIN, F_UVRUN, F_SPIN };
	struct uvs_frame deep[UVS_BLOCK_FRAMES + 10];
	struct uvs_alert_stacks top;
	uint64_t ts = 1;

	cr_assert_not_null(b);
	deep[0] = F_MAIN;
	for (size_t i = 1; i + 1 < sizeof(deep) / sizeof(deep[0]); i++)
		deep[i] = F_ROUTE;
	deep[sizeof(deep) / sizeof(deep[0]) - 1] = F_HASH;
	/* The first lap shallow, the second alternating, the third deep then shallow. */
	for (int i = 0; i < UVS_BLOCK_RING; i++)
		add(b, 1, ts++, UVS_STATE_LOOP_BUSY, shallow, 3);
	for (int i = 0; i < UVS_BLOCK_RING; i++)
		add(b, 1, ts++, UVS_STATE_LOOP_BUSY, i % 2 ? shallow : deep, i % 2 ? 3 : 138);
	cr_assert_eq(uvs_block_stacks_top(b, 1, 0, 0, &top), UVS_BLOCK_RING);
	cr_assert_eq(top.nstacks, 2);
	cr_expect_eq(top.stacks[0].samples, UVS_BLOCK_RING / 2);
	cr_expect_eq(top.stacks[1].samples, UVS_BLOCK_RING / 2);
	for (size_t s = 0; s < 2; s++) {
		const struct uvs_alert_stack *st = &top.stacks[s];

		if (st->nframes == 3) {
			cr_expect_str_eq(st->frames[0]->name, "spin");
			cr_expect_str_eq(st->frames[2]->name, "main");
		} else {
			/* Cut to the innermost UVS_BLOCK_FRAMES: main is gone, the leaf is kept. */
			cr_expect_eq(st->nframes, UVS_BLOCK_FRAMES);
			cr_expect_str_eq(st->frames[0]->name, "sha256_block_data_order_avx2");
			cr_expect_str_eq(st->frames[UVS_BLOCK_FRAMES - 1]->name, "route");
		}
	}
	for (int i = 0; i < UVS_BLOCK_RING; i++)
		add(b, 1, ts++, UVS_STATE_LOOP_BUSY, i < UVS_BLOCK_RING / 2 ? deep : shallow,
		    i < UVS_BLOCK_RING / 2 ? 138 : 3);
	cr_assert_eq(uvs_block_stacks_top(b, 1, ts - 10, 0, &top), 10);
	cr_assert_eq(top.nstacks, 1);
	cr_expect_eq(top.stacks[0].nframes, 3);
	cr_expect_str_eq(top.stacks[0].frames[0]->name, "spin");
	uvs_block_stacks_free(b);
}
