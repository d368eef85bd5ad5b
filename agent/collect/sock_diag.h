/* SPDX-License-Identifier: MIT */
/*
 * NETLINK_SOCK_DIAG: the kernel's socket tables (what `ss` reads), TCP and UDP over IPv4 and
 * IPv6 with tcp_info and memory counters, and Unix sockets by inode. The replies come from
 * the kernel but are parsed as untrusted input: every length is checked.
 */
#ifndef UVSCOPE_SOCK_DIAG_H
#define UVSCOPE_SOCK_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/socket_list.h"

/* Called per socket: return 0 to go on, or a negative value to stop the dump with it. */
typedef int (*uvs_sock_fn)(const struct uvs_sock *s, void *ctx);

/* A netlink socket for the diag queries, in the current network namespace. -errno on error. */
int uvs_sock_diag_open(void);

/*
 * The same, in the network namespace of pid (/proc/PID/ns/net), so a target in a container is
 * seen as it sees itself. Needs CAP_SYS_ADMIN at the time of the call; the socket keeps
 * working after privileges are dropped.
 */
int uvs_sock_diag_open_for(int pid);

/*
 * Which sockets a dump asks the kernel for: those whose local port is one of `local` or whose
 * remote port is one of `remote`. The kernel applies it (inet_diag bytecode) before it builds
 * a message for a socket, so a host with 100k connections costs the agent only the matches.
 */
#define UVS_DIAG_MAX_PORTS 64

struct uvs_diag_filter {
	size_t nlocal, nremote;
	uint16_t local[UVS_DIAG_MAX_PORTS];  /* host byte order */
	uint16_t remote[UVS_DIAG_MAX_PORTS];
};

/* Whether port is one of ports[0..n). */
bool uvs_diag_has_port(const uint16_t *ports, size_t n, uint16_t port);

/* Adds port to a list of at most UVS_DIAG_MAX_PORTS (once); false when the list is full. */
bool uvs_diag_add_port(uint16_t *ports, size_t *n, uint16_t port);

/* Whether the kernel lets s through a dump with filter f (NULL: every socket passes). */
bool uvs_diag_filter_passes(const struct uvs_diag_filter *f, const struct uvs_sock *s);

/*
 * The inet_diag bytecode of a filter (an OR of port equalities, as `ss` compiles one) into buf.
 * Returns its length in bytes, 0 for an empty filter, or -ENOSPC.
 */
int uvs_sock_diag_bytecode(const struct uvs_diag_filter *f, void *buf, size_t cap);

/*
 * Dumps the sockets of one family (AF_INET, AF_INET6) and protocol (IPPROTO_TCP, IPPROTO_UDP)
 * that pass the filter (NULL: all), or of AF_UNIX (protocol 0, no filter), calling fn for each.
 * Returns 0, fn's negative value, or -errno.
 */
int uvs_sock_diag_dump(int nl, int family, int protocol, const struct uvs_diag_filter *filter,
		       uvs_sock_fn fn, void *ctx);

/*
 * Where a socket table's dumps come from (collect/socket_table.c): uvs_sock_diag_dump on a diag
 * socket (src points to its fd), or the census a namespace's targets share
 * (collect/sock_census.h). The same contract as uvs_sock_diag_dump.
 */
typedef int (*uvs_sock_dump_fn)(void *src, int family, int protocol,
				const struct uvs_diag_filter *filter, uvs_sock_fn fn, void *ctx);

/* uvs_sock_diag_dump as a uvs_sock_dump_fn: src points to the diag socket's fd. */
int uvs_sock_diag_dump_on(void *src, int family, int protocol,
			  const struct uvs_diag_filter *filter, uvs_sock_fn fn, void *ctx);

/*
 * Parses one reply buffer (a run of netlink messages) of a dump. Returns 1 while more
 * messages are to come, 0 at NLMSG_DONE, fn's non-zero value, or -errno (NLMSG_ERROR, or
 * -EPROTO for a malformed message). Exposed for the unit tests.
 */
int uvs_sock_diag_parse(const void *buf, size_t len, int family, int protocol, uvs_sock_fn fn,
			void *ctx);

/* "ESTABLISHED", "CLOSE_WAIT", ... as ss prints them; "UNKNOWN" out of range. */
const char *uvs_tcp_state_name(unsigned int state);

#endif
