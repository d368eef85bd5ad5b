/* SPDX-License-Identifier: MIT */
/*
 * Sockets in `watch` and `top`: each window, the target's socket table (netlink, filtered
 * to its fds) and its TCP transitions (tracepoints), and the socket alerts: CLOSE_WAIT that
 * keeps growing, a full accept queue, retransmits at a high rate.
 */
#ifndef UVSCOPE_SOCKETS_WATCH_H
#define UVSCOPE_SOCKETS_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/snapshot.h"
#include "collect/sock_trace.h"
#include "collect/socket_table.h"
#include "target/process.h"

/* Windows in a row in which CLOSE_WAIT grew that raise close_wait_growth. */
#define UVS_CLOSE_WAIT_WINDOWS 3
/* Retransmits per second, over a window, that raise retransmit_rate. */
#define UVS_RETRANSMITS_PER_S 10

struct uvs_sockets_watch {
	int nl;                    /* diag socket in the target's netns, -1 when unavailable */
	char why[320];             /* why the table is unavailable */
	struct uvs_socket_table table;
	struct uvs_sock_trace trace;
	uint64_t prev_close_wait;
	bool seen;
	int close_wait_streak;
	bool queue_full;           /* an accept_queue_full alert is standing */
};

/*
 * Opens the diag socket and attaches the tracepoints; call before dropping privileges.
 * Failures leave that part off, with w->why or w->trace.why saying why.
 */
void uvs_sockets_watch_attach(struct uvs_sockets_watch *w, const struct uvs_target *t);

void uvs_sockets_watch_detach(struct uvs_sockets_watch *w);

/*
 * Fills out with this window and writes at most cap alerts (pid and ts_ns filled). Returns
 * how many alerts.
 */
size_t uvs_sockets_watch_window(struct uvs_sockets_watch *w, pid_t pid, uint64_t window_ns,
				struct uvs_sockets_snapshot *out, struct uvs_alert *alerts,
				size_t cap);

/*
 * The alerts one window's figures raise, given what earlier windows showed (kept in w).
 * Writes at most cap; returns how many.
 */
size_t uvs_sockets_judge(struct uvs_sockets_watch *w, pid_t pid, uint64_t window_ns,
			 const struct uvs_sockets_snapshot *k, struct uvs_alert *alerts, size_t cap);

/* Replaces the transition figures of out with the session's. */
void uvs_sockets_watch_summary(struct uvs_sockets_watch *w, struct uvs_sockets_snapshot *out);

#endif
