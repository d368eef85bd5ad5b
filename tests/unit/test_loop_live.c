// SPDX-License-Identifier: MIT
/*
 * uvs_loop_live (include/uvscope/loop.h): whether a loop waits now and since when it is busy,
 * from its BPF state and libuv's stamp and idle time, as the agent and the sampler read them.
 */
#include <linux/types.h>

#include <criterion/criterion.h>

#include "uvscope/loop.h"

#define MS 1000000ull

Test(loop_live, an_entry_hook_says_the_thread_waits)
{
	struct uvs_loop_state st = { .in_wait = 1, .wait_start = 5 * MS, .busy_since = 2 * MS };
	__u64 since = 0;

	cr_expect_eq(uvs_loop_live(&st, 0, 0, &since), 1);
	cr_expect_eq(since, 5 * MS);
}

Test(loop_live, a_stamp_after_the_last_return_is_a_wait_in_progress)
{
	struct uvs_loop_state st = { .busy_since = 2 * MS };
	__u64 since = 0;

	cr_expect_eq(uvs_loop_live(&st, 3 * MS, 0, &since), 1);
	cr_expect_eq(since, 3 * MS);
	/* A stamp from before the return is the wait that ended there (libuv clears it later). */
	cr_expect_eq(uvs_loop_live(&st, 1 * MS, 0, &since), 0);
	cr_expect_eq(since, 2 * MS);
}

Test(loop_live, the_return_hook_ignores_the_idle_time)
{
	/* At the hook's return libuv has not added the wait yet: its growth means nothing here. */
	struct uvs_loop_state st = { .busy_since = 2 * MS, .idle_seen = 10 * MS };
	__u64 since = 0;

	cr_expect_eq(uvs_loop_live(&st, 0, 50 * MS, &since), 0);
	cr_expect_eq(since, 2 * MS);
}

Test(loop_live, folded_a_wait_that_ended_since_the_poll_entry_starts_the_busy_span)
{
	/* The poll began at 2 ms with 10 ms of idle so far; libuv added a 40 ms wait since. */
	struct uvs_loop_state st = { .busy_since = 2 * MS, .idle_seen = 10 * MS, .folded = 1 };
	__u64 since = 0;

	cr_expect_eq(uvs_loop_live(&st, 0, 50 * MS, &since), 0);
	cr_expect_eq(since, 42 * MS);
	/* No wait since the entry: busy since it (the poll's set-up, or callbacks after a
	 * zero-timeout wait). */
	cr_expect_eq(uvs_loop_live(&st, 0, 10 * MS, &since), 0);
	cr_expect_eq(since, 2 * MS);
	/* The wait in progress: stamped after the entry. */
	cr_expect_eq(uvs_loop_live(&st, 2 * MS + 500, 10 * MS, &since), 1);
	cr_expect_eq(since, 2 * MS + 500);
}

Test(loop_live, folded_with_nothing_read_stays_busy_since_the_entry)
{
	struct uvs_loop_state st = { .busy_since = 2 * MS, .idle_seen = 10 * MS, .folded = 1 };
	__u64 since = 0;

	/* The target's memory could not be read (both 0): no wait is invented. */
	cr_expect_eq(uvs_loop_live(&st, 0, 0, &since), 0);
	cr_expect_eq(since, 2 * MS);
}
