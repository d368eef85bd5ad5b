/* SPDX-License-Identifier: MIT */
/*
 * The target's own sockets: the kernel's socket tables (collect/sock_diag.c) kept to the socket
 * inodes in the target's fds (collect/fd_table.c), and what they add up to (states, accept
 * queues, UDP drops). Sockets of any other process never get in: a row is kept only when its
 * inode is one of the target's fds.
 *
 * Cost on a busy host: only the tables the target has sockets in are dumped (a socket's
 * protocol is known from its fd), Unix sockets are counted from the fds without a dump, and a
 * dump asks the kernel only for sockets on the ports the target uses (learned from the dumps
 * before: its listening ports, and the remote ports of its own connections). A socket of the
 * target that such a dump misses (a new outgoing connection) makes that table dumped whole,
 * once, and its ports are learned.
 */
#ifndef UVSCOPE_SOCKET_TABLE_H
#define UVSCOPE_SOCKET_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collect/fd_table.h"
#include "collect/sock_diag.h"
#include "core/snapshot.h"
#include "core/socket_list.h"

/* What the socket table learns from one window for the next: the ports to ask the kernel for. */
struct uvs_sock_learning {
	struct uvs_diag_filter filter;
	bool overflow;          /* more ports than a filter holds: dump whole tables */
	size_t nmissed;         /* inodes a whole dump did not find (unbound or unhashed) */
	uint32_t *missed;       /* sorted */
	uint64_t full_dumps;    /* whole-table dumps made (a figure for the benchmark) */
	uint64_t filtered_dumps;
};

/*
 * Reads the target's sockets, given this window's fd table. With `learn` (kept across
 * windows), dumps are filtered by the ports learned; without (NULL), every needed table is
 * dumped whole. Returns 0 or -errno.
 */
int uvs_socket_table_read(int nl, const struct uvs_fd_table *fds, struct uvs_sock_learning *learn,
			  struct uvs_socket_table *t);

/* The same, with the dumps from src (a census member, collect/sock_census.h) rather than nl. */
int uvs_socket_table_read_from(uvs_sock_dump_fn dump, void *src, const struct uvs_fd_table *fds,
			       struct uvs_sock_learning *learn, struct uvs_socket_table *t);

/* Appends a row (the table grows, up to a bound): 0, or -ENOMEM. */
int uvs_socket_table_add(struct uvs_socket_table *t, const struct uvs_sock *s);

void uvs_socket_table_free(struct uvs_socket_table *t);
void uvs_sock_learning_free(struct uvs_sock_learning *l);

/* Sorts the rows as the table prints them: TCP before UDP, listeners first, then by port. */
void uvs_socket_table_sort(struct uvs_socket_table *t);

/* Adds up a table: sockets per state, accept queues, UDP drops. */
void uvs_socket_table_summarize(const struct uvs_socket_table *t, struct uvs_sockets_snapshot *out);

/*
 * The ports that find these rows again: a listener's (or an unconnected socket's) local port,
 * an accepted connection's local port (its listener's), an outgoing connection's remote port.
 * Exposed for the unit tests.
 */
void uvs_sock_learn_ports(const struct uvs_socket_table *t, struct uvs_sock_learning *l);

#endif
