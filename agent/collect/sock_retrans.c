// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "collect/sock_retrans.h"

static int by_inode(const void *a, const void *b)
{
	const struct uvs_retrans_seen *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static const struct uvs_retrans_seen *find(const struct uvs_sock_retrans *r, uint32_t inode)
{
	struct uvs_retrans_seen key = { .inode = inode };

	return r->n ? bsearch(&key, r->prev, r->n, sizeof(key), by_inode) : NULL;
}

int uvs_sock_retrans_window(struct uvs_sock_retrans *r, const struct uvs_socket_table *t,
			    uint64_t *out)
{
	struct uvs_retrans_seen *now = calloc(t->n ? t->n : 1, sizeof(*now));
	uint64_t sum = 0;
	size_t i, n = 0;

	*out = 0;
	if (!now)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		const struct uvs_sock *s = &t->rows[i];
		const struct uvs_retrans_seen *was;

		if (s->protocol != IPPROTO_TCP || !s->has_info || !s->inode)
			continue;
		now[n++] = (struct uvs_retrans_seen){ .inode = s->inode, .retrans = s->retrans };
		was = find(r, s->inode);
		/* A counter that went back is another socket on a reused inode: all of it is new. */
		if (was && s->retrans >= was->retrans)
			sum += s->retrans - was->retrans;
		else if (r->seeded)
			sum += s->retrans;
	}
	qsort(now, n, sizeof(*now), by_inode);
	free(r->prev);
	r->prev = now;
	r->n = n;
	r->cap = t->n;
	*out = r->seeded ? sum : 0;
	r->seeded = true;
	return 0;
}

void uvs_sock_retrans_free(struct uvs_sock_retrans *r)
{
	free(r->prev);
	memset(r, 0, sizeof(*r));
}
