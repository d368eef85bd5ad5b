/* SPDX-License-Identifier: MIT */
/* Text of `uvscope sockets`: the target's socket table, like `ss -tuanp` for one process. */
#ifndef UVSCOPE_OUT_SOCKETS_H
#define UVSCOPE_OUT_SOCKETS_H

#include <stdio.h>

#include "core/snapshot.h"
#include "core/socket_list.h"

/* A one-line summary, then one row per TCP/UDP socket. Returns 0 or -EIO. */
int uvs_text_socket_table(FILE *out, int pid, const char *comm, const struct uvs_socket_table *t,
			  const struct uvs_sockets_snapshot *sum);

#endif
