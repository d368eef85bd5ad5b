// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/fds.h"

Test(fds, classify)
{
	cr_assert_eq(uvs_fd_classify("/etc/passwd", S_IFREG | 0644), UVS_FD_FILE);
	cr_assert_eq(uvs_fd_classify("/dev/null", S_IFCHR | 0666), UVS_FD_FILE);
	cr_assert_eq(uvs_fd_classify("/tmp/x (deleted)", S_IFREG), UVS_FD_FILE);
	cr_assert_eq(uvs_fd_classify("socket:[12345]", S_IFSOCK), UVS_FD_SOCKET);
	cr_assert_eq(uvs_fd_classify("pipe:[999]", S_IFIFO), UVS_FD_PIPE);
	cr_assert_eq(uvs_fd_classify("/tmp/fifo", S_IFIFO), UVS_FD_PIPE);
	cr_assert_eq(uvs_fd_classify("anon_inode:[eventpoll]", 0600), UVS_FD_ANON);
	cr_assert_eq(uvs_fd_classify("anon_inode:[io_uring]", S_IFREG), UVS_FD_ANON);
	cr_assert_eq(uvs_fd_classify("something", 0), UVS_FD_OTHER);
}

Test(fds, limits_file)
{
	static const char text[] =
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max cpu time              unlimited            unlimited            seconds   \n"
		"Max open files            1024                 1048576              files     \n";
	uint64_t soft, hard;

	cr_assert_eq(uvs_parse_limits_nofile(text, &soft, &hard), 0);
	cr_assert_eq(soft, 1024);
	cr_assert_eq(hard, 1048576);
	cr_assert_eq(uvs_parse_limits_nofile("Max open files  unlimited  unlimited files\n", &soft,
					     &hard), 0);
	cr_assert_eq(soft, UINT64_MAX);
	cr_assert_eq(uvs_parse_limits_nofile("nothing here", &soft, &hard), -ENOENT);
	/* Not numbers: refused, not read as a limit of 0. */
	cr_assert_eq(uvs_parse_limits_nofile("Max open files  abc  1024 files\n", &soft, &hard),
		     -EINVAL);
	cr_assert_eq(uvs_parse_limits_nofile("Max open files  1024  12x files\n", &soft, &hard),
		     -EINVAL);
	cr_assert_eq(uvs_parse_limits_nofile("Max open files  -1  1024 files\n", &soft, &hard),
		     -EINVAL);
	cr_assert_eq(uvs_parse_limits_nofile(
			     "Max open files  99999999999999999999999 1 files\n", &soft, &hard),
		     -EINVAL);
}

/* Our own process as the reference: open known fds and see each counted by type. */
Test(fds, scan_self)
{
	struct uvs_fd_table before = { 0 }, after = { 0 };
	int p[2], s[2], f;

	cr_assert_eq(uvs_fd_table_read(getpid(), &before), 0);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	f = open("/dev/null", O_RDONLY);
	cr_assert_eq(uvs_fd_table_read(getpid(), &after), 0);
	cr_expect_eq(after.by_type[UVS_FD_PIPE] - before.by_type[UVS_FD_PIPE], 2);
	cr_expect_eq(after.by_type[UVS_FD_SOCKET] - before.by_type[UVS_FD_SOCKET], 2);
	cr_expect_eq(after.by_type[UVS_FD_FILE] - before.by_type[UVS_FD_FILE], 1);
	cr_expect_eq(after.open - before.open, 5);
	cr_expect(uvs_fds_limit(getpid()) > 0);
	/* The socket pair: two inodes, both Unix by their sockfs name. */
	cr_expect_eq(after.nsockets - before.nsockets, 2);
	for (size_t i = 0; i < after.nsockets; i++)
		if (!uvs_fd_table_socket(&before, after.sockets[i].inode))
			cr_expect_eq(after.sockets[i].proto, UVS_PROTO_UNIX);
	close(p[0]), close(p[1]), close(s[0]), close(s[1]), close(f);
	cr_assert_eq(uvs_fd_table_read(999999999, &after), -ENOENT);
	uvs_fd_table_free(&before);
	uvs_fd_table_free(&after);
}
