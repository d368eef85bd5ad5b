/* SPDX-License-Identifier: MIT */
/*
 * The target's sockets per window: its socket table (netlink, kept to its fds, dumps filtered by
 * the ports it uses) and its TCP transitions (tracepoints). The socket alerts are the alert
 * engine's (core/alerts.c).
 */
#ifndef UVSCOPE_SOCKETS_H
#define UVSCOPE_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>

#include "collect/fd_table.h"
#include "collect/sock_census.h"
#include "collect/sock_trace.h"
#include "collect/socket_table.h"
#include "core/snapshot.h"
#include "target/process.h"

struct uvs_sockets {
	int nl;                    /* diag socket in the target's netns, -1 when unavailable */
	char why[320];             /* why the table is unavailable */
	bool shared;               /* in the agent's socket census: dumps through `census` */
	struct uvs_census_member census;
	struct uvs_socket_table table;
	struct uvs_sock_learning learn;
	struct uvs_sock_trace trace;
};

/*
 * Opens the diag socket in the target's network namespace and follows its TCP sockets at its
 * slot of sh (collect/sock_trace.h); call before dropping privileges. Failures leave that part
 * off, with s->why or s->trace.why saying why. `fds` is the target's fd table read at attach
 * (the sockets it has already). The table is read through the agent's socket census (sh's,
 * collect/sock_census.h): a dump another target of the namespace took at most share_ns ago
 * serves this one too (half an interval; 0: none).
 */
void uvs_sockets_attach(struct uvs_sockets *s, struct uvs_bpf_shared *sh, int slot,
			const struct uvs_target *t, const struct uvs_fd_table *fds,
			uint64_t share_ns);

void uvs_sockets_quiesce(struct uvs_sockets *s);
void uvs_sockets_detach(struct uvs_sockets *s);

/* Fills out with this window, from this window's fd table; *lost: sockets not followed. */
void uvs_sockets_window(struct uvs_sockets *s, const struct uvs_fd_table *fds,
			struct uvs_sockets_snapshot *out, uint64_t *lost);

/* Replaces the transition figures of out with the session's. */
void uvs_sockets_totals(struct uvs_sockets *s, struct uvs_sockets_snapshot *out, uint64_t *lost);

/*
 * A NETLINK_SOCK_DIAG socket that sees pid's sockets: opened in its network namespace, or in
 * ours when it shares it. Returns the fd, or -errno with one sentence in why.
 */
int uvs_sockets_open_diag(int pid, char *why, size_t cap);

#endif
