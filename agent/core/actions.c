// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/action_child.h"
#include "core/actions.h"
#include "util/clock.h"
#include "util/duration.h"
#include "util/log.h"
#include "util/words.h"

struct running {
	pid_t pid;            /* 0: a free slot */
	int errfd;            /* holds the errno of a failed exec */
	uint64_t deadline;    /* CLOCK_MONOTONIC: SIGTERM then */
	bool termed;          /* SIGTERM sent; SIGKILL at deadline + grace */
	bool killed;
	enum uvs_alert_kind kind;
	enum uvs_alert_status state;
};

struct uvs_actions {
	char **argv;
	const char *shown;    /* argv[0], for messages */
	uint64_t timeout_ns;
	int sigfd;
	unsigned int nrunning;
	struct running run[UVS_ACTIONS_MAX];
	struct uvs_actions_stats stats;
	bool said_missing;    /* a command that cannot be run is said once */
	bool said_busy;
};

struct uvs_actions *uvs_actions_new(const char *cmd, uint64_t timeout_ns, char *why, size_t cap)
{
	struct uvs_actions *a = calloc(1, sizeof(*a));
	char path[PATH_MAX], split[200];
	sigset_t chld;
	size_t n;
	int err;

	if (!a) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	a->sigfd = -1;
	err = uvs_split_words(cmd, &a->argv, &n, split, sizeof(split));
	if (err) {
		snprintf(why, cap, "--on-alert '%s': %s", cmd, split);
		free(a);
		return NULL;
	}
	a->shown = a->argv[0];
	a->timeout_ns = timeout_ns;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	a->sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sigfd < 0) {
		snprintf(why, cap, "--on-alert: signalfd: %s", strerror(errno));
		uvs_actions_free(a);
		return NULL;
	}
	err = uvs_action_resolve(a->argv[0], path, sizeof(path));
	if (err) {
		uvs_warn("--on-alert: cannot run '%s': %s%s (said once; each alert is tried again "
			 "and counted)", a->shown, strerror(-err),
			 strchr(a->shown, '/') ? "" : " in $PATH");
		a->said_missing = true;
	}
	return a;
}

int uvs_actions_fd(const struct uvs_actions *a)
{
	return a->sigfd;
}

unsigned int uvs_actions_running(const struct uvs_actions *a)
{
	return a->nrunning;
}

void uvs_actions_run(struct uvs_actions *a, const struct uvs_alert *alert, uint64_t now_mono)
{
	char path[PATH_MAX];
	struct running *r = NULL;
	int err;

	for (size_t i = 0; i < UVS_ACTIONS_MAX && !r; i++)
		if (!a->run[i].pid)
			r = &a->run[i];
	if (!r) {
		a->stats.busy++;
		if (!a->said_busy)
			uvs_warn("--on-alert: %d commands are still running: the %s alert (%s) is "
				 "not acted on; every such alert is counted (see the end)",
				 UVS_ACTIONS_MAX, uvs_alert_kind_name(alert->kind),
				 uvs_alert_status_name(alert->state));
		a->said_busy = true;
		return;
	}
	err = uvs_action_resolve(a->argv[0], path, sizeof(path));
	if (!err)
		err = uvs_action_spawn(path, a->argv, alert, &r->pid, &r->errfd);
	if (err) {
		a->stats.not_run++;
		if (!a->said_missing)
			uvs_warn("--on-alert: cannot run '%s': %s (said once; each alert is tried "
				 "again and counted)", a->shown, strerror(-err));
		a->said_missing = true;
		r->pid = 0;
		return;
	}
	a->stats.started++;
	a->nrunning++;
	r->deadline = now_mono + a->timeout_ns;
	r->termed = r->killed = false;
	r->kind = alert->kind;
	r->state = alert->state;
}

/* How a command ended, said when it did not end well. */
static void ended(struct uvs_actions *a, struct running *r, int status)
{
	int exec_errno = 0;
	char took[UVS_DURATION_BUF];

	if (read(r->errfd, &exec_errno, sizeof(exec_errno)) != sizeof(exec_errno))
		exec_errno = 0;
	close(r->errfd);
	uvs_format_duration(a->timeout_ns, took, sizeof(took));
	if (exec_errno) {
		a->stats.failed++;
		if (!a->said_missing)
			uvs_warn("--on-alert: cannot run '%s': %s (said once; each alert is tried "
				 "again and counted)", a->shown, strerror(exec_errno));
		a->said_missing = true;
	} else if (r->termed) {
		a->stats.timed_out++;
		uvs_warn("--on-alert: '%s' (%s alert %s) did not finish in %s: ended by %s",
			 a->shown, uvs_alert_kind_name(r->kind),
			 uvs_alert_status_name(r->state), took, r->killed ? "SIGKILL" : "SIGTERM");
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		a->stats.succeeded++;
	} else {
		a->stats.failed++;
		if (WIFEXITED(status))
			uvs_warn("--on-alert: '%s' (%s alert %s) exited with status %d", a->shown,
				 uvs_alert_kind_name(r->kind), uvs_alert_status_name(r->state),
				 WEXITSTATUS(status));
		else
			uvs_warn("--on-alert: '%s' (%s alert %s) was ended by signal %d", a->shown,
				 uvs_alert_kind_name(r->kind), uvs_alert_status_name(r->state),
				 WTERMSIG(status));
	}
	r->pid = 0;
	a->nrunning--;
}

void uvs_actions_reap(struct uvs_actions *a)
{
	struct signalfd_siginfo si;
	int status;

	while (read(a->sigfd, &si, sizeof(si)) > 0)
		;
	for (size_t i = 0; i < UVS_ACTIONS_MAX; i++) {
		struct running *r = &a->run[i];

		if (r->pid && waitpid(r->pid, &status, WNOHANG) == r->pid)
			ended(a, r, status);
	}
}

/* The whole process group: what the command started goes too. */
static void signal_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) && errno == ESRCH)
		kill(pid, sig);
}

void uvs_actions_tick(struct uvs_actions *a, uint64_t now_mono)
{
	for (size_t i = 0; i < UVS_ACTIONS_MAX; i++) {
		struct running *r = &a->run[i];

		if (!r->pid)
			continue;
		if (!r->termed && now_mono >= r->deadline) {
			signal_group(r->pid, SIGTERM);
			r->termed = true;
		} else if (r->termed && !r->killed && now_mono >= r->deadline + UVS_ACTIONS_GRACE_NS) {
			signal_group(r->pid, SIGKILL);
			r->killed = true;
		}
	}
}

void uvs_actions_drain(struct uvs_actions *a)
{
	struct pollfd p;

	if (!a)
		return;
	p = (struct pollfd){ .fd = a->sigfd, .events = POLLIN };
	for (;;) {
		uvs_actions_reap(a);
		if (!a->nrunning)
			return;
		uvs_actions_tick(a, uvs_now_mono());
		/* Deadlines are kept to 10 ms, as the session's own tick does. */
		poll(&p, 1, 10);
	}
}

void uvs_actions_stats(const struct uvs_actions *a, struct uvs_actions_stats *out)
{
	*out = a->stats;
}

void uvs_actions_free(struct uvs_actions *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < UVS_ACTIONS_MAX; i++)
		if (a->run[i].pid)
			close(a->run[i].errfd);
	if (a->sigfd >= 0)
		close(a->sigfd);
	free(a->argv);
	free(a);
}
