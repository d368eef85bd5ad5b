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

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
enum uvs_tcp_state {
	UVS_TCP_ESTABLISHED = 1,
	UVS_TCP_SYN_SENT,
	UVS_TCP_SYN_RECV,
	UVS_TCP_FIN_WAIT1,
	UVS_TCP_FIN_WAIT2,
	UVS_TCP_TIME_WAIT,
	UVS_TCP_CLOSE,
	UVS_TCP_CLOSE_WAIT,
	UVS_TCP_LAST_ACK,
	UVS_TCP_LISTEN,
	UVS_TCP_CLOSING,
	UVS_TCP_NEW_SYN_RECV,
	UVS_TCP_STATES, /* one past the last */
};

/* One socket from the kernel's tables. */
struct uvs_sock {
	uint8_t family;          /* AF_INET, AF_INET6, AF_UNIX */
	uint8_t protocol;        /* IPPROTO_TCP, IPPROTO_UDP; 0 for Unix */
	uint8_t state;           /* enum uvs_tcp_state (UDP: 7 unconnected, 1 connected) */
	uint8_t local[16];       /* network byte order; IPv4 in the first 4 bytes */
	uint8_t remote[16];
	uint16_t local_port;     /* host byte order */
	uint16_t remote_port;
	uint32_t rqueue;         /* Recv-Q; for a listener, the accept queue length */
	uint32_t wqueue;         /* Send-Q; for a listener, the accept queue limit */
	uint32_t inode;
	uint64_t cookie;          /* the kernel's socket cookie (bpf_get_socket_cookie) */
	bool has_info;           /* tcp_info below is valid */
	uint32_t rtt_us;
	uint32_t retrans;        /* tcpi_total_retrans */
	uint32_t last_recv_ms;   /* since data was last received */
	uint32_t last_send_ms;
	bool has_drops;
	uint32_t drops;          /* SK_MEMINFO_DROPS (UDP: datagrams dropped) */
};

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
 * Dumps every socket of one family (AF_INET, AF_INET6) and protocol (IPPROTO_TCP,
 * IPPROTO_UDP), or of AF_UNIX (protocol 0), calling fn for each. Returns 0, fn's negative
 * value, or -errno.
 */
int uvs_sock_diag_dump(int nl, int family, int protocol, uvs_sock_fn fn, void *ctx);

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
