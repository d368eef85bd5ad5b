/* SPDX-License-Identifier: MIT */
/*
 * The socket census: one NETLINK_SOCK_DIAG dump per network namespace per interval, shared by
 * every target of the agent in that namespace. A TCP dump walks every bucket of the
 * namespace's TCP hash (262,144 on a small VM) however few sockets it returns, so N targets
 * that each dump their own cost N walks an interval; through the census they cost one.
 *
 * The census keeps, per namespace and per table (TCP and UDP over IPv4 and IPv6, Unix), the
 * last dump taken: its rows and what it asked the kernel for (a port filter, or the whole
 * table). A target asking for a table (a dump source for collect/socket_table.c, with its own
 * filter) gets that dump again when it is fresh (taken at most max_age_ns ago, half an
 * interval), covers what it asks (the whole table, or a filter holding its ports), and is not
 * one it read before (each of its windows sees a dump taken after its previous one). The rows
 * are then handed to it filtered by its own ports, exactly as the kernel would have filtered
 * them: a target keeps the same rows whether it dumps alone or shares. Otherwise the census
 * dumps through the target's diag socket, asking for the union of the ports of every target
 * of the namespace (the kernel-side filter stays: a host with 100k connections costs only the
 * matches), or for the asker's ports alone when the union does not fit in one filter.
 *
 * Bounds: at most UVS_CENSUS_MAX_ROWS rows are kept over all namespaces (a dump that would
 * pass it is handed to its asker and not kept); rows without an inode (TIME_WAIT, requests:
 * no target owns them) are never kept. A namespace's dumps are freed with its last target.
 */
#ifndef UVSCOPE_SOCK_CENSUS_H
#define UVSCOPE_SOCK_CENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "collect/sock_diag.h"
#include "collect/socket_table.h"

/* TCP and UDP over IPv4 and IPv6, and Unix. */
#define UVS_CENSUS_TABLES 5
/* Rows kept over all namespaces: about 5 MiB. */
#define UVS_CENSUS_MAX_ROWS (1u << 16)

struct uvs_sock_census;
struct census_ns;

/* What the census needs from the system; tests give their own. */
struct uvs_census_backend {
	/* uvs_sock_diag_dump. */
	int (*dump)(int nl, int family, int protocol, const struct uvs_diag_filter *filter,
		    uvs_sock_fn fn, void *ctx);
	/* The network namespace a diag socket sees (device and inode of its nsfs file): 0, or -errno. */
	int (*netns_of)(int nl, uint64_t *dev, uint64_t *ino);
	uint64_t (*now)(void); /* monotonic ns */
};

/* A target's place in the census; lives in its struct uvs_sockets. */
struct uvs_census_member {
	struct uvs_sock_census *census;
	struct census_ns *ns;
	struct uvs_census_member *next;          /* in its namespace */
	const struct uvs_sock_learning *learn;   /* its ports, for the union */
	uint64_t max_age_ns;
	uint64_t read_gen[UVS_CENSUS_TABLES];    /* the last dump of each table it read */
	int nl;
};

/* What the census did: for the benchmark and the tests. */
struct uvs_census_stats {
	uint64_t dumps;        /* asked of the kernel */
	uint64_t reused;       /* answered from a dump another target took */
	uint64_t not_kept;     /* dumps too large to keep */
	size_t rows_kept;      /* rows held now, over all namespaces */
	size_t namespaces;     /* namespaces with a target now */
};

/* The census with the real system (NULL: the real backend). NULL and errno on failure. */
struct uvs_sock_census *uvs_sock_census_new(const struct uvs_census_backend *backend);

/* Frees the census and every namespace's dumps; members still joined must not be used. */
void uvs_sock_census_free(struct uvs_sock_census *c);

/*
 * Makes m a member: dumps through nl (a diag socket the member keeps open until it leaves),
 * with learn's filter in its namespace's union, reusing dumps at most max_age_ns old (0: never
 * another target's). A socket whose namespace cannot be told gets a namespace of its own. 0,
 * or -ENOMEM.
 */
int uvs_sock_census_join(struct uvs_sock_census *c, struct uvs_census_member *m, int nl,
			 const struct uvs_sock_learning *learn, uint64_t max_age_ns);

/* Takes m out; its namespace's dumps go with its last member. Safe on a member never joined. */
void uvs_sock_census_leave(struct uvs_census_member *m);

/*
 * A dump source (uvs_sock_dump_fn) for collect/socket_table.c: src is a joined member. Hands
 * fn the sockets of the table that pass filter (NULL: all), from the census or from a new dump.
 * 0, fn's negative value, or -errno.
 */
int uvs_sock_census_dump(void *src, int family, int protocol, const struct uvs_diag_filter *filter,
			 uvs_sock_fn fn, void *ctx);

void uvs_sock_census_stats(const struct uvs_sock_census *c, struct uvs_census_stats *out);

#endif
