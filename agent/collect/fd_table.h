/* SPDX-License-Identifier: MIT */
/*
 * One read of /proc/PID/fd per window, shared by every stream that needs it: fds by type (the
 * fd figures), the socket inodes with their protocol (the socket table), and whether an
 * io_uring fd is open (the pool). A socket's protocol comes from its sockfs name (the
 * "system.sockprotoname" attribute: "TCP", "UDPv6", "UNIX", ...), read once per socket and kept
 * while the socket lives, so the socket table only dumps the kernel tables it needs.
 */
#ifndef UVSCOPE_FD_TABLE_H
#define UVSCOPE_FD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uvscope/fd.h"

enum uvs_sock_proto {
	UVS_PROTO_UNKNOWN = 0, /* the kernel did not say: look in every table */
	UVS_PROTO_TCP,
	UVS_PROTO_TCP6,
	UVS_PROTO_UDP,
	UVS_PROTO_UDP6,
	UVS_PROTO_UNIX,
	UVS_PROTO_OTHER,       /* netlink, packet, raw, ...: in no table we read */
};

struct uvs_fd_socket {
	uint32_t inode;
	uint8_t proto; /* enum uvs_sock_proto */
};

struct uvs_fd_table {
	bool available;                /* the last read succeeded */
	uint64_t open;
	uint64_t by_type[UVS_FD_TYPES];
	bool io_uring;                 /* an io_uring instance is among the fds */
	size_t nsockets;               /* socket fds, sorted by inode, one entry per inode */
	struct uvs_fd_socket *sockets;
	size_t cap;
	struct uvs_fd_socket *old;     /* the previous read's, for protocols already known */
	size_t nold, oldcap;
	uint64_t proto_reads;          /* sockprotoname reads made (a socket costs one, once) */
	/* Called every UVS_FD_TABLE_KEEP_UP entries of a long read, and of the socket dumps. */
	void (*keep_up)(void *ctx);
	void *keep_up_ctx;
};

#define UVS_FD_TABLE_KEEP_UP 1024

/* Reads /proc/PID/fd into t (replacing what it held). Returns 0 or -errno. */
int uvs_fd_table_read(pid_t pid, struct uvs_fd_table *t);

void uvs_fd_table_free(struct uvs_fd_table *t);

/* The protocol of a sockfs name ("TCP", "TCPv6", "UDP", "UDPv6", "UNIX", "UNIX-STREAM", ...). */
enum uvs_sock_proto uvs_sock_proto_from_name(const char *name);

/* The socket entry of an inode, or NULL. */
const struct uvs_fd_socket *uvs_fd_table_socket(const struct uvs_fd_table *t, uint32_t inode);

#endif
