// SPDX-License-Identifier: MIT
/*
 * --on-alert: real commands run for alerts. What each one got (stdin, environment, fds,
 * capabilities) is written by a shell script to a file the test reads; timeouts, the cap on
 * commands at once and a missing command are checked on the runner's counts.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/actions.h"
#include "util/clock.h"

static char dir[] = "/tmp/uvscope-actions-XXXXXX";

static void setup(void)
{
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(actions, .init = setup, .fini = teardown);

static char *slurp(const char *name)
{
	char path[256], *buf = calloc(1, 65536);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert(f, "%s was not written", path);
	fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

static const struct uvs_alert blocked = {
	.kind = UVS_ALERT_LOOP_BLOCKED, .pid = 4242, .ts_ns = 1700000000000000000ULL,
	.state = UVS_ALERT_FIRING, .severity = UVS_SEVERITY_CRITICAL,
	.loop_blocked = { .tid = 4250, .role = UVS_ROLE_WORKER, .ongoing = true,
			  .blocked_ns = 101000000, .threshold_ns = 100000000 },
};

Test(actions, the_command_gets_the_alert_and_nothing_of_ours)
{
	char cmd[1024], why[256];
	struct uvs_actions *a;
	struct uvs_actions_stats st;
	char *in, *env, *status, *fds;
	/* An fd opened without O_CLOEXEC, as a careless library might: it must not reach the
	 * command either. */
	char leakpath[256];
	int leak;

	snprintf(leakpath, sizeof(leakpath), "%s/leak", dir);
	leak = open(leakpath, O_RDWR | O_CREAT, 0600);
	cr_assert(leak >= 0);
	snprintf(cmd, sizeof(cmd), "/bin/sh -c 'cat > \"$0/in\"; env > \"$0/env\"; "
		 "cat /proc/self/status > \"$0/status\"; "
		 "for f in /proc/$$/fd/*; do readlink $f || :; done > \"$0/fds\"' %s", dir);
	a = uvs_actions_new(cmd, 10000000000ULL, why, sizeof(why));
	cr_assert(a, "%s", why);
	uvs_actions_run(a, &blocked, uvs_now_mono());
	cr_expect_eq(uvs_actions_running(a), 1);
	uvs_actions_drain(a);
	uvs_actions_stats(a, &st);
	cr_expect_eq(st.started, 1);
	cr_expect_eq(st.succeeded, 1);
	in = slurp("in");
	cr_expect(!strncmp(in, "{\"type\":\"alert\",\"schema\":1,\"kind\":\"loop_blocked\",\"pid\":4242,"
			   "\"state\":\"firing\",\"severity\":\"critical\",\"tid\":4250,", 105),
		  "stdin: %s", in);
	cr_expect(in[strlen(in) - 1] == '\n', "one whole line");
	env = slurp("env");
	cr_expect(strstr(env, "UVSCOPE_KIND=loop_blocked\n"), "%s", env);
	cr_expect(strstr(env, "UVSCOPE_STATE=firing\n"));
	cr_expect(strstr(env, "UVSCOPE_SEVERITY=critical\n"));
	cr_expect(strstr(env, "UVSCOPE_PID=4242\n"));
	cr_expect(strstr(env, "UVSCOPE_TID=4250\n"));
	cr_expect(strstr(env, "UVSCOPE_TS_NS=1700000000000000000\n"));
	cr_expect(strstr(env, "UVSCOPE_MESSAGE=ALERT loop blocked: worker loop (tid 4250) blocked "
			 "for 101ms so far (threshold 100ms)\n"), "%s", env);
	cr_expect(strstr(env, "PATH="), "the environment is passed on");
	status = slurp("status");
	cr_expect(strstr(status, "CapEff:\t0000000000000000\n"), "%s", status);
	cr_expect(strstr(status, "CapPrm:\t0000000000000000\n"), "%s", status);
	cr_expect(strstr(status, "NoNewPrivs:\t1\n"), "%s", status);
	fds = slurp("fds");
	/* stdin is the alert; nothing of ours: not the leak, the SIGCHLD signalfd, a BPF fd. */
	cr_expect(strstr(fds, "/memfd:uvscope-alert"), "%s", fds);
	cr_expect(!strstr(fds, "/leak") && !strstr(fds, "signalfd") && !strstr(fds, "bpf"),
		  "the command's fds: %s", fds);
	close(leak);
	free(in);
	free(env);
	free(status);
	free(fds);
	uvs_actions_free(a);
}

Test(actions, a_resolved_alert_and_a_failing_command)
{
	struct uvs_alert fd = { .kind = UVS_ALERT_FD_LIMIT, .pid = 9, .state = UVS_ALERT_RESOLVED,
				.firing_ns = 5000000000ULL, .fd_limit = { .open = 10, .limit = 20 } };
	struct uvs_actions *a;
	struct uvs_actions_stats st;
	char cmd[512], why[256], *env;

	cr_redirect_stderr();
	snprintf(cmd, sizeof(cmd), "sh -c 'env > \"$0/env\"; exit 3' %s", dir);
	a = uvs_actions_new(cmd, 10000000000ULL, why, sizeof(why));
	cr_assert(a, "%s", why);
	uvs_actions_run(a, &fd, uvs_now_mono());
	uvs_actions_drain(a);
	uvs_actions_stats(a, &st);
	cr_expect_eq(st.failed, 1);
	env = slurp("env");
	cr_expect(strstr(env, "UVSCOPE_STATE=resolved\n"), "%s", env);
	cr_expect(strstr(env, "UVSCOPE_FIRING_NS=5000000000\n"), "%s", env);
	cr_expect(!strstr(env, "UVSCOPE_TID="), "no loop, no tid");
	free(env);
	uvs_actions_free(a);
	fflush(stderr);
	cr_expect_stderr_eq_str("uvscope: warning: --on-alert: 'sh' (fd_limit alert resolved) exited "
				"with status 3\n");
}

/* Runs cmd for `times` alerts, each right after the one before ended; returns the counts. */
static struct uvs_actions_stats run_to_end(const char *cmd, uint64_t timeout_ns, int times)
{
	struct uvs_actions_stats st;
	struct uvs_actions *a;
	char why[256];

	a = uvs_actions_new(cmd, timeout_ns, why, sizeof(why));
	cr_assert(a, "%s", why);
	for (int i = 0; i < times; i++) {
		uvs_actions_run(a, &blocked, uvs_now_mono());
		uvs_actions_drain(a);
	}
	uvs_actions_stats(a, &st);
	uvs_actions_free(a);
	return st;
}

/* A command that hangs gets SIGTERM at the timeout; one that ignores it, SIGKILL after. */
Test(actions, timeout)
{
	cr_redirect_stderr();
	cr_expect_eq(run_to_end("sleep 1000", 50000000ULL, 1).timed_out, 1);
	cr_expect_eq(run_to_end("sh -c 'trap \"\" TERM; while :; do sleep 0.01; done'", 50000000ULL,
				1).timed_out, 1);
	fflush(stderr);
	cr_expect_stderr_eq_str(
		"uvscope: warning: --on-alert: 'sleep' (loop_blocked alert firing) did not "
		"finish in 50.0ms: ended by SIGTERM\n"
		"uvscope: warning: --on-alert: 'sh' (loop_blocked alert firing) did not "
		"finish in 50.0ms: ended by SIGKILL\n");
}

/* At most UVS_ACTIONS_MAX at once: the alert beyond is counted, and said once. */
Test(actions, at_most_four)
{
	struct uvs_actions *a;
	struct uvs_actions_stats st;
	char why[256];

	cr_redirect_stderr();
	a = uvs_actions_new("sleep 1000", 100000000ULL, why, sizeof(why));
	cr_assert(a, "%s", why);
	for (int i = 0; i < UVS_ACTIONS_MAX + 2; i++)
		uvs_actions_run(a, &blocked, uvs_now_mono());
	cr_expect_eq(uvs_actions_running(a), UVS_ACTIONS_MAX);
	uvs_actions_drain(a);
	uvs_actions_stats(a, &st);
	cr_expect_eq(st.started, UVS_ACTIONS_MAX);
	cr_expect_eq(st.timed_out, UVS_ACTIONS_MAX);
	cr_expect_eq(st.busy, 2);
	uvs_actions_free(a);
}

/* A command that cannot be found is said once, at the start; each alert is still counted. */
Test(actions, missing_command_said_once)
{
	struct uvs_actions_stats st;

	cr_redirect_stderr();
	st = run_to_end("uvscope-no-such-command --flag", 1000000000ULL, 3);
	cr_expect_eq(st.not_run, 3);
	cr_expect_eq(st.started, 0);
	fflush(stderr);
	cr_expect_stderr_eq_str("uvscope: warning: --on-alert: cannot run 'uvscope-no-such-command': "
				"No such file or directory in $PATH (said once; each alert is tried "
				"again and counted)\n");
}

/* An executable file the kernel cannot run fails in the child: said once too. */
Test(actions, exec_failure_said_once)
{
	struct uvs_actions_stats st;
	char why[256], path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/not-a-program", dir);
	f = fopen(path, "w");
	cr_assert(f);
	fputs("neither ELF nor #!\n", f);
	fclose(f);
	cr_assert_eq(chmod(path, 0755), 0);
	cr_redirect_stderr();
	st = run_to_end(path, 1000000000ULL, 2);
	cr_expect_eq(st.started, 2);
	cr_expect_eq(st.failed, 2);
	fflush(stderr);
	snprintf(why, sizeof(why), "uvscope: warning: --on-alert: cannot run '%s': Exec format "
		 "error (said once; each alert is tried again and counted)\n", path);
	cr_expect_stderr_eq_str(why);
}

Test(actions, bad_command_line)
{
	char why[256];

	cr_expect_null(uvs_actions_new("notify | mail", 1000000000ULL, why, sizeof(why)));
	cr_expect(strstr(why, "--on-alert 'notify | mail': unquoted '|'"), "%s", why);
}
