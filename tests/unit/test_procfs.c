// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "target/procfs.h"

Test(procfs, maps_line_file_backed)
{
	struct uvs_map m;

	cr_assert_eq(uvs_parse_maps_line("00400000-02400000 r-xp 00001000 fe:00 1234567   "
					 "/usr/bin/node\n", &m), 0);
	cr_assert_eq(m.start, 0x400000);
	cr_assert_eq(m.end, 0x2400000);
	cr_assert_eq(m.offset, 0x1000);
	cr_assert_eq(m.inode, 1234567);
	cr_assert(m.exec && m.read);
	cr_assert_str_eq(m.path, "/usr/bin/node");
}

Test(procfs, maps_line_anonymous_and_special)
{
	struct uvs_map m;

	cr_assert_eq(uvs_parse_maps_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0\n", &m), 0);
	cr_assert_str_eq(m.path, "");
	cr_assert(!m.exec);
	cr_assert_eq(uvs_parse_maps_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0  [stack]", &m),
		     0);
	cr_assert_str_eq(m.path, "[stack]");
	cr_assert_eq(uvs_parse_maps_line("1000-2000 r-xp 0 08:01 9 /opt/a b (deleted)\n", &m), 0);
	cr_assert_str_eq(m.path, "/opt/a b (deleted)");
}

Test(procfs, maps_line_malformed)
{
	struct uvs_map m;

	cr_assert_eq(uvs_parse_maps_line("", &m), -EINVAL);
	cr_assert_eq(uvs_parse_maps_line("garbage", &m), -EINVAL);
	cr_assert_eq(uvs_parse_maps_line("2000-1000 r-xp 0 08:01 9 /x", &m), -EINVAL);
	cr_assert_eq(uvs_parse_maps_line("1000-2000 r-x 0 08:01 9 /x", &m), -EINVAL);
}

Test(procfs, syscall_file)
{
	uint64_t sp, pc;
	long nr;

	cr_assert_eq(uvs_parse_syscall_file("281 0x13 0x7ffc 0x400 0x3e8 0x0 0x8 0x7ffd0000 "
					    "0x7f001234\n", &nr, &sp, &pc), 0);
	cr_assert_eq(nr, 281);
	cr_assert_eq(sp, 0x7ffd0000);
	cr_assert_eq(pc, 0x7f001234);
	cr_assert_eq(uvs_parse_syscall_file("-1 0x7ffd1000 0x401000\n", &nr, &sp, &pc), 0);
	cr_assert_eq(nr, -1);
	cr_assert_eq(sp, 0x7ffd1000);
	cr_assert_eq(uvs_parse_syscall_file("running\n", &nr, &sp, &pc), -EAGAIN);
	cr_assert_eq(uvs_parse_syscall_file("running", &nr, &sp, &pc), -EAGAIN);
	cr_assert_eq(uvs_parse_syscall_file("runningx 1 2\n", &nr, &sp, &pc), -EINVAL);
	cr_assert_eq(uvs_parse_syscall_file("", &nr, &sp, &pc), -EINVAL);
	cr_assert_eq(uvs_parse_syscall_file("12\n", &nr, &sp, &pc), -EINVAL);
	cr_assert_eq(uvs_parse_syscall_file("12 zz 0x1\n", &nr, &sp, &pc), -EINVAL);
}

/* The first argument (an epoll wait's fd) only inside a syscall, with its six arguments. */
Test(procfs, syscall_first_argument)
{
	uint64_t sp, pc, a0 = 7;
	long nr;

	cr_assert_eq(uvs_parse_syscall_args("281 0x13 0x7ffc 0x400 0x3e8 0x0 0x8 0x7ffd0000 "
					    "0x7f001234\n", &nr, &a0, &sp, &pc), 0);
	cr_assert_eq(nr, 281);
	cr_assert_eq(a0, 0x13);
	cr_assert_eq(sp, 0x7ffd0000);
	cr_assert_eq(pc, 0x7f001234);
	cr_assert_eq(uvs_parse_syscall_args("-1 0x7ffd1000 0x401000\n", &nr, &a0, &sp, &pc),
		     -ENODATA);
	/* Cut short: no first argument to trust. */
	cr_assert_eq(uvs_parse_syscall_args("281 0x13 0x7ffc 0x7ffd0000 0x7f001234\n", &nr, &a0,
					    &sp, &pc), -ENODATA);
	cr_assert_eq(uvs_parse_syscall_args("running\n", &nr, &a0, &sp, &pc), -EAGAIN);
}

Test(procfs, read_file_bounded)
{
	char buf[8];
	ssize_t n;

	n = uvs_read_file("/proc/self/maps", buf, sizeof(buf));
	cr_assert_eq(n, 7);
	cr_assert_eq(buf[7], '\0');
	cr_assert_eq(uvs_read_file("/nonexistent/file", buf, sizeof(buf)), -ENOENT);
}

Test(procfs, read_own_memory)
{
	static const char secret[] = "uvscope";
	char copy[sizeof(secret)];

	cr_assert_eq(uvs_read_mem(getpid(), (uint64_t)(uintptr_t)secret, copy, sizeof(copy)), 0);
	cr_assert_str_eq(copy, secret);
	cr_assert_eq(uvs_read_mem(getpid(), 8, copy, sizeof(copy)), -EFAULT);
}

/* The state after the last ')': a comm may hold spaces and parentheses. */
Test(procfs, stat_state)
{
	cr_expect_eq(uvs_parse_stat_state("1234 (node) S 1 2 3"), 'S');
	cr_expect_eq(uvs_parse_stat_state("1234 (a) b) (c) D 1"), 'D');
	cr_expect_eq(uvs_parse_stat_state("1234 (x)"), 0);
	cr_expect_eq(uvs_parse_stat_state("garbage"), 0);
	cr_expect_eq(uvs_parse_stat_state(""), 0);
}
