// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <netinet/in.h>

#include "collect/sock_census.h"
#include "util/clock.h"

/* The last dump of one table in one namespace. */
struct table_dump {
	uint64_t gen;                  /* 0: none kept */
	uint64_t taken_ns;             /* when it was asked for */
	bool whole;                    /* the whole table; else only what `filter` matches */
	struct uvs_diag_filter filter;
	struct uvs_sock *rows;         /* the rows with an inode */
	size_t n, cap;
};

struct census_ns {
	struct census_ns *next;
	uint64_t dev, ino;
	bool known;                    /* false: a socket whose namespace was not told, alone */
	struct uvs_census_member *members;
	struct table_dump tables[UVS_CENSUS_TABLES];
};

struct uvs_sock_census {
	struct uvs_census_backend be;
	struct census_ns *spaces;
	uint64_t gen;                  /* of the last dump taken, over all tables */
	size_t room_used;              /* row slots allocated, over all namespaces */
	struct uvs_census_stats stats;
};

static int netns_of_socket(int nl, uint64_t *dev, uint64_t *ino)
{
	/* The namespace the socket dumps, whatever the process that opened it has done since. */
	int fd = ioctl(nl, SIOCGSKNS);
	struct stat st;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
	} else {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
	close(fd);
	return err;
}

static const struct uvs_census_backend real_backend = {
	.dump = uvs_sock_diag_dump,
	.netns_of = netns_of_socket,
	.now = uvs_now_mono,
};

struct uvs_sock_census *uvs_sock_census_new(const struct uvs_census_backend *backend)
{
	struct uvs_sock_census *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->be = backend ? *backend : real_backend;
	return c;
}

static void drop_rows(struct uvs_sock_census *c, struct table_dump *d)
{
	c->room_used -= d->cap;
	free(d->rows);
	memset(d, 0, sizeof(*d));
}

static void free_ns(struct uvs_sock_census *c, struct census_ns *ns)
{
	size_t i;

	for (i = 0; i < UVS_CENSUS_TABLES; i++)
		drop_rows(c, &ns->tables[i]);
	free(ns);
}

void uvs_sock_census_free(struct uvs_sock_census *c)
{
	if (!c)
		return;
	while (c->spaces) {
		struct census_ns *ns = c->spaces;

		c->spaces = ns->next;
		free_ns(c, ns);
	}
	free(c);
}

static struct census_ns *find_ns(struct uvs_sock_census *c, uint64_t dev, uint64_t ino)
{
	struct census_ns *ns;

	for (ns = c->spaces; ns; ns = ns->next)
		if (ns->known && ns->dev == dev && ns->ino == ino)
			return ns;
	return NULL;
}

int uvs_sock_census_join(struct uvs_sock_census *c, struct uvs_census_member *m, int nl,
			 const struct uvs_sock_learning *learn, uint64_t max_age_ns)
{
	uint64_t dev = 0, ino = 0;
	bool known = c->be.netns_of(nl, &dev, &ino) == 0;
	struct census_ns *ns = known ? find_ns(c, dev, ino) : NULL;

	memset(m, 0, sizeof(*m));
	if (!ns) {
		ns = calloc(1, sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		*ns = (struct census_ns){ .next = c->spaces, .dev = dev, .ino = ino, .known = known };
		c->spaces = ns;
	}
	*m = (struct uvs_census_member){ .census = c, .ns = ns, .next = ns->members, .learn = learn,
					 .max_age_ns = max_age_ns, .nl = nl };
	ns->members = m;
	return 0;
}

void uvs_sock_census_leave(struct uvs_census_member *m)
{
	struct uvs_sock_census *c = m->census;
	struct uvs_census_member **p;
	struct census_ns **q;

	if (!c)
		return;
	for (p = &m->ns->members; *p; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
	if (!m->ns->members)
		for (q = &c->spaces; *q; q = &(*q)->next)
			if (*q == m->ns) {
				*q = m->ns->next;
				free_ns(c, m->ns);
				break;
			}
	memset(m, 0, sizeof(*m));
}

static int table_index(int family, int protocol)
{
	if (family == AF_UNIX)
		return 4;
	if (family != AF_INET && family != AF_INET6)
		return -1;
	if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP)
		return -1;
	return (family == AF_INET6) + 2 * (protocol == IPPROTO_UDP);
}

static bool subset(const uint16_t *ports, size_t n, const uint16_t *of, size_t nof)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!uvs_diag_has_port(of, nof, ports[i]))
			return false;
	return true;
}

/* Every socket f lets through is in d: d is whole, or asked for every port f asks. */
static bool covers(const struct table_dump *d, const struct uvs_diag_filter *f)
{
	if (d->whole)
		return true;
	return f && subset(f->local, f->nlocal, d->filter.local, d->filter.nlocal) &&
	       subset(f->remote, f->nremote, d->filter.remote, d->filter.nremote);
}

/* Adds src's ports to u when all of them fit; false (u unchanged) when they do not. */
static bool add_filter(struct uvs_diag_filter *u, const struct uvs_diag_filter *src)
{
	struct uvs_diag_filter t = *u;
	size_t i;

	for (i = 0; i < src->nlocal; i++)
		if (!uvs_diag_add_port(t.local, &t.nlocal, src->local[i]))
			return false;
	for (i = 0; i < src->nremote; i++)
		if (!uvs_diag_add_port(t.remote, &t.nremote, src->remote[i]))
			return false;
	*u = t;
	return true;
}

/*
 * The filter a new dump asks for: the asker's ports, then those of every other member that
 * filters its dumps, as many members as fit. A member without ports or with more than a filter
 * holds (it dumps whole tables) adds nothing: its dumps cover themselves.
 */
static void union_filter(const struct uvs_census_member *asker, const struct uvs_diag_filter *f,
			 struct uvs_diag_filter *u)
{
	const struct uvs_census_member *m;

	*u = *f;
	for (m = asker->ns->members; m; m = m->next) {
		const struct uvs_sock_learning *l = m->learn;

		if (m == asker || !l || l->overflow || !(l->filter.nlocal + l->filter.nremote))
			continue;
		add_filter(u, &l->filter);
	}
}

struct taking {
	struct uvs_sock_census *c;
	struct table_dump *d;
	bool keep;                        /* the rows so far are all in d */
	const struct uvs_diag_filter *f;  /* what the asker asked */
	uvs_sock_fn fn;
	void *ctx;
};

/* Room for one more row in d, within the census's bound. */
static bool grow(struct uvs_sock_census *c, struct table_dump *d)
{
	size_t left = UVS_CENSUS_MAX_ROWS - c->room_used, cap = d->cap ? d->cap * 2 : 64;
	struct uvs_sock *rows;

	if (d->n < d->cap)
		return true;
	if (cap - d->cap > left)
		cap = d->cap + left;
	if (cap == d->cap)
		return false;
	rows = realloc(d->rows, cap * sizeof(*rows));
	if (!rows)
		return false;
	c->room_used += cap - d->cap;
	d->rows = rows;
	d->cap = cap;
	return true;
}

static int take_row(const struct uvs_sock *s, void *ctx)
{
	struct taking *t = ctx;

	if (t->keep && s->inode) {
		t->keep = grow(t->c, t->d);
		if (t->keep)
			t->d->rows[t->d->n++] = *s;
	}
	return uvs_diag_filter_passes(t->f, s) ? t->fn(s, t->ctx) : 0;
}

/* A new dump of table i for m, kept for the others of its namespace when it fits. */
static int take(struct uvs_census_member *m, int i, int family, int protocol,
		const struct uvs_diag_filter *f, uvs_sock_fn fn, void *ctx)
{
	struct uvs_sock_census *c = m->census;
	struct table_dump *d = &m->ns->tables[i];
	struct uvs_diag_filter u;
	struct taking t = { .c = c, .d = d, .keep = true, .f = f, .fn = fn, .ctx = ctx };
	uint64_t start = c->be.now();
	int err;

	/* The buffer stays (the next dump is about as long); what it held is no longer valid. */
	d->gen = 0;
	d->n = 0;
	if (f)
		union_filter(m, f, &u);
	c->stats.dumps++;
	err = c->be.dump(m->nl, family, protocol, f ? &u : NULL, take_row, &t);
	if (err || !t.keep) {
		if (!t.keep)
			c->stats.not_kept++;
		drop_rows(c, d);
		return err;
	}
	d->gen = ++c->gen;
	d->taken_ns = start;
	d->whole = !f;
	if (f)
		d->filter = u;
	m->read_gen[i] = d->gen;
	return 0;
}

static int replay(const struct table_dump *d, const struct uvs_diag_filter *f, uvs_sock_fn fn,
		  void *ctx)
{
	size_t i;
	int ret;

	for (i = 0; i < d->n; i++)
		if (uvs_diag_filter_passes(f, &d->rows[i]) && (ret = fn(&d->rows[i], ctx)))
			return ret;
	return 0;
}

int uvs_sock_census_dump(void *src, int family, int protocol, const struct uvs_diag_filter *filter,
			 uvs_sock_fn fn, void *ctx)
{
	struct uvs_census_member *m = src;
	int i = table_index(family, protocol);
	const struct table_dump *d;

	if (i < 0)
		return -EINVAL;
	/* Unix dumps take no filter (sock_diag.c): ask for, and cover, the whole table. */
	if (family == AF_UNIX)
		filter = NULL;
	d = &m->ns->tables[i];
	if (d->gen && d->gen != m->read_gen[i] && covers(d, filter) &&
	    m->census->be.now() - d->taken_ns <= m->max_age_ns) {
		m->read_gen[i] = d->gen;
		m->census->stats.reused++;
		return replay(d, filter, fn, ctx);
	}
	return take(m, i, family, protocol, filter, fn, ctx);
}

void uvs_sock_census_stats(const struct uvs_sock_census *c, struct uvs_census_stats *out)
{
	const struct census_ns *ns;
	size_t i;

	*out = c->stats;
	out->rows_kept = 0;
	out->namespaces = 0;
	for (ns = c->spaces; ns; ns = ns->next) {
		out->namespaces++;
		for (i = 0; i < UVS_CENSUS_TABLES; i++)
			out->rows_kept += ns->tables[i].n;
	}
}
