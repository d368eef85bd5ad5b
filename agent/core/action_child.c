// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/action_child.h"
#include "render/json.h"
#include "render/watch.h"

extern char **environ;

int uvs_action_resolve(const char *argv0, char *path, size_t cap)
{
	const char *dirs = getenv("PATH"), *d, *end;
	struct stat st;

	if (strchr(argv0, '/')) {
		if ((size_t)snprintf(path, cap, "%s", argv0) >= cap)
			return -ENAMETOOLONG;
		if (stat(path, &st))
			return -errno;
		return S_ISREG(st.st_mode) && !access(path, X_OK) ? 0 : -EACCES;
	}
	if (!dirs || !*dirs)
		dirs = "/usr/local/bin:/usr/bin:/bin";
	for (d = dirs; *d; d = *end ? end + 1 : end) {
		end = strchrnul(d, ':');
		/* An empty entry means the current directory, which a daemon must not trust. */
		if (end == d)
			continue;
		if ((size_t)snprintf(path, cap, "%.*s/%s", (int)(end - d), d, argv0) >= cap)
			continue;
		if (!stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK))
			return 0;
	}
	return -ENOENT;
}

/* The alert as JSON in a sealed memfd at offset 0: the command reads it at its own pace. */
static int alert_memfd(const struct uvs_alert *a)
{
	char *buf = NULL;
	size_t len = 0, off = 0;
	FILE *f = open_memstream(&buf, &len);
	int fd = -1, err;

	if (!f)
		return -errno;
	err = uvs_json_alert(f, a);
	if (fclose(f) || err) {
		free(buf);
		return err ? err : -EIO;
	}
	fd = memfd_create("uvscope-alert", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	while (fd >= 0 && off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (fd < 0 || off < len)
		err = errno ? -errno : -EIO;
	free(buf);
	if (!err && (lseek(fd, 0, SEEK_SET) ||
		     fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)))
		err = -errno;
	if (err && fd >= 0)
		close(fd);
	return err ? err : fd;
}

/* What watch prints for the alert, its first line without the time: UVSCOPE_MESSAGE. */
static void alert_message(const struct uvs_alert *a, char *msg, size_t cap)
{
	char *buf = NULL, *p, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	msg[0] = '\0';
	if (!f)
		return;
	uvs_watch_alert(f, a);
	if (fclose(f) || !buf) {
		free(buf);
		return;
	}
	p = strchr(buf, ' ');
	p = p ? p + 1 : buf;
	nl = strchr(p, '\n');
	if (nl)
		*nl = '\0';
	snprintf(msg, cap, "%s", p);
	free(buf);
}

#define ALERT_VARS 9

/*
 * The agent's environment without any UVSCOPE_* of its own, then the alert's variables (in
 * `vars`, which must outlive the result). NULL when out of memory.
 */
static char **alert_environ(const struct uvs_alert *a, char vars[ALERT_VARS][320])
{
	size_t n = 0, i, k = 0;
	char **env, msg[256];
	int tid = a->kind == UVS_ALERT_LOOP_BLOCKED ? a->loop_blocked.tid :
		  a->kind == UVS_ALERT_LOOP_UTILIZATION ? a->loop_utilization.tid :
		  a->kind == UVS_ALERT_GC_SHARE ? a->gc_share.tid : 0;

	while (environ && environ[n])
		n++;
	env = calloc(n + ALERT_VARS + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "UVSCOPE_", 8))
			env[k++] = environ[i];
	alert_message(a, msg, sizeof(msg));
	snprintf(vars[0], sizeof(vars[0]), "UVSCOPE_KIND=%s", uvs_alert_kind_name(a->kind));
	snprintf(vars[1], sizeof(vars[1]), "UVSCOPE_STATE=%s", uvs_alert_status_name(a->state));
	snprintf(vars[2], sizeof(vars[2]), "UVSCOPE_SEVERITY=%s", uvs_severity_name(a->severity));
	snprintf(vars[3], sizeof(vars[3]), "UVSCOPE_PID=%d", a->pid);
	snprintf(vars[4], sizeof(vars[4]), "UVSCOPE_TS_NS=%" PRIu64, a->ts_ns);
	snprintf(vars[5], sizeof(vars[5]), "UVSCOPE_SUPPRESSED=%" PRIu64, a->suppressed);
	snprintf(vars[6], sizeof(vars[6]), "UVSCOPE_FIRING_NS=%" PRIu64, a->firing_ns);
	snprintf(vars[7], sizeof(vars[7]), "UVSCOPE_MESSAGE=%s", msg);
	snprintf(vars[8], sizeof(vars[8]), "UVSCOPE_TID=%d", tid);
	for (i = 0; i < ALERT_VARS; i++)
		if (i != 8 || tid)
			env[k++] = vars[i];
	env[k] = NULL;
	return env;
}

/*
 * In the child, between fork and exec: only async-signal-safe calls. A failure is written to
 * errfd and ends the child with 127, as a shell says "command not found".
 */
static void child(const char *path, char *const argv[], char **env, int memfd, int errfd)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct caps[2] = { 0 };
	sigset_t none;
	int e;

	sigemptyset(&none);
	/* The agent blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD for its signalfds. */
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (dup2(memfd, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		goto fail;
	/* Every fd is opened close-on-exec already; this makes sure of it for any that is not. */
	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	/* No capability survives exec, even for root: no_new_privs caps what exec may grant at
	 * what this process holds, which is then nothing. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_capset, &hdr, caps))
		goto fail;
	execve(path, argv, env);
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int uvs_action_spawn(const char *path, char *const argv[], const struct uvs_alert *a, pid_t *pid,
		     int *errfd)
{
	char vars[ALERT_VARS][320];
	char **env = alert_environ(a, vars);
	int memfd, pipefd[2], err = 0;
	pid_t p;

	if (!env)
		return -ENOMEM;
	memfd = alert_memfd(a);
	if (memfd < 0) {
		free(env);
		return memfd;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK)) {
		err = -errno;
		goto out;
	}
	p = fork();
	if (p == 0)
		child(path, argv, env, memfd, pipefd[1]);
	if (p < 0) {
		err = -errno;
		close(pipefd[0]);
	} else {
		/* Here too, so a kill of the group right away cannot miss it. */
		setpgid(p, p);
		*pid = p;
		*errfd = pipefd[0];
	}
	close(pipefd[1]);
out:
	close(memfd);
	free(env);
	return err;
}
