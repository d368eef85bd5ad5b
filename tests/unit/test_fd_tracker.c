// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>

#include "collect/fd_tracker.h"

static struct uvs_fd_snapshot scan_of(uint64_t file, uint64_t socket, uint64_t pipe,
				      uint64_t anon)
{
	struct uvs_fd_snapshot s = { .available = true, .by_type = { file, socket, pipe, anon, 0 },
				     .limit = 1024 };

	s.open = file + socket + pipe + anon;
	return s;
}

Test(fd_tracker, counters_move_the_baseline)
{
	struct uvs_fd_tracker t = { .rescan_ns = 10 };
	struct uvs_sys_counters c = { 0 };
	struct uvs_fd_snapshot base = scan_of(5, 2, 4, 6);
	uint64_t est[UVS_FD_TYPES];

	/* Counters need not start at 0: only what happens after the scan counts. */
	c.fd_opened[UVS_FD_FILE] = 100;
	c.fd_closed[UVS_FD_FILE] = 90;
	cr_assert_eq(uvs_fd_tracker_rebase(&t, &c, &base, 1000), 0, "no drift on the first scan");
	c.fd_opened[UVS_FD_FILE] += 300;
	c.fd_opened[UVS_FD_SOCKET] += 100;
	c.fd_closed[UVS_FD_FILE] += 150;
	c.fd_closed[UVS_FD_PIPE] += 2;
	uvs_fd_tracker_estimate(&t, &c, est);
	cr_assert_eq(est[UVS_FD_FILE], 155);
	cr_assert_eq(est[UVS_FD_SOCKET], 102);
	cr_assert_eq(est[UVS_FD_PIPE], 2);
	cr_assert_eq(est[UVS_FD_ANON], 6);
	cr_assert_eq(est[UVS_FD_OTHER], 0);
}

Test(fd_tracker, never_below_zero)
{
	struct uvs_fd_tracker t = { 0 };
	struct uvs_sys_counters c = { 0 };
	struct uvs_fd_snapshot base = scan_of(1, 0, 0, 0);
	uint64_t est[UVS_FD_TYPES];

	uvs_fd_tracker_rebase(&t, &c, &base, 0);
	c.fd_closed[UVS_FD_FILE] = 3;
	uvs_fd_tracker_estimate(&t, &c, est);
	cr_assert_eq(est[UVS_FD_FILE], 0);
}

Test(fd_tracker, when_to_rescan)
{
	struct uvs_fd_tracker t = { .rescan_ns = 10 };
	struct uvs_sys_counters c = { 0 };
	struct uvs_fd_snapshot base = scan_of(1, 1, 1, 1);

	cr_assert(uvs_fd_tracker_needs_scan(&t, &c, 0), "no baseline yet");
	uvs_fd_tracker_rebase(&t, &c, &base, 100);
	cr_assert(!uvs_fd_tracker_needs_scan(&t, &c, 105));
	cr_assert(uvs_fd_tracker_needs_scan(&t, &c, 110), "the rescan period is over");
	c.fd_untracked = 1;
	cr_assert(uvs_fd_tracker_needs_scan(&t, &c, 101), "a change the syscalls could not follow");
}

Test(fd_tracker, drift_is_counted_minus_found)
{
	struct uvs_fd_tracker t = { 0 };
	struct uvs_sys_counters c = { 0 };
	struct uvs_fd_snapshot base = scan_of(10, 0, 0, 0), later = scan_of(11, 0, 0, 0);

	uvs_fd_tracker_rebase(&t, &c, &base, 0);
	c.fd_opened[UVS_FD_FILE] = 3; /* counted 13, /proc says 11 */
	cr_assert_eq(uvs_fd_tracker_rebase(&t, &c, &later, 1), 2);
	cr_assert_eq(t.base[UVS_FD_FILE], 11, "the scan is the new baseline");
	/* After a change nobody could follow, a difference is expected, not drift. */
	c.fd_untracked = 1;
	c.fd_opened[UVS_FD_FILE] = 9;
	cr_assert_eq(uvs_fd_tracker_rebase(&t, &c, &base, 2), 0);
}
