/* SPDX-License-Identifier: MIT */
/*
 * The target's own sockets: the kernel's socket tables (agent/sock_diag.c) filtered to the
 * socket inodes in /proc/PID/fd, and what they add up to (states, accept queues, UDP drops).
 * Sockets of any other process never get in: a row is kept only when its inode is one of the
 * target's fds.
 */
#ifndef UVSCOPE_SOCKETS_H
#define UVSCOPE_SOCKETS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/snapshot.h"
#include "collect/sock_diag.h"

struct uvs_socket_table {
	struct uvs_sock *rows;  /* TCP and UDP sockets of the target, IPv4 and IPv6 */
	size_t n, cap;
	uint64_t unix_count;    /* Unix sockets of the target */
	uint64_t other_count;   /* socket fds in no table we read (netlink, packet, ...) */
};

/* The socket inodes among pid's fds, sorted, in *out (malloc'd). Returns the count or -errno. */
ssize_t uvs_socket_inodes(pid_t pid, uint32_t **out);

/* Reads the target's sockets through the diag socket nl. Returns 0 or -errno. */
int uvs_socket_table_read(int nl, pid_t pid, struct uvs_socket_table *t);

void uvs_socket_table_free(struct uvs_socket_table *t);

/* Sorts the rows as the table prints them: TCP before UDP, listeners first, then by port. */
void uvs_socket_table_sort(struct uvs_socket_table *t);

/* Adds up a table: sockets per state, accept queues, UDP drops. */
void uvs_socket_table_summarize(const struct uvs_socket_table *t, struct uvs_sockets_snapshot *out);

/* "127.0.0.1:3000", "[::1]:443", "*:*" for an unspecified address and port. */
void uvs_format_endpoint(int family, const uint8_t addr[16], uint16_t port, char *buf, size_t cap);

#endif
