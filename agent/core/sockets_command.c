// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/loop.h"
#include "util/log.h"
#include "render/json.h"
#include "render/socket_table.h"
#include "target/procfs.h"
#include "collect/socket_table.h"
#include "core/sockets_command.h"

/* 1 when pid shares our network namespace, 0 when not, -errno when we may not look. */
static int same_netns(int pid)
{
	char path[64];
	struct stat theirs, mine;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &theirs))
		return -errno;
	if (stat("/proc/self/ns/net", &mine))
		return -errno;
	return theirs.st_ino == mine.st_ino && theirs.st_dev == mine.st_dev;
}

int uvs_sockets_open_diag(int pid, char *why, size_t cap)
{
	int nl = uvs_sock_diag_open_for(pid), same;

	if (nl >= 0)
		return nl;
	same = same_netns(pid);
	if (same == 1) {
		nl = uvs_sock_diag_open();
		if (nl >= 0)
			return nl;
	} else if (same == -EACCES || same == -EPERM) {
		snprintf(why, cap, "cannot inspect pid %d: permission denied (run as root, or as the "
			 "process's user)", pid);
		return same;
	} else if (same == 0 && (nl == -EPERM || nl == -EACCES)) {
		snprintf(why, cap, "pid %d is in another network namespace and entering it needs "
			 "CAP_SYS_ADMIN (run as root)", pid);
		return nl;
	}
	snprintf(why, cap, "cannot open a NETLINK_SOCK_DIAG socket: %s", strerror(-nl));
	return nl;
}

static void read_comm(int pid, char *comm, size_t cap)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	n = uvs_read_file(path, comm, cap);
	if (n <= 0)
		snprintf(comm, cap, "?");
	else if (comm[n - 1] == '\n')
		comm[n - 1] = '\0';
	/* comm is the target's to set: keep the terminal safe. */
	for (char *c = comm; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
}

int uvs_sockets_command(const struct uvs_cli *cli)
{
	struct uvs_sockets_snapshot sum;
	struct uvs_socket_table t = { 0 };
	char why[256], comm[32], path[32];
	struct stat st;
	int nl, err;

	uvs_verbose = cli->verbose;
	snprintf(path, sizeof(path), "/proc/%d", (int)cli->pid);
	if (stat(path, &st)) {
		uvs_err("no such process: %d", (int)cli->pid);
		return 1;
	}
	nl = uvs_sockets_open_diag((int)cli->pid, why, sizeof(why));
	if (nl < 0) {
		uvs_err("%s", why);
		return 1;
	}
	err = uvs_socket_table_read(nl, cli->pid, &t);
	close(nl);
	if (err) {
		if (err == -EACCES || err == -EPERM)
			uvs_err("cannot read /proc/%d/fd: permission denied (run as root, or as the "
				"process's user)", (int)cli->pid);
		else if (err == -ENOENT)
			uvs_err("no such process: %d", (int)cli->pid);
		else
			uvs_err("cannot read the socket tables: %s", strerror(-err));
		uvs_socket_table_free(&t);
		return 1;
	}
	memset(&sum, 0, sizeof(sum));
	uvs_socket_table_sort(&t);
	uvs_socket_table_summarize(&t, &sum);
	read_comm((int)cli->pid, comm, sizeof(comm));
	if (cli->json)
		err = uvs_json_socket_table(stdout, (int)cli->pid, uvs_now_real(), &t, &sum);
	else
		err = uvs_text_socket_table(stdout, (int)cli->pid, comm, &t, &sum);
	uvs_socket_table_free(&t);
	return err ? 1 : 0;
}
