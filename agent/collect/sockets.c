// SPDX-License-Identifier: MIT
#include <string.h>
#include <unistd.h>

#include "core/sockets_command.h"
#include "collect/sockets.h"

void uvs_sockets_watch_attach(struct uvs_sockets_watch *w, const struct uvs_target *t)
{
	memset(w, 0, sizeof(*w));
	w->nl = uvs_sockets_open_diag((int)t->pid, w->why, sizeof(w->why));
	uvs_sock_trace_attach(&w->trace, t);
	if (w->nl >= 0 && uvs_socket_table_read(w->nl, t->pid, &w->table) == 0)
		uvs_sock_trace_learn(&w->trace, &w->table);
}

void uvs_sockets_watch_detach(struct uvs_sockets_watch *w)
{
	if (w->nl >= 0)
		close(w->nl);
	w->nl = -1;
	uvs_socket_table_free(&w->table);
	uvs_sock_trace_detach(&w->trace);
}

size_t uvs_sockets_judge(struct uvs_sockets_watch *w, pid_t pid, uint64_t window_ns,
			 const struct uvs_sockets_snapshot *k, struct uvs_alert *alerts, size_t cap)
{
	struct uvs_alert a = { .pid = pid, .window_ns = window_ns };
	uint64_t cw;
	size_t n = 0;

	if (k->available) {
		cw = k->tcp_states[UVS_TCP_CLOSE_WAIT];
		w->close_wait_streak = w->seen && cw > w->prev_close_wait ?
					       w->close_wait_streak + 1 : 0;
		w->prev_close_wait = cw;
		w->seen = true;
		if (w->close_wait_streak == UVS_CLOSE_WAIT_WINDOWS && n < cap) {
			a.kind = UVS_ALERT_CLOSE_WAIT_GROWTH;
			a.count = cw;
			a.growth_windows = UVS_CLOSE_WAIT_WINDOWS;
			alerts[n++] = a;
		}
		/* Once per episode: again only after every accept queue had room. */
		if (k->accept_queue_full && !w->queue_full && n < cap) {
			a.kind = UVS_ALERT_ACCEPT_QUEUE_FULL;
			a.count = k->accept_queue_max;
			a.limit = k->accept_queue_limit;
			alerts[n++] = a;
		}
		w->queue_full = k->accept_queue_full > 0;
	}
	if (k->traced && window_ns &&
	    k->retransmits * 1000000000ULL >= UVS_RETRANSMITS_PER_S * window_ns && n < cap) {
		a.kind = UVS_ALERT_RETRANSMIT_RATE;
		a.count = k->retransmits;
		alerts[n++] = a;
	}
	return n;
}

size_t uvs_sockets_watch_window(struct uvs_sockets_watch *w, pid_t pid, uint64_t window_ns,
				struct uvs_sockets_snapshot *out, struct uvs_alert *alerts,
				size_t cap)
{
	memset(out, 0, sizeof(*out));
	if (w->nl >= 0 && uvs_socket_table_read(w->nl, pid, &w->table) == 0) {
		uvs_socket_table_summarize(&w->table, out);
		uvs_sock_trace_learn(&w->trace, &w->table);
	}
	uvs_sock_trace_window(&w->trace, out, false);
	return uvs_sockets_judge(w, pid, window_ns, out, alerts, cap);
}

void uvs_sockets_watch_summary(struct uvs_sockets_watch *w, struct uvs_sockets_snapshot *out)
{
	uvs_sock_trace_window(&w->trace, out, true);
}
