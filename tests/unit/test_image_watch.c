// SPDX-License-Identifier: MIT
/*
 * The exec watch (target/image_watch.h) on real children: the same image reads as the same
 * until the child execs another program, or exits; a watch never opened cannot tell.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "target/image_watch.h"

/* A child that waits for a byte on a pipe, then execs /bin/sleep (exec) or exits (!exec). */
static pid_t start_child(int *go, int exec)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c;

		close(p[1]);
		if (read(p[0], &c, 1) == 1 && exec)
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(0);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

/* Waits (5 s at most) until pid's executable is /bin/sleep's: the exec has happened. */
static bool wait_for_sleep(pid_t pid)
{
	const struct timespec ms = { .tv_nsec = 1000000 };
	char path[64], exe[256];

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	for (int i = 0; i < 5000; i++) {
		ssize_t n = readlink(path, exe, sizeof(exe) - 1);

		if (n > 0) {
			exe[n] = '\0';
			if (strstr(exe, "sleep"))
				return true;
		}
		nanosleep(&ms, NULL);
	}
	return false;
}

Test(image_watch, the_same_image_until_an_exec)
{
	struct uvs_image_watch w;
	int go, status;
	pid_t pid = start_child(&go, 1);

	cr_assert_eq(uvs_image_watch_open(&w, pid), 0);
	cr_expect_eq(uvs_image_watch_same(&w), 1);
	cr_expect_eq(uvs_image_watch_same(&w), 1, "a read changes nothing");
	cr_assert_eq(write(go, "x", 1), 1);
	cr_assert(wait_for_sleep(pid), "the child exec'd /bin/sleep");
	cr_expect_eq(uvs_image_watch_same(&w), 0, "the image attached to is gone");
	uvs_image_watch_close(&w);
	cr_expect_eq(w.fd, -1);
	uvs_image_watch_close(&w); /* twice: nothing happens */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(go);
}

Test(image_watch, an_exit_ends_the_image_too)
{
	struct uvs_image_watch w;
	siginfo_t info;
	int go;
	pid_t pid = start_child(&go, 0);

	cr_assert_eq(uvs_image_watch_open(&w, pid), 0);
	cr_assert_eq(write(go, "x", 1), 1);
	/* Exited, not reaped yet: a zombie has no address space either. */
	cr_assert_eq(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
	cr_expect_eq(uvs_image_watch_same(&w), 0);
	waitpid(pid, NULL, 0);
	cr_expect_eq(uvs_image_watch_same(&w), 0, "reaped");
	uvs_image_watch_close(&w);
	close(go);
}

Test(image_watch, cannot_tell_without_a_watch)
{
	struct uvs_image_watch w = { .fd = -1 };

	cr_expect_eq(uvs_image_watch_same(&w), -EBADF);
	cr_expect_eq(uvs_image_watch_open(&w, 0x7ffffff0), -ENOENT);
	cr_expect_eq(w.fd, -1);
}
