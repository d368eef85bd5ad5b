/* SPDX-License-Identifier: MIT */
/*
 * TCP retransmits without tracepoints (the proc backend): the difference of each socket's
 * tcp_info total_retrans (from the socket table's dumps) between two windows. A socket first
 * seen after the first window was made in between, so all its retransmits are the window's; a
 * socket that closed between two dumps takes the retransmits since the last one with it (they
 * are missed: the figure is a lower bound). Pure: no dumps, no clock.
 */
#ifndef UVSCOPE_SOCK_RETRANS_H
#define UVSCOPE_SOCK_RETRANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/socket_list.h"

struct uvs_retrans_seen {
	uint32_t inode;
	uint32_t retrans;
};

struct uvs_sock_retrans {
	bool seeded;                    /* a first table was taken as the baseline */
	size_t n, cap;
	struct uvs_retrans_seen *prev;  /* sorted by inode */
};

/*
 * The retransmits of t's TCP sockets since the last call (0 the first time, which takes the
 * baseline). -ENOMEM leaves the baseline as it was.
 */
int uvs_sock_retrans_window(struct uvs_sock_retrans *r, const struct uvs_socket_table *t,
			    uint64_t *out);

void uvs_sock_retrans_free(struct uvs_sock_retrans *r);

#endif
