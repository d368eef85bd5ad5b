// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collect/socket_table.h"

/* Bounds what one target can make us allocate: far above any real process. */
#define MAX_SOCKETS (1u << 21)

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

ssize_t uvs_socket_inodes(pid_t pid, uint32_t **out)
{
	uint32_t *inodes = NULL, *grown;
	size_t n = 0, cap = 0;
	char dir[64], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		unsigned long ino;
		ssize_t len;
		char end;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (len < 0)
			continue; /* closed meanwhile */
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu%c", &ino, &end) != 2 || end != ']' || ino > UINT32_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if (cap > MAX_SOCKETS || !(grown = realloc(inodes, cap * sizeof(*inodes)))) {
				free(inodes);
				closedir(d);
				return -ENOMEM;
			}
			inodes = grown;
		}
		inodes[n++] = (uint32_t)ino;
	}
	closedir(d);
	qsort(inodes, n, sizeof(*inodes), cmp_u32);
	*out = inodes;
	return (ssize_t)n;
}

struct collect {
	struct uvs_socket_table *t;
	const uint32_t *inodes;
	size_t ninodes;
	uint8_t *seen; /* per inode: found in a table */
};

static ssize_t find_inode(const struct collect *c, uint32_t ino)
{
	const uint32_t *p = bsearch(&ino, c->inodes, c->ninodes, sizeof(ino), cmp_u32);

	return p ? p - c->inodes : -1;
}

static int keep_inet(const struct uvs_sock *s, void *ctx)
{
	struct collect *c = ctx;
	ssize_t i = s->inode ? find_inode(c, s->inode) : -1;
	struct uvs_socket_table *t = c->t;

	if (i < 0 || c->seen[i])
		return 0; /* another process's socket, or one without an fd (TIME_WAIT) */
	c->seen[i] = 1;
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

static int keep_unix(const struct uvs_sock *s, void *ctx)
{
	struct collect *c = ctx;
	ssize_t i = find_inode(c, s->inode);

	if (i >= 0 && !c->seen[i]) {
		c->seen[i] = 1;
		c->t->unix_count++;
	}
	return 0;
}

int uvs_socket_table_read(int nl, pid_t pid, struct uvs_socket_table *t)
{
	static const int tables[][2] = {
		{ AF_INET, IPPROTO_TCP }, { AF_INET6, IPPROTO_TCP },
		{ AF_INET, IPPROTO_UDP }, { AF_INET6, IPPROTO_UDP },
	};
	struct collect c = { .t = t };
	uint32_t *inodes = NULL;
	ssize_t n = uvs_socket_inodes(pid, &inodes);
	size_t i;
	int err = 0;

	t->n = 0;
	t->unix_count = t->other_count = 0;
	if (n < 0)
		return (int)n;
	c.inodes = inodes;
	c.ninodes = (size_t)n;
	c.seen = calloc(n ? (size_t)n : 1, 1);
	if (!c.seen) {
		free(inodes);
		return -ENOMEM;
	}
	/* Nothing to look up: a process without sockets costs no dump of the whole table. */
	for (i = 0; n && i < sizeof(tables) / sizeof(tables[0]) && !err; i++)
		err = uvs_sock_diag_dump(nl, tables[i][0], tables[i][1], keep_inet, &c);
	if (n && !err)
		err = uvs_sock_diag_dump(nl, AF_UNIX, 0, keep_unix, &c);
	for (i = 0; !err && i < (size_t)n; i++)
		t->other_count += !c.seen[i];
	free(c.seen);
	free(inodes);
	return err;
}

void uvs_socket_table_free(struct uvs_socket_table *t)
{
	free(t->rows);
	memset(t, 0, sizeof(*t));
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

void uvs_format_endpoint(int family, const uint8_t addr[16], uint16_t port, char *buf, size_t cap)
{
	static const uint8_t zero[16];
	char a[INET6_ADDRSTRLEN] = "?";
	bool any = memcmp(addr, zero, family == AF_INET6 ? 16 : 4) == 0;

	if (any && !port) {
		snprintf(buf, cap, "*:*");
		return;
	}
	if (any)
		snprintf(a, sizeof(a), "*");
	else
		inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	if (family == AF_INET6 && !any)
		snprintf(buf, cap, "[%s]:%u", a, port);
	else
		snprintf(buf, cap, "%s:%u", a, port);
}
