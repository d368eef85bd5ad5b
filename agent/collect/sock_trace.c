// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "collect/held_object.h"
#include "collect/sock_trace.h"
#include "util/hist_math.h"
#include "sockets.skel.h"

/* Whether the kernel's tcp_retransmit_skb tracepoint passes an error (sk, skb, err). */
static bool retransmit_has_err(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	const struct btf_type *tp;
	bool has = false;
	int id;

	if (!vmlinux)
		return false;
	id = btf__find_by_name_kind(vmlinux, "btf_trace_tcp_retransmit_skb", BTF_KIND_TYPEDEF);
	tp = id > 0 ? btf__type_by_id(vmlinux, id) : NULL;
	if (tp)
		tp = btf__type_by_id(vmlinux, tp->type); /* the pointer */
	if (tp && btf_is_ptr(tp))
		tp = btf__type_by_id(vmlinux, tp->type); /* the function prototype */
	/* (void *ctx, sk, skb, err) */
	has = tp && btf_is_func_proto(tp) && btf_vlen(tp) >= 4;
	btf__free(vmlinux);
	return has;
}

/* The inode number of pid's network namespace (what the kernel calls its inum), 0 if unknown. */
static uint32_t netns_of(int pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) == 0 && st.st_ino <= UINT32_MAX ? (uint32_t)st.st_ino : 0;
}

static void destroy_skel(void *skel)
{
	sockets_bpf__destroy(skel);
}

/*
 * The object every target shares, loaded by the first target. Its tracepoints run for every
 * TCP socket on the host: held by the targets (held_object.h).
 */
static struct uvs_held_object *load_host(struct uvs_sock_trace *t, int *err)
{
	struct sockets_bpf *skel = sockets_bpf__open();
	bool opened = skel != NULL; /* skel is gone after a failed load */
	struct uvs_held_object *h;

	if (skel && retransmit_has_err())
		bpf_program__set_autoload(skel->progs.uvs_sock_retransmit, false);
	else if (skel)
		bpf_program__set_autoload(skel->progs.uvs_sock_retransmit_err, false);
	h = uvs_held_object_load(t->sh, UVS_OBJ_SOCKETS, skel, skel ? skel->skeleton : NULL,
				 destroy_skel, err);
	if (!h)
		snprintf(t->why, sizeof(t->why), "%s: %s",
			 opened ? "cannot attach the TCP tracepoints (inet_sock_set_state, "
				"tcp_retransmit_skb)" : "cannot open the socket programs",
			 strerror(-*err));
	return h;
}

static struct sockets_bpf *skel_of(const struct uvs_sock_trace *t)
{
	return t->host->skel;
}

int uvs_sock_trace_attach(struct uvs_sock_trace *t, struct uvs_bpf_shared *sh, int slot,
			  const struct uvs_target *target)
{
	static const struct uvs_sock_stats zero;
	__u32 key = (__u32)slot;
	int err = 0;

	memset(t, 0, sizeof(*t));
	t->sh = sh;
	t->slot = slot;
	t->tgid = (__u32)target->pid;
	t->netns = netns_of((int)target->pid);
	t->prev = calloc(1, sizeof(*t->prev));
	t->now = calloc(1, sizeof(*t->now));
	t->peers = calloc(UVS_PEERS_SEEN, sizeof(*t->peers));
	if (!t->prev || !t->now || !t->peers) {
		snprintf(t->why, sizeof(t->why), "out of memory");
		return -ENOMEM;
	}
	t->host = uvs_bpf_shared_object(sh, UVS_OBJ_SOCKETS);
	if (!t->host)
		t->host = load_host(t, &err);
	if (!t->host)
		return err;
	/* From zero: the slot may have served another process. */
	if (bpf_map_update_elem(bpf_map__fd(skel_of(t)->maps.sock_stats), &key, &zero, BPF_ANY)) {
		err = -errno;
		snprintf(t->why, sizeof(t->why), "cannot set up the TCP counters: %s",
			 strerror(-err));
		return err;
	}
	t->has_stats = true;
	err = uvs_held_object_hold(t->host);
	if (err) {
		snprintf(t->why, sizeof(t->why),
			 "cannot attach the TCP tracepoints (inet_sock_set_state, "
			 "tcp_retransmit_skb): %s", strerror(-err));
		return err;
	}
	t->holds_links = true;
	uvs_bpf_shared_set_inst(sh, slot, UVS_OBJ_SOCKETS, t);
	t->attached = true;
	return 0;
}

void uvs_sock_trace_quiesce(struct uvs_sock_trace *t)
{
	if (t->holds_links)
		uvs_held_object_let_go(t->host);
	t->holds_links = false;
}

/* Whether an entry of a shared map is the target's (each map says its tgid somewhere). */
typedef bool (*uvs_entry_of)(const void *key, const void *value, __u32 tgid);

static bool listen_port_of(const void *key, const void *value, __u32 tgid)
{
	(void)key;
	return *(const __u32 *)value == tgid;
}

static bool sock_of(const void *key, const void *value, __u32 tgid)
{
	(void)key;
	return ((const struct uvs_sock_info *)value)->tgid == tgid;
}

static bool peer_of(const void *key, const void *value, __u32 tgid)
{
	(void)value;
	return ((const struct uvs_sock_peer_key *)key)->tgid == tgid;
}

/*
 * Deletes the target's entries of a shared map, so that nothing of it stays for a later
 * process with the same pid. Deleted after the walk (deleting under bpf_map_get_next_key
 * restarts it); the walk is bounded, since the programs change the map meanwhile.
 */
static void sweep(const struct bpf_map *m, uvs_entry_of mine, __u32 tgid)
{
	int fd = bpf_map__fd(m);
	size_t ksz = bpf_map__key_size(m), max = bpf_map__max_entries(m), n = 0, i, steps;
	unsigned char key[32], next[32], value[32], *dead;

	if (ksz > sizeof(key) || bpf_map__value_size(m) > sizeof(value))
		return;
	dead = malloc(max * ksz);
	if (!dead)
		return;
	for (steps = 0; steps < 2 * max && bpf_map_get_next_key(fd, steps ? key : NULL, next) == 0;
	     steps++) {
		memcpy(key, next, ksz);
		if (n < max && bpf_map_lookup_elem(fd, key, value) == 0 && mine(key, value, tgid))
			memcpy(dead + n++ * ksz, key, ksz);
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, dead + i * ksz);
	free(dead);
}

void uvs_sock_trace_detach(struct uvs_sock_trace *t)
{
	__u32 key = (__u32)t->slot;

	uvs_sock_trace_quiesce(t);
	if (t->host && t->has_stats) {
		bpf_map_delete_elem(bpf_map__fd(skel_of(t)->maps.sock_stats), &key);
		sweep(skel_of(t)->maps.listen_ports, listen_port_of, t->tgid);
		sweep(skel_of(t)->maps.retrans_peers, peer_of, t->tgid);
		sweep(skel_of(t)->maps.socks, sock_of, t->tgid);
	}
	if (t->attached)
		uvs_bpf_shared_set_inst(t->sh, t->slot, UVS_OBJ_SOCKETS, NULL);
	t->host = NULL;
	t->has_stats = false;
	free(t->prev);
	free(t->now);
	free(t->peers);
	free(t->known);
	free(t->recheck);
	t->recheck = NULL;
	t->nrecheck = 0;
	t->prev = t->now = NULL;
	t->peers = NULL;
	t->known = NULL;
	t->nknown = 0;
	t->attached = false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Tells the BPF side a listening port of the target, and whether it is the target's alone: not
 * when another process listens on it too (from the dumps), or another target holds it in the
 * map (an entry made by the BPF side at listen(), or by that target's learn). A shared port is
 * no one's (UVS_SOCK_PORT_SHARED): its connections are followed from the fds that hold them.
 */
static void learn_listener(struct uvs_sock_trace *t, int ports, const struct uvs_socket_table *table,
			   const struct uvs_sock *s)
{
	/* The table was read in the target's namespace: its ports are that namespace's. */
	struct uvs_listen_key port = { .netns = t->netns, .port = s->local_port };
	__u32 owner = t->tgid, shared = UVS_SOCK_PORT_SHARED;

	if (!uvs_socket_table_listener_shared(table, s) &&
	    (bpf_map_update_elem(ports, &port, &owner, BPF_NOEXIST) == 0 ||
	     (bpf_map_lookup_elem(ports, &port, &owner) == 0 && owner == t->tgid)))
		return;
	bpf_map_update_elem(ports, &port, &shared, BPF_ANY);
}

/*
 * ... but for its owner when that was guessed from the listening port (bpf/sockets.bpf.c,
 * UVS_SOCK_GUESSED): the process whose fds hold the connection is the one it serves, and what
 * waits in the entry (a CLOSE_WAIT entered, an accept on a shared port) is counted for it.
 * Node's cluster primary accepts every connection and hands it to a worker, which leaks or
 * ends it. The guessed owner's own fds confirm the guess only when they still hold the
 * connection at the next read (recheck): the primary holds one for a moment, a server of its
 * own connections for their life. The whole entry is written back: a state change the BPF
 * side makes between the lookup and the update is lost, one transition at most.
 */
static void settle_owner(struct uvs_sock_trace *t, int socks, uint64_t cookie, bool confirm)
{
	struct uvs_sock_info info;

	if (bpf_map_lookup_elem(socks, &cookie, &info) || !(info.flags & UVS_SOCK_GUESSED) ||
	    (info.tgid == t->tgid) != confirm)
		return;
	if (info.flags & UVS_SOCK_PENDING_CLOSE_WAIT)
		t->close_wait_learned++;
	if (info.flags & UVS_SOCK_PENDING_ACCEPTED)
		t->accepted_learned++;
	info.tgid = t->tgid;
	info.flags = 0;
	bpf_map_update_elem(socks, &cookie, &info, BPF_EXIST);
}

/* Whether the entry is guessed to be this target's: confirmed at the next read if still held. */
static bool guessed_mine(const struct uvs_sock_trace *t, int socks, uint64_t cookie)
{
	struct uvs_sock_info info;

	return !bpf_map_lookup_elem(socks, &cookie, &info) && (info.flags & UVS_SOCK_GUESSED) &&
	       info.tgid == t->tgid;
}

void uvs_sock_trace_learn(struct uvs_sock_trace *t, const struct uvs_socket_table *table)
{
	size_t i, n = 0, nrecheck = 0;
	uint64_t *now, *recheck;
	int socks, ports;

	if (!t->attached)
		return;
	socks = bpf_map__fd(skel_of(t)->maps.socks);
	ports = bpf_map__fd(skel_of(t)->maps.listen_ports);
	for (i = 0; i < table->n; i++) {
		const struct uvs_sock *s = &table->rows[i];

		if (s->protocol == IPPROTO_TCP && s->state == UVS_TCP_LISTEN)
			learn_listener(t, ports, table, s);
	}
	now = malloc((table->n ? table->n : 1) * sizeof(*now));
	recheck = malloc((table->n ? table->n : 1) * sizeof(*recheck));
	for (i = 0; i < table->n; i++) {
		const struct uvs_sock *s = &table->rows[i];
		/* Its time in the current state counts from now: we did not see it start. */
		struct uvs_sock_info info = { .state = s->state, .tgid = t->tgid };

		if (s->protocol != IPPROTO_TCP || !s->cookie)
			continue;
		if (now)
			now[n++] = s->cookie;
		/* Cookies are never reused: one told last time needs no second word. */
		if (t->known && bsearch(&s->cookie, t->known, t->nknown, sizeof(*t->known), cmp_u64))
			continue;
		if (s->state == UVS_TCP_LISTEN)
			continue;
		/* BPF_NOEXIST: never overwrite what the BPF side knows better... */
		if (bpf_map_update_elem(socks, &s->cookie, &info, BPF_NOEXIST) == 0)
			continue;
		settle_owner(t, socks, s->cookie, false);
		if (recheck && guessed_mine(t, socks, s->cookie))
			recheck[nrecheck++] = s->cookie;
	}
	if (now)
		qsort(now, n, sizeof(*now), cmp_u64);
	/* Guessed mine at the last read and held still: mine (one gone meanwhile closed). */
	for (i = 0; now && i < t->nrecheck; i++)
		if (bsearch(&t->recheck[i], now, n, sizeof(*now), cmp_u64))
			settle_owner(t, socks, t->recheck[i], true);
	free(t->recheck);
	t->recheck = recheck;
	t->nrecheck = recheck ? nrecheck : 0;
	free(t->known);
	t->known = now;
	t->nknown = now ? n : 0;
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct uvs_peer *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* The peers with the most retransmits in the window (or the session), most first. */
static void top_peers(struct uvs_sock_trace *t, struct uvs_sockets_snapshot *out, bool session)
{
	int fd = bpf_map__fd(skel_of(t)->maps.retrans_peers);
	struct uvs_sock_peer_key key, next;
	struct uvs_peer best[UVS_TOP_PEERS + 1];
	size_t nbest = 0, i;
	bool first = true;

	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		struct uvs_peer_seen *seen = NULL;
		uint64_t count, d;

		first = false;
		key = next;
		/* Every target's peers are in the map: this target's only. */
		if (key.tgid != t->tgid || bpf_map_lookup_elem(fd, &key, &count))
			continue;
		for (i = 0; i < t->npeers; i++)
			if (!memcmp(&t->peers[i].peer, &key.peer, sizeof(key.peer)))
				seen = &t->peers[i];
		if (!seen && t->npeers < UVS_PEERS_SEEN) {
			seen = &t->peers[t->npeers++];
			seen->peer = key.peer;
			seen->count = 0;
		}
		d = session || !seen ? count : delta(count, seen->count);
		if (seen && !session)
			seen->count = count;
		if (!d)
			continue;
		best[nbest].family = key.peer.family == 10 ? AF_INET6 : AF_INET;
		memcpy(best[nbest].addr, key.peer.addr, sizeof(key.peer.addr));
		best[nbest].port = key.peer.port;
		best[nbest].count = d;
		nbest++;
		qsort(best, nbest, sizeof(best[0]), by_count_desc);
		if (nbest > UVS_TOP_PEERS)
			nbest = UVS_TOP_PEERS;
	}
	memcpy(out->peers, best, nbest * sizeof(best[0]));
	out->npeers = nbest;
}

void uvs_sock_transitions(const struct uvs_sock_stats *now, const struct uvs_sock_stats *base,
			  struct uvs_sockets_snapshot *out)
{
	struct uvs_hist h;

	out->traced = true;
	out->connects = delta(now->connects, base->connects);
	out->connect_failed = delta(now->connect_failed, base->connect_failed);
	out->connect_refused = delta(now->connect_refused, base->connect_refused);
	out->connect_timed_out = delta(now->connect_timed_out, base->connect_timed_out);
	out->accepted = delta(now->accepted, base->accepted);
	out->close_wait_entered = delta(now->close_wait_entered, base->close_wait_entered);
	out->time_wait_entered = delta(now->time_wait_entered, base->time_wait_entered);
	out->retransmits = delta(now->retransmits, base->retransmits);
	uvs_hist_sub(&h, &now->connect, &base->connect);
	out->connect_p50_ns = uvs_hist_percentile(&h, 0.50);
	out->connect_p99_ns = uvs_hist_percentile(&h, 0.99);
	out->connect_max_ns = uvs_hist_percentile(&h, 1.0);
	uvs_hist_to_pow2(&h, delta(now->connect_total_ns, base->connect_total_ns),
			 &out->connect_hist);
	uvs_hist_sub(&h, &now->close_wait, &base->close_wait);
	out->close_wait_p99_ns = uvs_hist_percentile(&h, 0.99);
}

void uvs_sock_trace_window(struct uvs_sock_trace *t, struct uvs_sockets_snapshot *out,
			   uint64_t *lost)
{
	__u32 key = (__u32)t->slot;

	if (!t->attached ||
	    bpf_map_lookup_elem(bpf_map__fd(skel_of(t)->maps.sock_stats), &key, t->now))
		return;
	uvs_sock_transitions(t->now, t->prev, out);
	/* What the fds settled since the last window (settle_owner). */
	out->accepted += t->accepted_learned - t->accepted_learned_told;
	out->close_wait_entered += t->close_wait_learned - t->close_wait_learned_told;
	t->accepted_learned_told = t->accepted_learned;
	t->close_wait_learned_told = t->close_wait_learned;
	*lost = delta(t->now->lost, t->prev->lost);
	top_peers(t, out, false);
	*t->prev = *t->now;
}

void uvs_sock_trace_totals(struct uvs_sock_trace *t, struct uvs_sockets_snapshot *out,
			   uint64_t *lost)
{
	static const struct uvs_sock_stats zero;

	if (!t->attached)
		return;
	/* As of the last window: the peers walked now are the session's anyway. */
	uvs_sock_transitions(t->prev, &zero, out);
	out->accepted += t->accepted_learned_told;
	out->close_wait_entered += t->close_wait_learned_told;
	*lost = t->prev->lost;
	top_peers(t, out, true);
}
