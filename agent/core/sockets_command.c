// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collect/fd_table.h"
#include "collect/socket_table.h"
#include "collect/sockets.h"
#include "core/sockets_command.h"
#include "render/json.h"
#include "render/socket_table.h"
#include "target/process.h"
#include "util/clock.h"
#include "util/log.h"

static int read_table(const struct uvs_cli *cli, int nl, struct uvs_socket_table *t)
{
	struct uvs_fd_table fds = { 0 };
	int err = uvs_fd_table_read(cli->pid, &fds);

	if (!err)
		err = uvs_socket_table_read(nl, &fds, NULL, t);
	uvs_fd_table_free(&fds);
	if (err == -EACCES || err == -EPERM)
		uvs_err("cannot read /proc/%d/fd: permission denied (run as root, or as the "
			"process's user)", (int)cli->pid);
	else if (err == -ENOENT)
		uvs_err("no such process: %d", (int)cli->pid);
	else if (err)
		uvs_err("cannot read the socket tables: %s", strerror(-err));
	return err;
}

int uvs_sockets_command(const struct uvs_cli *cli)
{
	struct uvs_sockets_snapshot sum;
	struct uvs_socket_table t = { 0 };
	char why[256], comm[16];
	int nl, err;

	uvs_verbose = cli->verbose;
	if (uvs_pid_check(cli->pid, why, sizeof(why))) {
		uvs_err("%s", why);
		return 1;
	}
	nl = uvs_sockets_open_diag((int)cli->pid, why, sizeof(why));
	if (nl < 0) {
		uvs_err("%s", why);
		return 1;
	}
	err = read_table(cli, nl, &t);
	close(nl);
	if (err) {
		uvs_socket_table_free(&t);
		return 1;
	}
	memset(&sum, 0, sizeof(sum));
	uvs_socket_table_sort(&t);
	uvs_socket_table_summarize(&t, &sum);
	uvs_read_thread_comm(cli->pid, cli->pid, comm, sizeof(comm));
	if (cli->json)
		err = uvs_json_socket_table(stdout, (int)cli->pid, uvs_now_real(), &t, &sum);
	else
		err = uvs_text_socket_table(stdout, (int)cli->pid, comm[0] ? comm : "?", &t, &sum);
	uvs_socket_table_free(&t);
	if (!err && fflush(stdout))
		err = -errno;
	if (err)
		uvs_err("cannot write the socket table: %s", strerror(err == -EIO ? EIO : -err));
	return err ? 1 : 0;
}
