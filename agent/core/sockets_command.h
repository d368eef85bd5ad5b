/* SPDX-License-Identifier: MIT */
/* `uvscope sockets -p PID`: the target's socket table, once, as text or a JSON line. */
#ifndef UVSCOPE_SOCKETS_CMD_H
#define UVSCOPE_SOCKETS_CMD_H

#include "cli/options.h"

/* Returns the process exit status (0, or 1 with one sentence on stderr). */
int uvs_sockets_command(const struct uvs_cli *cli);

/*
 * A diag socket that sees the target's network namespace: opened inside it when we may
 * (setns needs CAP_SYS_ADMIN), else ours when the target shares it. -errno with `why` set.
 */
int uvs_sockets_open_diag(int pid, char *why, size_t cap);

#endif
