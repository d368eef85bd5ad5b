// SPDX-License-Identifier: MIT
/*
 * The socket census (collect/sock_census.c) against a fake kernel: tables of sockets per
 * network namespace, filtered as the inet_diag bytecode filters (a port equality on either
 * end), a clock the tests move, and a count of the dumps asked. The ground truth for what a
 * target gets through the census is what the fake kernel hands it when it dumps alone.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collect/sock_census.h"
#include "collect/socket_table.h"

/* ---- the fake kernel ------------------------------------------------------------------------ */

#define MAX_ROWS (UVS_CENSUS_MAX_ROWS + 16)
#define NS_OF(nl) ((nl) / 100) /* diag sockets 101, 102: namespace 1; 201: namespace 2 */

static struct {
	int ns;
	struct uvs_sock s;
} rows[MAX_ROWS];
static size_t nrows;
static uint64_t clock_ns;
static unsigned dumps;               /* asked of the fake kernel */
static struct uvs_diag_filter asked; /* the last dump's filter */
static bool asked_whole;

static bool on_port(const uint16_t *ports, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

static int fake_dump(int nl, int family, int protocol, const struct uvs_diag_filter *f,
		     uvs_sock_fn fn, void *ctx)
{
	dumps++;
	asked_whole = !f;
	if (f)
		asked = *f;
	for (size_t i = 0; i < nrows; i++) {
		const struct uvs_sock *s = &rows[i].s;
		int ret;

		if (rows[i].ns != NS_OF(nl) || s->family != family || s->protocol != protocol)
			continue;
		if (f && family != AF_UNIX && !on_port(f->local, f->nlocal, s->local_port) &&
		    !on_port(f->remote, f->nremote, s->remote_port))
			continue;
		if ((ret = fn(s, ctx)))
			return ret;
	}
	return 0;
}

static int fake_netns(int nl, uint64_t *dev, uint64_t *ino)
{
	if (nl >= 900)
		return -EPERM; /* a namespace that cannot be told */
	*dev = 7;
	*ino = (uint64_t)NS_OF(nl);
	return 0;
}

static uint64_t fake_now(void)
{
	return clock_ns;
}

static const struct uvs_census_backend fake = { fake_dump, fake_netns, fake_now };

static struct uvs_sock *add_row(int ns, int family, int protocol, uint8_t state, uint16_t lport,
				uint16_t rport, uint32_t inode)
{
	struct uvs_sock *s = &rows[nrows].s;

	cr_assert_lt(nrows, MAX_ROWS);
	rows[nrows].ns = ns;
	memset(s, 0, sizeof(*s));
	s->family = (uint8_t)family;
	s->protocol = (uint8_t)protocol;
	s->state = state;
	s->local_port = lport;
	s->remote_port = rport;
	s->inode = inode;
	nrows++;
	return s;
}

/* Namespace 1: target A listens on 3000 (inode 10, one accepted: 11), target B on 4000 (20,
 * one accepted: 21) and has a connection out to 5432 (22); a TIME_WAIT; an unrelated socket. */
static void host(void)
{
	nrows = 0;
	clock_ns = 1000000000;
	dumps = 0;
	add_row(1, AF_INET6, IPPROTO_TCP, UVS_TCP_LISTEN, 3000, 0, 10);
	add_row(1, AF_INET6, IPPROTO_TCP, UVS_TCP_ESTABLISHED, 3000, 50001, 11);
	add_row(1, AF_INET6, IPPROTO_TCP, UVS_TCP_LISTEN, 4000, 0, 20);
	add_row(1, AF_INET6, IPPROTO_TCP, UVS_TCP_ESTABLISHED, 4000, 50002, 21);
	add_row(1, AF_INET6, IPPROTO_TCP, UVS_TCP_ESTABLISHED, 40022, 5432, 22);
	add_row(1, AF_INET6, IPPROTO_TCP, UVS_TCP_TIME_WAIT, 3000, 50003, 0);
	add_row(1, AF_INET6, IPPROTO_TCP, UVS_TCP_ESTABLISHED, 8080, 50004, 99);
	/* Namespace 2: a target C on 3000 too, in its own namespace. */
	add_row(2, AF_INET6, IPPROTO_TCP, UVS_TCP_LISTEN, 3000, 0, 30);
}

static void ports(struct uvs_sock_learning *l, uint16_t local, uint16_t remote)
{
	memset(l, 0, sizeof(*l));
	if (local)
		l->filter.local[l->filter.nlocal++] = local;
	if (remote)
		l->filter.remote[l->filter.nremote++] = remote;
}

/* What one dump hands over: the inodes, in order. */
struct got {
	uint32_t inode[64];
	size_t n;
};

static int take(const struct uvs_sock *s, void *ctx)
{
	struct got *g = ctx;

	if (g->n < 64)
		g->inode[g->n++] = s->inode;
	return 0;
}

static struct got via_census(struct uvs_census_member *m, const struct uvs_diag_filter *f)
{
	struct got g = { .n = 0 };

	cr_assert_eq(uvs_sock_census_dump(m, AF_INET6, IPPROTO_TCP, f, take, &g), 0);
	return g;
}

/* What the fake kernel hands a target that dumps alone: the ground truth. */
static struct got alone(int nl, const struct uvs_diag_filter *f)
{
	struct got g = { .n = 0 };
	unsigned before = dumps;

	cr_assert_eq(fake_dump(nl, AF_INET6, IPPROTO_TCP, f, take, &g), 0);
	dumps = before;
	return g;
}

/* The same sockets, whatever the order (a reused dump keeps only rows with an inode). */
static void same_sockets(const struct got *a, const struct got *b)
{
	size_t i, j, na = 0, nb = 0;

	for (i = 0; i < a->n; i++) {
		if (!a->inode[i])
			continue;
		na++;
		for (j = 0; j < b->n && b->inode[j] != a->inode[i]; j++)
			;
		cr_assert_lt(j, b->n, "inode %u missing", a->inode[i]);
	}
	for (i = 0; i < b->n; i++)
		nb += b->inode[i] != 0;
	cr_assert_eq(na, nb);
}

static void same_as(const struct got *a, struct got truth)
{
	same_sockets(a, &truth);
}

static struct uvs_census_stats stats(const struct uvs_sock_census *c)
{
	struct uvs_census_stats s;

	uvs_sock_census_stats(c, &s);
	return s;
}

#define HALF_SECOND 500000000ull

/* The census of a test, and two targets in it: A and B, each listening on one port. */
static struct uvs_sock_census *c;
static struct uvs_census_member a, b;
static struct uvs_sock_learning la, lb;

static void two_targets(int nla, uint16_t pa, int nlb, uint16_t pb)
{
	c = uvs_sock_census_new(&fake);
	cr_assert_not_null(c);
	host();
	ports(&la, pa, 0);
	ports(&lb, pb, 0);
	cr_assert_eq(uvs_sock_census_join(c, &a, nla, &la, HALF_SECOND), 0);
	cr_assert_eq(uvs_sock_census_join(c, &b, nlb, &lb, HALF_SECOND), 0);
}

static void free_census(void)
{
	uvs_sock_census_free(c);
	c = NULL;
}

TestSuite(sock_census, .fini = free_census);

Test(sock_census, one_dump_serves_the_namespace)
{
	struct uvs_census_member cc;
	struct uvs_sock_learning lc;
	struct got ga, gb, gc;

	two_targets(101, 3000, 102, 4000);
	ports(&lb, 4000, 5432);
	ports(&lc, 3000, 0);
	cr_assert_eq(uvs_sock_census_join(c, &cc, 201, &lc, HALF_SECOND), 0);

	/* A's dump asks for every port of the namespace's targets: its own first, then B's. */
	ga = via_census(&a, &la.filter);
	cr_assert_eq(dumps, 1);
	cr_assert_eq(asked.nlocal, 2);
	cr_assert(on_port(asked.local, 2, 3000) && on_port(asked.local, 2, 4000));
	cr_assert_eq(asked.nremote, 1);
	cr_assert_eq(asked.remote[0], 5432);
	/* Each gets exactly what it would get alone. */
	same_sockets(&ga, &(struct got){ .inode = { 10, 11 }, .n = 2 });
	same_as(&ga, alone(101, &la.filter));
	gb = via_census(&b, &lb.filter);
	cr_assert_eq(dumps, 1, "B reuses A's dump");
	same_as(&gb, alone(102, &lb.filter));
	same_sockets(&gb, &(struct got){ .inode = { 20, 21, 22 }, .n = 3 });
	/* C, in another namespace, shares nothing. */
	gc = via_census(&cc, &lc.filter);
	cr_assert_eq(dumps, 2);
	same_sockets(&gc, &(struct got){ .inode = { 30 }, .n = 1 });
	cr_assert_eq(stats(c).reused, 1);
	cr_assert_eq(stats(c).dumps, 2);
	cr_assert_eq(stats(c).namespaces, 2);
}

Test(sock_census, fresh_and_never_read_twice)
{

	two_targets(101, 3000, 102, 4000);
	via_census(&a, &la.filter);
	/* A's next window never sees the dump it read already, however fresh. */
	via_census(&a, &la.filter);
	cr_assert_eq(dumps, 2);
	/* B reads A's second dump while it is at most half an interval old... */
	clock_ns += HALF_SECOND;
	via_census(&b, &lb.filter);
	cr_assert_eq(dumps, 2);
	/* ...and not once it is older: the next round. */
	clock_ns += HALF_SECOND + 1;
	via_census(&a, &la.filter);
	cr_assert_eq(dumps, 3);
	clock_ns += HALF_SECOND + 1;
	via_census(&b, &lb.filter);
	cr_assert_eq(dumps, 4);
	cr_assert_eq(stats(c).reused, 1);
}

/* The accept queue of a listener, as the dump a member gets shows it. */
static int listener_rqueue(const struct uvs_sock *s, void *ctx)
{
	if (s->state == UVS_TCP_LISTEN)
		*(uint32_t *)ctx = s->rqueue;
	return 0;
}

Test(sock_census, a_new_round_sees_new_states)
{
	uint32_t rq = 0;

	two_targets(101, 3000, 102, 3000);
	uvs_sock_census_dump(&a, AF_INET6, IPPROTO_TCP, &la.filter, listener_rqueue, &rq);
	cr_assert_eq(rq, 0);
	rows[0].s.rqueue = 9; /* three connections wait in the accept queue now */
	/* Within the round B sees A's dump (as of when A took it); the next round sees the 9. */
	uvs_sock_census_dump(&b, AF_INET6, IPPROTO_TCP, &lb.filter, listener_rqueue, &rq);
	cr_assert_eq(rq, 0);
	clock_ns += 2 * HALF_SECOND;
	uvs_sock_census_dump(&b, AF_INET6, IPPROTO_TCP, &lb.filter, listener_rqueue, &rq);
	cr_assert_eq(rq, 9);
	uvs_sock_census_dump(&a, AF_INET6, IPPROTO_TCP, &la.filter, listener_rqueue, &rq);
	cr_assert_eq(rq, 9);
	cr_assert_eq(dumps, 2);
}

Test(sock_census, whole_dumps_cover_filters_not_the_other_way)
{
	struct got g;

	two_targets(101, 3000, 102, 4000);
	/* A filtered dump cannot answer a whole-table question. */
	via_census(&a, &la.filter);
	g = via_census(&b, NULL);
	cr_assert_eq(dumps, 2);
	cr_assert(asked_whole);
	same_as(&g, alone(102, NULL));
	/* A whole one answers a filtered one, filtered as the kernel would. */
	g = via_census(&a, &la.filter);
	cr_assert_eq(dumps, 2);
	same_as(&g, alone(101, &la.filter));
}

/* B's next dump, with its ports: what it gets alone, and the dumps asked of the kernel by then. */
static void b_gets_its_own(unsigned dumps_then)
{
	struct got g = via_census(&b, &lb.filter);

	cr_assert_eq(dumps, dumps_then);
	same_as(&g, alone(102, &lb.filter));
}

Test(sock_census, ports_the_dump_did_not_ask_for)
{
	two_targets(101, 3000, 102, 4000);
	via_census(&a, &la.filter);
	/* B learned a port since A's dump (its connection to 5432): a new dump for it. */
	ports(&lb, 4000, 5432);
	b_gets_its_own(2);
}

Test(sock_census, a_union_that_does_not_fit)
{
	struct got g;

	/* B listens on as many ports as a filter holds, none of them A's. */
	two_targets(101, 3000, 102, 4000);
	for (uint16_t p = 1; p < UVS_DIAG_MAX_PORTS; p++)
		lb.filter.local[lb.filter.nlocal++] = (uint16_t)(4000 + p);
	g = via_census(&a, &la.filter);
	cr_assert_eq(asked.nlocal, 1, "A asks for its own ports only");
	same_as(&g, alone(101, &la.filter));
	b_gets_its_own(2);
}

Test(sock_census, a_target_leaving)
{

	two_targets(101, 3000, 102, 4000);
	via_census(&a, &la.filter);
	cr_assert_eq(stats(c).rows_kept, 4, "10, 11, 20, 21: no TIME_WAIT kept");
	/* B gone: its ports leave the union; the namespace's dumps stay for A. */
	uvs_sock_census_leave(&b);
	clock_ns += 2 * HALF_SECOND;
	via_census(&a, &la.filter);
	cr_assert_eq(asked.nlocal, 1);
	cr_assert_eq(asked.local[0], 3000);
	cr_assert_eq(stats(c).namespaces, 1);
	cr_assert_eq(stats(c).rows_kept, 2);
	/* A gone too: nothing is left of the namespace. */
	uvs_sock_census_leave(&a);
	cr_assert_eq(stats(c).namespaces, 0);
	cr_assert_eq(stats(c).rows_kept, 0);
	/* Leaving twice, or never joined, is harmless. */
	uvs_sock_census_leave(&a);
}

Test(sock_census, a_namespace_that_cannot_be_told_is_not_shared)
{

	two_targets(901, 3000, 902, 3000);
	via_census(&a, &la.filter);
	via_census(&b, &lb.filter);
	cr_assert_eq(dumps, 2);
	cr_assert_eq(stats(c).namespaces, 2);
	uvs_sock_census_leave(&a);
	uvs_sock_census_leave(&b);
}

static int count_rows(const struct uvs_sock *s, void *ctx)
{
	(void)s;
	++*(size_t *)ctx;
	return 0;
}

Test(sock_census, a_dump_too_large_to_keep)
{
	size_t n = 0;

	two_targets(101, 0, 102, 0);
	for (uint32_t i = 0; i < UVS_CENSUS_MAX_ROWS + 8; i++)
		add_row(1, AF_INET, IPPROTO_TCP, UVS_TCP_ESTABLISHED, 1000, 2000, 1000 + i);
	/* A gets every row; none is kept (the bound), so B asks the kernel itself. */
	cr_assert_eq(uvs_sock_census_dump(&a, AF_INET, IPPROTO_TCP, NULL, count_rows, &n), 0);
	cr_assert_eq(n, UVS_CENSUS_MAX_ROWS + 8);
	cr_assert_eq(stats(c).not_kept, 1);
	cr_assert_eq(stats(c).rows_kept, 0);
	n = 0;
	cr_assert_eq(uvs_sock_census_dump(&b, AF_INET, IPPROTO_TCP, NULL, count_rows, &n), 0);
	cr_assert_eq(n, UVS_CENSUS_MAX_ROWS + 8);
	cr_assert_eq(dumps, 2);
	/* The small table of the same namespace is still kept and shared. */
	via_census(&a, NULL);
	via_census(&b, NULL);
	cr_assert_eq(dumps, 3);
	cr_assert_eq(stats(c).rows_kept, 6);
}

/* A callback's error stops the dump, and nothing half-taken is kept. */
static int refuse(const struct uvs_sock *s, void *ctx)
{
	(void)s;
	(void)ctx;
	return -ENOMEM;
}

Test(sock_census, a_callback_error)
{

	two_targets(101, 0, 102, 0);
	cr_assert_eq(uvs_sock_census_dump(&a, AF_INET6, IPPROTO_TCP, NULL, refuse, NULL), -ENOMEM);
	cr_assert_eq(stats(c).rows_kept, 0);
	via_census(&b, NULL);
	cr_assert_eq(dumps, 2);
}

/* ---- through the socket table: what the targets report ------------------------------------ */

static int fake_on(void *src, int family, int protocol, const struct uvs_diag_filter *f,
		   uvs_sock_fn fn, void *ctx)
{
	return fake_dump(*(int *)src, family, protocol, f, fn, ctx);
}

static void fd_table(struct uvs_fd_table *t, struct uvs_fd_socket *s, const uint32_t *inodes,
		     size_t n)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++)
		s[i] = (struct uvs_fd_socket){ .inode = inodes[i], .proto = UVS_PROTO_TCP6 };
	t->available = true;
	t->sockets = s;
	t->nsockets = n;
}

/*
 * Two targets of one namespace, three windows each (the first learns the ports), read through
 * the census and alone: the same tables and figures, with one dump per round instead of two.
 */
Test(sock_census, targets_report_what_they_report_alone)
{
	static const uint32_t ia[] = { 10, 11 }, ib[] = { 20, 21, 22 };
	struct uvs_fd_socket sa[2], sb[3];
	struct uvs_fd_table fa, fb;
	struct uvs_sock_learning solo_la = { 0 }, solo_lb = { 0 };
	struct uvs_socket_table ta = { 0 }, tb = { 0 }, solo_a = { 0 }, solo_b = { 0 };
	int nla = 101, nlb = 102;
	unsigned shared_dumps = 0, solo_dumps = 0;

	two_targets(nla, 0, nlb, 0);
	fd_table(&fa, sa, ia, 2);
	fd_table(&fb, sb, ib, 3);
	for (int round = 0; round < 3; round++) {
		struct uvs_sockets_snapshot ka = { 0 }, kb = { 0 }, ka1 = { 0 }, kb1 = { 0 };

		rows[1].s.state = round == 2 ? UVS_TCP_CLOSE_WAIT : UVS_TCP_ESTABLISHED;
		dumps = 0;
		cr_assert_eq(uvs_socket_table_read_from(uvs_sock_census_dump, &a, &fa, &la, &ta), 0);
		cr_assert_eq(uvs_socket_table_read_from(uvs_sock_census_dump, &b, &fb, &lb, &tb), 0);
		shared_dumps += dumps;
		dumps = 0;
		cr_assert_eq(uvs_socket_table_read_from(fake_on, &nla, &fa, &solo_la, &solo_a), 0);
		cr_assert_eq(uvs_socket_table_read_from(fake_on, &nlb, &fb, &solo_lb, &solo_b), 0);
		solo_dumps += dumps;
		uvs_socket_table_sort(&ta);
		uvs_socket_table_sort(&solo_a);
		uvs_socket_table_sort(&tb);
		uvs_socket_table_sort(&solo_b);
		cr_assert_eq(ta.n, 2);
		cr_assert_eq(tb.n, 3);
		cr_assert_eq(ta.n, solo_a.n);
		cr_assert_eq(tb.n, solo_b.n);
		cr_assert_arr_eq(ta.rows, solo_a.rows, ta.n * sizeof(*ta.rows));
		cr_assert_arr_eq(tb.rows, solo_b.rows, tb.n * sizeof(*tb.rows));
		uvs_socket_table_summarize(&ta, &ka);
		uvs_socket_table_summarize(&solo_a, &ka1);
		uvs_socket_table_summarize(&tb, &kb);
		uvs_socket_table_summarize(&solo_b, &kb1);
		cr_assert_arr_eq(&ka, &ka1, sizeof(ka));
		cr_assert_arr_eq(&kb, &kb1, sizeof(kb));
		cr_assert_eq(ka.tcp_states[UVS_TCP_CLOSE_WAIT], round == 2);
		clock_ns += 2 * HALF_SECOND;
	}
	/* Round 1: whole dumps (nothing learned yet), one of them shared; then one per round. */
	cr_assert_eq(solo_dumps, 6);
	cr_assert_eq(shared_dumps, 3);
	uvs_sock_census_leave(&a);
	uvs_sock_census_leave(&b);
	uvs_socket_table_free(&ta);
	uvs_socket_table_free(&tb);
	uvs_socket_table_free(&solo_a);
	uvs_socket_table_free(&solo_b);
	uvs_sock_learning_free(&la);
	uvs_sock_learning_free(&lb);
	uvs_sock_learning_free(&solo_la);
	uvs_sock_learning_free(&solo_lb);
}
