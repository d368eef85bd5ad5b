/* SPDX-License-Identifier: MIT */
/*
 * TCP transitions and retransmits of the target (bpf/sockets.bpf.c): attaching, telling the
 * BPF side which sockets and listening ports are the target's, and per-window figures.
 *
 * One object serves every target of the agent (collect/bpf_shared.h): the first target loads
 * it; its two tracepoints, which run for every TCP socket on the host, are attached while at
 * least one target holds them (the first in attaches them, the last out, at its quiesce or
 * detach, takes them away). A target's own part is its counters at its slot and the entries
 * of the shared maps that carry its tgid, removed at detach.
 */
#ifndef UVSCOPE_SOCK_TRACE_H
#define UVSCOPE_SOCK_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "collect/bpf_shared.h"
#include "collect/socket_table.h"
#include "target/process.h"
#include "uvscope/sockets.h"

struct uvs_held_object;

struct uvs_peer_seen {
	struct uvs_sock_peer peer;
	uint64_t count; /* at the last window */
};

#define UVS_PEERS_SEEN 4096

struct uvs_sock_trace {
	struct uvs_held_object *host; /* the object every target shares (in sh) */
	struct uvs_bpf_shared *sh;
	int slot;                     /* the target's, where its counters are */
	__u32 tgid;                   /* the target's: its entries in the shared maps say it */
	bool holds_links;             /* it keeps the host-wide tracepoints attached */
	bool has_stats;               /* its counters are at its slot */
	bool attached;
	char why[320];
	struct uvs_sock_stats *prev;  /* at the last window */
	struct uvs_sock_stats *now;
	struct uvs_peer_seen *peers;  /* UVS_PEERS_SEEN */
	size_t npeers;
	uint64_t *known;              /* cookies told to the BPF side at the last learn, sorted */
	size_t nknown;
	/* Connections guessed to be this target's at the last learn: confirmed if still held. */
	uint64_t *recheck;
	size_t nrecheck;
	/*
	 * What the fds settled (collect/sock_trace.c, settle_owner): accepts on a shared port and
	 * CLOSE_WAITs entered while the owner was a guess; and as of the last window.
	 */
	uint64_t accepted_learned, accepted_learned_told;
	uint64_t close_wait_learned, close_wait_learned_told;
	uint32_t netns;               /* the target's network namespace (inode number) */
};

/*
 * Follows the TCP sockets of target at its slot of sh: loads the object when it is the first
 * target, puts its counters at the slot and holds the tracepoints. The programs count the
 * target once the collector publishes it. Returns 0, or -errno with t->why set.
 */
int uvs_sock_trace_attach(struct uvs_sock_trace *t, struct uvs_bpf_shared *sh, int slot,
			  const struct uvs_target *target);

/*
 * quiesce lets go of the tracepoints (the last target to do so detaches them); the figures can
 * still be read. detach takes the target's entries out of the shared maps and frees; the
 * object stays with sh. Both safe on a zeroed struct.
 */
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
