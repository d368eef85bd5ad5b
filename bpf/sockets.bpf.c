// SPDX-License-Identifier: GPL-2.0
/*
 * TCP state changes (sock:inet_sock_set_state) and retransmits (tcp:tcp_retransmit_skb) of
 * the sockets of the agent's targets (bpf/targets.bpf.h), which include/uvscope/sockets.h
 * explains how we recognise; loaded once for every target. Each followed socket says its
 * process; the figures are kept at that process's slot. Every other socket on the machine
 * costs a cookie lookup (and connect / listen in another process the target index's load and compare).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "targets.bpf.h"
#include "uvscope/sockets.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ETIMEDOUT 110
#define ECONNREFUSED 111

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT2 5
#define TCP_CLOSING 11
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LISTEN 10

/* The targets' sockets by cookie: LRU, so a socket we never see closing ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UVS_SOCK_MAX);
	__type(key, __u64);
	__type(value, struct uvs_sock_info);
} socks SEC(".maps");

/*
 * The targets' listening ports by network namespace, each with the process that listens (a
 * tgid), or UVS_SOCK_PORT_SHARED where more than one process does; the agent adds the ones it
 * finds.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UVS_SOCK_MAX_PORTS);
	__type(key, struct uvs_listen_key);
	__type(value, __u32);
} listen_ports SEC(".maps");

/*
 * By slot. Not preallocated (two histograms a target): the agent puts a target's zeroed
 * counters in at attach and takes them out at detach.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UVS_MAX_TARGETS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct uvs_sock_stats);
} sock_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UVS_SOCK_MAX_PEERS);
	__type(key, struct uvs_sock_peer_key);
	__type(value, __u64);
} retrans_peers SEC(".maps");

static __always_inline struct uvs_sock_stats *stats(const struct uvs_target_cfg *t)
{
	__u32 slot = uvs_slot(t);

	return bpf_map_lookup_elem(&sock_stats, &slot);
}

/*
 * The target that just made this socket, or 0: connect() (CLOSE -> SYN_SENT) and listen()
 * (CLOSE -> LISTEN) run only in the calling process. Any other transition may run in a softirq
 * that happens to interrupt one of the targets' threads, for anyone's socket: `current` says
 * nothing there, so it is not asked.
 */
static __always_inline __u32 made_by_target(int oldstate, int newstate)
{
	if (oldstate != TCP_CLOSE || (newstate != TCP_SYN_SENT && newstate != TCP_LISTEN))
		return 0;
	return uvs_current_target() ? (__u32)(bpf_get_current_pid_tgid() >> 32) : 0;
}

/* The socket's local port in its own network namespace. */
static __always_inline struct uvs_listen_key listen_key(const struct sock *sk)
{
	struct uvs_listen_key k = {
		.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum),
		.port = BPF_CORE_READ(sk, __sk_common.skc_num),
	};

	return k;
}

/* The targets' entry for the socket's port (in its namespace): a tgid, or a shared port; NULL. */
static __always_inline __u32 *listener_of(const struct sock *sk)
{
	struct uvs_listen_key k = listen_key(sk);

	return bpf_map_lookup_elem(&listen_ports, &k);
}

/* The socket's entry, created when the socket turns out to be a target's. */
static __always_inline struct uvs_sock_info *follow(struct sock *sk, __u64 cookie, int oldstate,
						    int newstate, __u64 now)
{
	struct uvs_sock_info *info = bpf_map_lookup_elem(&socks, &cookie), fresh = {};
	const struct uvs_target_cfg *t;
	struct uvs_sock_stats *s;
	__u32 owner, *listener;

	if (info)
		return info;
	owner = made_by_target(oldstate, newstate);
	if (!owner && oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		/* Accepted on a targets' port: the port's target, a guess, or none yet (shared). */
		listener = listener_of(sk);
		if (!listener)
			return NULL;
		owner = *listener;
		fresh.flags = UVS_SOCK_GUESSED;
	} else if (!owner) {
		return NULL;
	}
	fresh.state = oldstate;
	fresh.state_ns = now;
	fresh.tgid = owner;
	if (bpf_map_update_elem(&socks, &cookie, &fresh, BPF_NOEXIST)) {
		t = uvs_target_of(owner);
		s = t ? stats(t) : NULL;
		if (s)
			__sync_fetch_and_add(&s->lost, 1);
	}
	return bpf_map_lookup_elem(&socks, &cookie);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(uvs_sock_state, struct sock *sk, int oldstate, int newstate)
{
	const struct uvs_target_cfg *t;
	struct uvs_sock_stats *s = NULL;
	struct uvs_sock_info *info;
	struct uvs_listen_key port;
	__u64 cookie, now;
	__u32 *listener;
	int err;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	now = bpf_ktime_get_ns();
	info = follow(sk, cookie, oldstate, newstate, now);
	if (!info)
		return 0;
	/*
	 * Its process is not watched (not yet published, or gone): nothing is counted, and an
	 * entry left by a target that went away goes when its socket closes. One on a shared port
	 * keeps what happens to it for whichever target turns out to hold it.
	 */
	t = uvs_target_of(info->tgid);
	if (t)
		s = stats(t);
	if (!s) {
		if (newstate == TCP_CLOSE) {
			bpf_map_delete_elem(&socks, &cookie);
			return 0;
		}
		if (info->tgid != UVS_SOCK_PORT_SHARED || !(info->flags & UVS_SOCK_GUESSED))
			return 0;
		if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV)
			info->flags |= UVS_SOCK_PENDING_ACCEPTED;
		else if (newstate == TCP_CLOSE_WAIT)
			info->flags |= UVS_SOCK_PENDING_CLOSE_WAIT;
		info->state = newstate;
		info->state_ns = now;
		return 0;
	}
	switch (newstate) {
	case TCP_SYN_SENT:
		info->syn_sent_ns = now;
		break;
	case TCP_LISTEN:
		/*
		 * A port another process listens on too (SO_REUSEPORT) is no one's: whoever accepts
		 * a connection on it has it, which only its fds tell (the agent learns them).
		 */
		port = listen_key(sk);
		listener = bpf_map_lookup_elem(&listen_ports, &port);
		if (!listener)
			bpf_map_update_elem(&listen_ports, &port, &info->tgid, BPF_NOEXIST);
		else if (*listener != info->tgid)
			*listener = UVS_SOCK_PORT_SHARED;
		break;
	case TCP_ESTABLISHED:
		if (oldstate == TCP_SYN_SENT && info->syn_sent_ns && now > info->syn_sent_ns) {
			__sync_fetch_and_add(&s->connects, 1);
			uvs_hist_record_atomic(&s->connect, now - info->syn_sent_ns);
			__sync_fetch_and_add(&s->connect_total_ns, now - info->syn_sent_ns);
		} else if (oldstate == TCP_SYN_RECV) {
			__sync_fetch_and_add(&s->accepted, 1);
		}
		break;
	case TCP_CLOSE_WAIT:
		/* For the process whose fds hold it, which may not be the port's. */
		if (info->flags & UVS_SOCK_GUESSED)
			info->flags |= UVS_SOCK_PENDING_CLOSE_WAIT;
		else
			__sync_fetch_and_add(&s->close_wait_entered, 1);
		break;

	case TCP_CLOSE:
		/* Gone before any target's fds were read: the guess keeps it. */
		if (info->flags & UVS_SOCK_PENDING_CLOSE_WAIT)
			__sync_fetch_and_add(&s->close_wait_entered, 1);
		if (oldstate == TCP_SYN_SENT) {
			/* tcp_reset() and the SYN timer set sk_err before tcp_done() closes it. */
			err = BPF_CORE_READ(sk, sk_err);
			__sync_fetch_and_add(&s->connect_failed, 1);
			if (err == ECONNREFUSED)
				__sync_fetch_and_add(&s->connect_refused, 1);
			else if (err == ETIMEDOUT)
				__sync_fetch_and_add(&s->connect_timed_out, 1);
		}
		/*
		 * The kernel hands a connection that closed first on our side to a timewait sock
		 * and closes the full socket, from FIN_WAIT2 or CLOSING: no transition to TIME_WAIT
		 * is ever traced for it, this is where it goes there.
		 */
		if (oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING)
			__sync_fetch_and_add(&s->time_wait_entered, 1);
		/* Only its own: another target may listen on the port too (SO_REUSEPORT). */
		if (oldstate == TCP_LISTEN) {
			port = listen_key(sk);
			listener = bpf_map_lookup_elem(&listen_ports, &port);
			if (listener && *listener == info->tgid)
				bpf_map_delete_elem(&listen_ports, &port);
		}
		break;
	}
	if (oldstate == TCP_CLOSE_WAIT && now > info->state_ns) {
		__sync_fetch_and_add(&s->close_wait_left, 1);
		uvs_hist_record_atomic(&s->close_wait, now - info->state_ns);
	}
	if (newstate == TCP_CLOSE) {
		bpf_map_delete_elem(&socks, &cookie);
		return 0;
	}
	info->state = newstate;
	info->state_ns = now;
	return 0;
}

static __always_inline void retransmitted(struct sock *sk, struct sk_buff *skb)
{
	struct tcp_skb_cb *tcb = (struct tcp_skb_cb *)skb->cb;
	struct uvs_sock_peer_key peer = {};
	__u64 cookie = bpf_get_socket_cookie(sk), segs, *n;
	const struct uvs_target_cfg *t;
	struct uvs_sock_info *info;
	struct uvs_sock_stats *s;

	info = bpf_map_lookup_elem(&socks, &cookie);
	if (!info || !(t = uvs_target_of(info->tgid)) || !(s = stats(t)))
		return;
	/*
	 * One skb may carry several segments (TSO/GSO): count segments, as the kernel's own
	 * counters (tcpi_total_retrans, RetransSegs) do.
	 */
	segs = BPF_CORE_READ(tcb, tcp_gso_segs);
	if (!segs)
		segs = 1;
	__sync_fetch_and_add(&s->retransmits, segs);
	peer.tgid = info->tgid;
	peer.peer.family = (__u8)BPF_CORE_READ(sk, __sk_common.skc_family);
	peer.peer.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (peer.peer.family == AF_INET6)
		BPF_CORE_READ_INTO(&peer.peer.addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	else
		BPF_CORE_READ_INTO(&peer.peer.addr, sk, __sk_common.skc_daddr);
	n = bpf_map_lookup_elem(&retrans_peers, &peer);
	if (n)
		__sync_fetch_and_add(n, segs);
	else
		bpf_map_update_elem(&retrans_peers, &peer, &segs, BPF_NOEXIST);
}

/*
 * Kernels 6.x pass the transmit's error too: a retransmit the device refused is tried again
 * and is not counted by the kernel (tcpi_total_retrans), so it is not counted here either.
 * The agent loads whichever of the two programs matches the kernel's tracepoint.
 */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(uvs_sock_retransmit_err, struct sock *sk, struct sk_buff *skb, int err)
{
	if (!err)
		retransmitted(sk, skb);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(uvs_sock_retransmit, struct sock *sk, struct sk_buff *skb)
{
	retransmitted(sk, skb);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
