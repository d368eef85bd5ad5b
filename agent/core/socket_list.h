/* SPDX-License-Identifier: MIT */
/*
 * The target's sockets as the outputs show them: one row per TCP or UDP socket (what `uvscope
 * sockets` prints), with the TCP states as the kernel numbers them. Collection fills these
 * (collect/socket_table.c); render/ reads them.
 */
#ifndef UVSCOPE_SOCKET_LIST_H
#define UVSCOPE_SOCKET_LIST_H

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
	uint64_t cookie;         /* the kernel's socket cookie (bpf_get_socket_cookie) */
	bool has_info;           /* tcp_info below is valid */
	uint32_t rtt_us;
	uint32_t retrans;        /* tcpi_total_retrans */
	uint32_t last_recv_ms;   /* since data was last received */
	uint32_t last_send_ms;
	bool has_drops;
	uint32_t drops;          /* SK_MEMINFO_DROPS (UDP: datagrams dropped) */
};

/* Other processes' TCP listeners seen on the target's ports, at most this many ports. */
#define UVS_FOREIGN_LISTEN_MAX 32

struct uvs_socket_table {
	struct uvs_sock *rows;  /* TCP and UDP sockets of the target, IPv4 and IPv6 */
	size_t n, cap;
	uint64_t unix_count;    /* Unix sockets of the target */
	uint64_t other_count;   /* socket fds in no table we read (netlink, packet, ...) */
	/*
	 * Other processes' TCP listeners on the target's ports, from the same dumps (SO_REUSEPORT
	 * lets several bind one): a connection to such a port is whoever accepts it, not the
	 * port's (collect/sock_trace.c).
	 */
	struct uvs_foreign_listener {
		uint8_t family;
		uint8_t addr[16];
		uint16_t port;
	} foreign_listen[UVS_FOREIGN_LISTEN_MAX];
	size_t nforeign_listen;
	bool foreign_listen_overflow;
};

/*
 * Whether another process listens where listener (one of the target's) does: the same port,
 * and the same address or either one unspecified (0.0.0.0, [::]); yes when too many others
 * were seen to tell.
 */
bool uvs_socket_table_listener_shared(const struct uvs_socket_table *t,
				      const struct uvs_sock *listener);

/* "ESTABLISHED", "CLOSE_WAIT", ... as ss prints them; "UNKNOWN" out of range. */
const char *uvs_tcp_state_name(unsigned int state);

/* Whether addr is its family's unspecified address: 0.0.0.0, or [::] for AF_INET6. */
bool uvs_addr_unspecified(int family, const uint8_t addr[16]);

/* As ss prints them: "127.0.0.1:3000", "[::1]:443", "0.0.0.0:*", "[::]:80". */
void uvs_format_endpoint(int family, const uint8_t addr[16], uint16_t port, char *buf, size_t cap);

/*
 * JSON's form, unchanged within schema 1: "*" for the unspecified address of either family
 * ("*:*", "*:80"; the line's "family" tells them apart), else as above.
 */
void uvs_format_endpoint_json(int family, const uint8_t addr[16], uint16_t port, char *buf,
			      size_t cap);

#endif
