/* SPDX-License-Identifier: MIT */
/*
 * Types shared by bpf/sockets.bpf.c and the agent: TCP state changes and retransmits of the
 * targets' sockets. A socket is a target's when one of the target's threads made it
 * (connect, listen: those transitions run only in the calling process), when it was accepted
 * on one of the target's listening ports, or when the agent found it among the target's fds
 * (by socket cookie). Softirq context, where most transitions happen, has no useful "current
 * process": each followed socket carries its process, and so does each listening port.
 */
#ifndef UVSCOPE_SOCKETS_H_SHARED
#define UVSCOPE_SOCKETS_H_SHARED

#include "hist.h"

/* For all the targets of one agent together. */
#define UVS_SOCK_MAX 65536     /* sockets followed at once */
#define UVS_SOCK_MAX_PORTS 1024 /* listening ports of the targets */
#define UVS_SOCK_MAX_PEERS 4096 /* (target, remote endpoint) pairs with retransmits */

/*
 * A listening port of the target. The same port number is free in every network namespace (a
 * Kubernetes node runs many servers on 8080), so the port alone would take in connections
 * accepted by servers in other pods: the key is the namespace's inode number and the port.
 */
/*
 * The value of a listening port several processes listen on (SO_REUSEPORT, or one socket in
 * several processes): no tgid, so a connection to it is followed only once it is among one
 * target's fds.
 */
#define UVS_SOCK_PORT_SHARED 0

struct uvs_listen_key {
	__u32 netns;  /* inode number of the network namespace (/proc/PID/ns/net) */
	__u16 port;   /* host order */
	__u16 pad;
};

/* What we know of one of the targets' sockets, keyed by its socket cookie. */
struct uvs_sock_info {
	__u64 state_ns;    /* when it entered its current state */
	__u64 syn_sent_ns; /* when connect() sent the SYN, 0 otherwise */
	__u16 state;
	__u16 flags;       /* UVS_SOCK_GUESSED, UVS_SOCK_PENDING_* */
	__u32 tgid;        /* the target whose socket it is; 0 on a shared port, not yet known */
};

/*
 * Its owner was taken from the listening port it came in on (or is unknown: a shared port): a
 * guess the fds overrule. Node's cluster primary accepts every connection and hands it to a
 * worker; on a port several processes listen on, whoever accepts it has it. While the owner is
 * a guess, what would be counted for it waits in the entry (PENDING_*), for the process whose
 * fds hold the connection (the agent's next read of them), or for the guess if it closes first.
 */
#define UVS_SOCK_GUESSED 1
#define UVS_SOCK_PENDING_CLOSE_WAIT 2 /* it entered CLOSE_WAIT */
#define UVS_SOCK_PENDING_ACCEPTED 4   /* accepted on a shared port: no one counted it yet */
_Static_assert(sizeof(struct uvs_sock_info) == 24, "uvs_sock_info layout");

/* A target's counters (at its slot, updated atomically). */
struct uvs_sock_stats {
	__u64 connects;          /* SYN_SENT -> ESTABLISHED */
	__u64 connect_failed;    /* SYN_SENT -> CLOSE */
	__u64 connect_refused;   /* ... with sk_err ECONNREFUSED */
	__u64 connect_timed_out; /* ... with sk_err ETIMEDOUT */
	__u64 accepted;          /* SYN_RECV -> ESTABLISHED on a listening port of the target */
	__u64 close_wait_entered;
	__u64 close_wait_left;
	__u64 time_wait_entered; /* the target's connections closed first by the target */
	__u64 retransmits;
	__u64 lost;              /* sockets not followed: the map was full */
	__u64 connect_total_ns;  /* the sum of the connect histogram's values */
	struct uvs_hist connect;    /* SYN_SENT -> ESTABLISHED */
	struct uvs_hist close_wait; /* time in CLOSE_WAIT, for sockets that left it */
};

/* A remote endpoint (retransmits are counted per peer). */
struct uvs_sock_peer {
	__u8 family; /* AF_INET 2, AF_INET6 10 */
	__u8 pad;
	__u16 port;  /* host order */
	__u8 addr[16];
};

/* Retransmits are counted per target and peer: two targets may talk to one peer. */
struct uvs_sock_peer_key {
	__u32 tgid;
	struct uvs_sock_peer peer;
};
_Static_assert(sizeof(struct uvs_sock_peer_key) == 24, "uvs_sock_peer_key layout");

#endif /* UVSCOPE_SOCKETS_H_SHARED */
