// SPDX-License-Identifier: MIT
/* --all: which processes are node processes, found by a scan of /proc. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "target/discover.h"

Test(discover, node_executables_by_name)
{
	cr_expect(uvs_discover_node_exe("/usr/bin/node"));
	cr_expect(uvs_discover_node_exe("/usr/bin/nodejs"));
	cr_expect(uvs_discover_node_exe("/opt/node-v20/bin/node20"));
	cr_expect(uvs_discover_node_exe("/usr/local/bin/node-20.11.1"));
	cr_expect(uvs_discover_node_exe("/usr/bin/node (deleted)"));
	cr_expect(uvs_discover_node_exe("node"));
	cr_expect(!uvs_discover_node_exe("/usr/bin/nodemon"));
	cr_expect(!uvs_discover_node_exe("/usr/bin/node_exporter"));
	cr_expect(!uvs_discover_node_exe("/usr/bin/python3"));
	cr_expect(!uvs_discover_node_exe("/node/bin/deno"));
	cr_expect(!uvs_discover_node_exe(""));
}

/* Starts argv[0] with argv, its stdout and stderr closed; returns its pid. */
static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/*
 * Starts argv as a grandchild, whose parent (an intermediate child) exits at once: the process
 * is not the scanner's child. Returns its pid.
 */
static pid_t spawn_detached(char *const argv[])
{
	int fds[2];
	pid_t mid, pid = -1;

	if (pipe(fds))
		return -1;
	mid = fork();
	if (mid == 0) {
		pid_t g = spawn(argv);

		(void)!write(fds[1], &g, sizeof(g));
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &pid, sizeof(pid)) != sizeof(pid))
		pid = -1;
	close(fds[0]);
	waitpid(mid, NULL, 0);
	return pid;
}

/* Waits until process pid runs exe (its exec is done), at most a few seconds. */
static bool wait_exec(pid_t pid, const char *exe)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	for (int tries = 0; tries < 150; tries++) {
		ssize_t len = readlink(path, buf, sizeof(buf) - 1);

		if (len > 0) {
			buf[len] = '\0';
			if (!strcmp(buf, exe))
				return true;
		}
		nanosleep(&pause, NULL);
	}
	return false;
}

static bool none_watched(void *ctx, pid_t pid)
{
	(void)ctx;
	(void)pid;
	return false;
}

static bool all_watched(void *ctx, pid_t pid)
{
	(void)ctx;
	(void)pid;
	return true;
}

static bool found(pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Scans until pid is found (its exec may not have happened yet), at most a few seconds. */
static bool scan_finds(struct uvs_discover *d, bool (*w)(void *, pid_t), pid_t pid)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	pid_t pids[256];

	for (int tries = 0; tries < 150; tries++) {
		size_t n = uvs_discover_scan(d, w, NULL, pids, 256);

		if (found(pids, n, pid))
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

Test(discover, a_node_process_that_matches_and_nothing_else)
{
	static struct uvs_discover d;
	char tag[64], why[128];
	pid_t pids[256];
	size_t n;

	if (access("/usr/bin/node", X_OK))
		cr_skip_test("no /usr/bin/node");
	snprintf(tag, sizeof(tag), "uvs-discover-%d", (int)getpid());
	char *node_argv[] = { "/usr/bin/node", "-e", "setTimeout(() => {}, 20000)", tag, NULL };
	char *sleep_argv[] = { "/bin/sleep", "20", tag, NULL };
	pid_t node = spawn(node_argv), other = spawn(sleep_argv);

	cr_assert_eq(uvs_discover_init(&d, tag, why, sizeof(why)), 0, "%s", why);
	/* The scanner's own children (the --on-alert commands) are never offered. */
	char *real = realpath("/usr/bin/node", NULL);

	cr_assert(real && wait_exec(node, real), "the child runs node");
	free(real);
	n = uvs_discover_scan(&d, none_watched, NULL, pids, 256);
	cr_expect(!found(pids, n, node), "a child of the scanner is not offered");
	uvs_discover_free(&d);
	kill(node, SIGKILL);
	waitpid(node, NULL, 0);
	node = spawn_detached(node_argv);
	cr_assert_eq(uvs_discover_init(&d, tag, why, sizeof(why)), 0, "%s", why);
	cr_expect(scan_finds(&d, none_watched, node), "the node process is found");
	n = uvs_discover_scan(&d, none_watched, NULL, pids, 256);
	cr_expect(!found(pids, n, other), "sleep, with the tag on its command line, is not node");
	cr_expect(!found(pids, n, getpid()), "the scanner itself is not offered");
	n = uvs_discover_scan(&d, all_watched, NULL, pids, 256);
	cr_expect(!found(pids, n, node), "a process already watched is not offered again");
	uvs_discover_refused(&d, node);
	n = uvs_discover_scan(&d, none_watched, NULL, pids, 256);
	cr_expect(!found(pids, n, node), "a process that could not be attached is not retried");
	uvs_discover_free(&d);

	/* Another regex: the same node process does not match it. */
	cr_assert_eq(uvs_discover_init(&d, "no-such-tag-anywhere-[0-9]{40}", why, sizeof(why)), 0);
	n = uvs_discover_scan(&d, none_watched, NULL, pids, 256);
	cr_expect(!found(pids, n, node), "--match filters on the command line");
	uvs_discover_free(&d);
	cr_expect_neq(uvs_discover_init(&d, "(unclosed", why, sizeof(why)), 0);
	cr_expect(strlen(why) > 0, "a bad regex is explained");
	kill(node, SIGKILL); /* reaped by init: it is not our child */
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
}
