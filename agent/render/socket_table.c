// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>

#include "util/duration.h"
#include "render/socket_table.h"

#define ROW_FMT "%-5s %-12s %7s %7s  %-*s %-*s %8s %8s %8s\n"

static void put_summary(FILE *out, int pid, const char *comm,
			const struct uvs_sockets_snapshot *k)
{
	const char *sep = " (";
	unsigned int st;

	fprintf(out, "pid %d (%s): %" PRIu64 " TCP", pid, comm, k->tcp_open);

	for (st = UVS_TCP_ESTABLISHED; st < UVS_SOCK_STATES; st++) {
		if (!k->tcp_states[st])
			continue;
		fprintf(out, "%s%" PRIu64 " %s", sep, k->tcp_states[st], uvs_tcp_state_name(st));
		sep = ", ";
	}
	fprintf(out, "%s, %" PRIu64 " UDP, %" PRIu64 " Unix, %" PRIu64 " other\n",
		k->tcp_open ? ")" : "", k->udp_open, k->unix_open, k->other_open);
}

static int width(const struct uvs_socket_table *t, bool remote)
{
	char buf[64];
	int w = remote ? 6 : 5; /* "REMOTE", "LOCAL" */
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct uvs_sock *s = &t->rows[i];
		int n;

		uvs_format_endpoint(s->family, remote ? s->remote : s->local,
				    remote ? s->remote_port : s->local_port, buf, sizeof(buf));
		n = (int)strlen(buf);
		if (n > w)
			w = n;
	}
	return w;
}

int uvs_text_socket_table(FILE *out, int pid, const char *comm, const struct uvs_socket_table *t,
			  const struct uvs_sockets_snapshot *sum)
{
	int wl = width(t, false), wr = width(t, true);
	size_t i;

	put_summary(out, pid, comm, sum);
	if (sum->listeners)
		fprintf(out, "accept queues: longest %" PRIu64 " of %" PRIu64 ", %" PRIu64
			" full\n", sum->accept_queue_max, sum->accept_queue_limit,
			sum->accept_queue_full);
	if (!t->n)
		return ferror(out) ? -EIO : 0;
	fprintf(out, ROW_FMT, "PROTO", "STATE", "RECV-Q", "SEND-Q", wl, "LOCAL", wr, "REMOTE", "RTT",
		"RETRANS", "IDLE");
	for (i = 0; i < t->n; i++) {
		const struct uvs_sock *s = &t->rows[i];
		bool tcp = s->protocol == IPPROTO_TCP;
		char local[64], remote[64], rq[16], wq[16], rtt[UVS_DURATION_BUF] = "-";
		char retrans[16] = "-", idle[UVS_DURATION_BUF] = "-";

		uvs_format_endpoint(s->family, s->local, s->local_port, local, sizeof(local));
		uvs_format_endpoint(s->family, s->remote, s->remote_port, remote, sizeof(remote));
		snprintf(rq, sizeof(rq), "%u", s->rqueue);
		snprintf(wq, sizeof(wq), "%u", s->wqueue);
		if (s->has_info && s->state != UVS_TCP_LISTEN) {
			uint32_t last = s->last_recv_ms < s->last_send_ms ? s->last_recv_ms :
									     s->last_send_ms;

			uvs_format_duration((uint64_t)s->rtt_us * 1000, rtt, sizeof(rtt));
			snprintf(retrans, sizeof(retrans), "%u", s->retrans);
			uvs_format_duration((uint64_t)last * 1000000, idle, sizeof(idle));
		}
		fprintf(out, ROW_FMT, tcp ? "tcp" : "udp",
			tcp ? uvs_tcp_state_name(s->state) :
			      s->state == UVS_TCP_ESTABLISHED ? "CONNECTED" : "UNCONN",
			rq, wq, wl, local, wr, remote, rtt, retrans, idle);
	}
	return ferror(out) ? -EIO : 0;
}
