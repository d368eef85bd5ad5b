/* SPDX-License-Identifier: MIT */
/*
 * TCP transitions and retransmits of the target (bpf/sockets.bpf.c): attaching, telling the
 * BPF side which sockets and listening ports are the target's, and per-window figures.
 */
#ifndef UVSCOPE_SOCK_TRACE_H
#define UVSCOPE_SOCK_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "collect/socket_table.h"
#include "target/process.h"
#include "uvscope/sockets.h"

struct sockets_bpf;

struct uvs_peer_seen {
	struct uvs_sock_peer peer;
	uint64_t count; /* at the last window */
};

#define UVS_PEERS_SEEN 4096

struct uvs_sock_trace {
	struct sockets_bpf *skel;
	bool attached;
	char why[320];
	struct uvs_sock_stats *prev;  /* at the last window */
	struct uvs_sock_stats *now;
	struct uvs_peer_seen *peers;  /* UVS_PEERS_SEEN */
	size_t npeers;
	uint64_t *known;              /* cookies told to the BPF side at the last learn, sorted */
	size_t nknown;
	uint32_t netns;               /* the target's network namespace (inode number) */
};

/* Attaches the tracepoints for the target. Returns 0, or -errno with t->why set. */
int uvs_sock_trace_attach(struct uvs_sock_trace *t, const struct uvs_target *target);

void uvs_sock_trace_quiesce(struct uvs_sock_trace *t);
void uvs_sock_trace_detach(struct uvs_sock_trace *t);

/*
 * Tells the BPF side about the target's sockets found in its fds (connections made before we
 * attached, listeners), so their later transitions are counted.
 */
void uvs_sock_trace_learn(struct uvs_sock_trace *t, const struct uvs_socket_table *table);

/* Adds the window's transitions to *out, and the sockets not followed (map full) to *lost. */
void uvs_sock_trace_window(struct uvs_sock_trace *t, struct uvs_sockets_snapshot *out,
			   uint64_t *lost);

/* The same for the session, as of the last window. */
void uvs_sock_trace_totals(struct uvs_sock_trace *t, struct uvs_sockets_snapshot *out,
			   uint64_t *lost);

/* The transition figures between two readings of the counters (pure). */
void uvs_sock_transitions(const struct uvs_sock_stats *now, const struct uvs_sock_stats *base,
			  struct uvs_sockets_snapshot *out);

#endif
