// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collect/socket_table.h"

/* Bounds what one target can make us allocate: far above any real process. */
#define MAX_SOCKETS (1u << 21)

/* The kernel tables, and the sockfs protocol whose sockets live in each. */
static const struct {
	int family;
	int protocol;
	enum uvs_sock_proto proto;
} tables[] = {
	{ AF_INET, IPPROTO_TCP, UVS_PROTO_TCP },
	{ AF_INET6, IPPROTO_TCP, UVS_PROTO_TCP6 },
	{ AF_INET, IPPROTO_UDP, UVS_PROTO_UDP },
	{ AF_INET6, IPPROTO_UDP, UVS_PROTO_UDP6 },
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

struct collect {
	uvs_sock_dump_fn dump;
	void *src;
	struct uvs_socket_table *t;
	const struct uvs_fd_table *fds;
	uint8_t *seen; /* per socket of fds: found in a table */
	uint64_t rows; /* rows of any process the dumps brought */
};

/* A dump of a busy host's table is long: let the session check for blocks now and then. */
static void keep_up(struct collect *c)
{
	if (c->fds->keep_up && ++c->rows % UVS_FD_TABLE_KEEP_UP == 0)
		c->fds->keep_up(c->fds->keep_up_ctx);
}

static ssize_t find_inode(const struct collect *c, uint32_t ino)
{
	const struct uvs_fd_socket *s = uvs_fd_table_socket(c->fds, ino);

	return s ? s - c->fds->sockets : -1;
}

/* Another process listens on one of the target's ports (the dumps ask for those only). */
static void foreign_listener(struct uvs_socket_table *t, const struct uvs_sock *s)
{
	struct uvs_foreign_listener *f;

	if (s->protocol != IPPROTO_TCP || s->state != UVS_TCP_LISTEN)
		return;
	if (t->nforeign_listen == UVS_FOREIGN_LISTEN_MAX) {
		t->foreign_listen_overflow = true;
		return;
	}
	f = &t->foreign_listen[t->nforeign_listen++];
	f->family = s->family;
	memcpy(f->addr, s->local, sizeof(f->addr));
	f->port = s->local_port;
}

bool uvs_socket_table_listener_shared(const struct uvs_socket_table *t,
				      const struct uvs_sock *listener)
{
	size_t i;

	for (i = 0; i < t->nforeign_listen; i++) {
		const struct uvs_foreign_listener *f = &t->foreign_listen[i];

		if (f->port != listener->local_port)
			continue;
		if (uvs_addr_unspecified(f->family, f->addr) ||
		    uvs_addr_unspecified(listener->family, listener->local) ||
		    (f->family == listener->family &&
		     !memcmp(f->addr, listener->local, f->family == AF_INET6 ? 16 : 4)))
			return true;
	}
	return t->foreign_listen_overflow;
}

static int keep_inet(const struct uvs_sock *s, void *ctx)
{
	struct collect *c = ctx;
	ssize_t i = s->inode ? find_inode(c, s->inode) : -1;
	struct uvs_socket_table *t = c->t;

	keep_up(c);
	if (i < 0 && s->inode)
		foreign_listener(t, s);
	if (i < 0 || c->seen[i])
		return 0; /* another process's socket, or one without an fd (TIME_WAIT) */
	c->seen[i] = 1;
	return uvs_socket_table_add(t, s);
}

static int keep_unix(const struct uvs_sock *s, void *ctx)
{
	struct collect *c = ctx;
	ssize_t i = find_inode(c, s->inode);

	keep_up(c);
	if (i >= 0 && !c->seen[i]) {
		c->seen[i] = 1;
		c->t->unix_count++;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool missed_before(const struct uvs_sock_learning *l, uint32_t ino)
{
	return l && l->nmissed && bsearch(&ino, l->missed, l->nmissed, sizeof(ino), cmp_u32);
}

/* Sockets of a table's protocol (or of unknown protocol) that no dump has found yet. */
static bool wanted(const struct collect *c, size_t table, const struct uvs_sock_learning *l,
		   bool count_missed)
{
	size_t i;

	for (i = 0; i < c->fds->nsockets; i++) {
		const struct uvs_fd_socket *s = &c->fds->sockets[i];

		if (c->seen[i] || (s->proto != tables[table].proto && s->proto != UVS_PROTO_UNKNOWN))
			continue;
		if (count_missed || !missed_before(l, s->inode))
			return true;
	}
	return false;
}

/* After a whole dump: the table's sockets it did not find are unbound or unhashed; remember. */
static void remember_missed(const struct collect *c, size_t table, struct uvs_sock_learning *l)
{
	size_t i, n = 0, n_before, added = 0;
	uint32_t *grown;

	for (i = 0; i < c->fds->nsockets; i++)
		n += !c->seen[i] && c->fds->sockets[i].proto == tables[table].proto;
	if (!n)
		return;
	/* Room for all; those already remembered (a table dumped whole again) are not added. */
	grown = realloc(l->missed, (l->nmissed + n) * sizeof(*grown));
	if (!grown)
		return;
	l->missed = grown;
	n_before = l->nmissed;
	for (i = 0; i < c->fds->nsockets; i++) {
		const struct uvs_fd_socket *s = &c->fds->sockets[i];

		if (!c->seen[i] && s->proto == tables[table].proto &&
		    !bsearch(&s->inode, l->missed, l->nmissed, sizeof(s->inode), cmp_u32))
			grown[n_before + added++] = s->inode;
	}
	l->nmissed = n_before + added;
	qsort(l->missed, l->nmissed, sizeof(*l->missed), cmp_u32);
}

/* Forgets missed inodes that are no longer the target's fds (they are never reused while open). */
static void prune_missed(const struct uvs_fd_table *fds, struct uvs_sock_learning *l)
{
	size_t i, n = 0;

	for (i = 0; i < l->nmissed; i++)
		if (uvs_fd_table_socket(fds, l->missed[i]))
			l->missed[n++] = l->missed[i];
	l->nmissed = n;
}

static int dump_table(size_t table, struct collect *c, struct uvs_sock_learning *l)
{
	bool filtered = l && !l->overflow && l->filter.nlocal + l->filter.nremote > 0;
	int err = 0;

	if (!wanted(c, table, l, true))
		return 0;
	if (filtered) {
		err = c->dump(c->src, tables[table].family, tables[table].protocol, &l->filter,
			      keep_inet, c);
		l->filtered_dumps++;
		if (err)
			return err;
	}
	/*
	 * A whole dump only for one of ours still missing that no whole dump has missed before (a
	 * new port): an unbound or reset socket is in no table, and would cost one every window.
	 */
	if (!wanted(c, table, l, false))
		return 0;
	err = c->dump(c->src, tables[table].family, tables[table].protocol, NULL, keep_inet, c);
	if (l) {
		l->full_dumps++;
		if (!err)
			remember_missed(c, table, l);
	}
	return err;
}

/* Unix and other sockets are counted from their protocol; the Unix table only if unknown. */
static int count_others(struct collect *c)
{
	bool unknown = false;
	size_t i;

	for (i = 0; i < c->fds->nsockets; i++) {
		switch (c->fds->sockets[i].proto) {
		case UVS_PROTO_UNIX:
			c->seen[i] = 1;
			c->t->unix_count++;
			break;
		case UVS_PROTO_UNKNOWN:
			unknown |= !c->seen[i];
			break;
		default:
			break;
		}
	}
	return unknown ? c->dump(c->src, AF_UNIX, 0, NULL, keep_unix, c) : 0;
}

int uvs_socket_table_read_from(uvs_sock_dump_fn dump, void *src, const struct uvs_fd_table *fds,
			       struct uvs_sock_learning *learn, struct uvs_socket_table *t)
{
	struct collect c = { .dump = dump, .src = src, .t = t, .fds = fds };
	size_t i;
	int err = 0;

	t->n = 0;
	t->unix_count = t->other_count = 0;
	t->nforeign_listen = 0;
	t->foreign_listen_overflow = false;
	if (!fds->available)
		return -ENOENT;
	c.seen = calloc(fds->nsockets ? fds->nsockets : 1, 1);
	if (!c.seen)
		return -ENOMEM;
	if (learn)
		prune_missed(fds, learn);
	for (i = 0; i < NTABLES && !err; i++)
		err = dump_table(i, &c, learn);
	if (!err)
		err = count_others(&c);
	for (i = 0; !err && i < fds->nsockets; i++)
		t->other_count += !c.seen[i];
	free(c.seen);
	if (!err && learn)
		uvs_sock_learn_ports(t, learn);
	return err;
}

int uvs_socket_table_add(struct uvs_socket_table *t, const struct uvs_sock *s)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct uvs_sock *rows = cap > MAX_SOCKETS ? NULL : realloc(t->rows, cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		t->rows = rows;
		t->cap = cap;
	}
	t->rows[t->n++] = *s;
	return 0;
}

int uvs_socket_table_read(int nl, const struct uvs_fd_table *fds, struct uvs_sock_learning *learn,
			  struct uvs_socket_table *t)
{
	return uvs_socket_table_read_from(uvs_sock_diag_dump_on, &nl, fds, learn, t);
}

void uvs_sock_learn_ports(const struct uvs_socket_table *t, struct uvs_sock_learning *l)
{
	struct uvs_diag_filter *f = &l->filter;
	bool ok = true;
	size_t i;

	f->nlocal = f->nremote = 0;
	/* Listeners and unconnected sockets first: their ports find the accepted ones too. */
	for (i = 0; i < t->n; i++) {
		const struct uvs_sock *s = &t->rows[i];

		if ((s->state == UVS_TCP_LISTEN || !s->remote_port) && s->local_port)
			ok &= uvs_diag_add_port(f->local, &f->nlocal, s->local_port);
	}
	for (i = 0; i < t->n; i++) {
		const struct uvs_sock *s = &t->rows[i];

		if (s->state == UVS_TCP_LISTEN || !s->remote_port ||
		    uvs_diag_has_port(f->local, f->nlocal, s->local_port))
			continue;
		ok &= uvs_diag_add_port(f->remote, &f->nremote, s->remote_port);
	}
	l->overflow = !ok;
}

void uvs_socket_table_free(struct uvs_socket_table *t)
{
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

void uvs_sock_learning_free(struct uvs_sock_learning *l)
{
	free(l->missed);
	memset(l, 0, sizeof(*l));
}

static int row_order(const void *a, const void *b)
{
	const struct uvs_sock *x = a, *y = b;
	int lx = x->state == UVS_TCP_LISTEN, ly = y->state == UVS_TCP_LISTEN;

	if (x->protocol != y->protocol)
		return x->protocol == IPPROTO_TCP ? -1 : 1;
	if (lx != ly)
		return ly - lx;
	if (x->local_port != y->local_port)
		return x->local_port < y->local_port ? -1 : 1;
	if (x->remote_port != y->remote_port)
		return x->remote_port < y->remote_port ? -1 : 1;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

void uvs_socket_table_sort(struct uvs_socket_table *t)
{
	if (t->n)
		qsort(t->rows, t->n, sizeof(*t->rows), row_order);
}

void uvs_socket_table_summarize(const struct uvs_socket_table *t, struct uvs_sockets_snapshot *out)
{
	size_t i;

	out->available = true;
	out->unix_open = t->unix_count;
	out->other_open = t->other_count;
	for (i = 0; i < t->n; i++) {
		const struct uvs_sock *s = &t->rows[i];

		if (s->protocol == IPPROTO_UDP) {
			out->udp_open++;
			out->udp_drops += s->has_drops ? s->drops : 0;
			continue;
		}
		out->tcp_open++;
		if (s->state < UVS_SOCK_STATES)
			out->tcp_states[s->state]++;
		if (s->state != UVS_TCP_LISTEN)
			continue;
		out->listeners++;
		/* The kernel refuses a connection once the queue holds more than the backlog. */
		if (s->rqueue > s->wqueue)
			out->accept_queue_full++;
		if (s->rqueue >= out->accept_queue_max) {
			out->accept_queue_max = s->rqueue;
			out->accept_queue_limit = s->wqueue;
		}
	}
}
