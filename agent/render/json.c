// SPDX-License-Identifier: MIT
/*
 * JSON lines rendering. Hand-written rather than a library: the shapes are few and fixed, and
 * the golden tests pin every byte. Strings that come from the target (comm, paths) are
 * escaped and forced to valid UTF-8, so one odd thread name cannot break a consumer's parser.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "core/profile.h"
#include "render/json.h"
#include "util/text.h"
#include "core/syscall_names.h"

static void json_str_n(FILE *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;

	fputc('"', out);
	while (i < n) {
		if (s[i] == '"' || s[i] == '\\') {
			fputc('\\', out);
			fputc(s[i++], out);
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(out, "\\u%04x", s[i++]);
		} else if (s[i] < 0x80) {
			fputc(s[i++], out);
		} else if ((len = uvs_utf8_len(s + i, n - i))) {
			fwrite(s + i, 1, len, out);
			i += len;
		} else {
			fputs("\\ufffd", out); /* one replacement per invalid byte */
			i++;
		}
	}
	fputc('"', out);
}

/* NULL and "" both mean "not known" in the structs that reach us: one spelling, null. */
static void json_str(FILE *out, const char *s)
{
	if (s && *s)
		json_str_n(out, s, strlen(s));
	else
		fputs("null", out);
}

void uvs_json_string(FILE *out, const char *s)
{
	json_str(out, s);
}

static const char *json_bool(bool b)
{
	return b ? "true" : "false";
}

/* A 0..1 ratio with 4 decimals, computed in integers so LC_NUMERIC cannot turn '.' into ','. */
static void json_ratio(FILE *out, double r)
{
	uint64_t x;

	if (!(r > 0)) /* also NaN, which JSON cannot carry */
		r = 0;
	if (r > 1)
		r = 1;
	x = (uint64_t)(r * 10000 + 0.5);
	fprintf(out, "%" PRIu64 ".%04" PRIu64, x / 10000, x % 10000);
}

static int json_end(FILE *out)
{
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

static void json_phase(FILE *out, enum uvs_phase p, const struct uvs_phase_snapshot *ph)
{
	fprintf(out,
		"\"%s\":{\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64 ",\"p50_ns\":%" PRIu64
		",\"p99_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 "}",
		uvs_phase_name(p), ph->count, ph->total_ns, ph->p50_ns, ph->p99_ns, ph->max_ns);
}

static void json_u64_or_null(FILE *out, const char *name, bool valid, uint64_t v)
{
	if (valid)
		fprintf(out, ",\"%s\":%" PRIu64, name, v);
	else
		fprintf(out, ",\"%s\":null", name);
}

static void json_phases(FILE *out, const struct uvs_loop_snapshot *l)
{
	int p;

	if (!l->has_phases) {
		fputs("null", out);
		return;
	}
	fputc('{', out);
	for (p = 0; p < UVS_PHASE_COUNT; p++) {
		if (p)
			fputc(',', out);
		json_phase(out, p, &l->phases[p]);
	}
	fputc('}', out);
}

/* loops[].gc: null when V8's collector is not probed. */
static void json_gc(FILE *out, const struct uvs_loop_snapshot *l)
{
	if (!l->has_gc) {
		fputs("null", out);
		return;
	}
	fprintf(out,
		"{\"count\":%" PRIu64 ",\"major\":%" PRIu64 ",\"total_ns\":%" PRIu64
		",\"max_ns\":%" PRIu64 "}",
		l->gc.count, l->gc.major, l->gc.total_ns, l->gc.max_ns);
}

static void json_loop(FILE *out, const struct uvs_loop_snapshot *l)
{
	fprintf(out, "{\"tid\":%d,\"role\":\"%s\",\"comm\":", l->tid, uvs_role_name(l->role));
	json_str_n(out, l->comm, strnlen(l->comm, sizeof(l->comm)));
	/* What the collector could not measure is null, never 0 (the proc backend). */
	json_u64_or_null(out, "iterations", !l->no_iterations, l->iterations);
	fprintf(out, ",\"busy_ns\":%" PRIu64 ",\"idle_ns\":%" PRIu64 ",\"utilization\":",
		l->busy_ns, l->idle_ns);
	json_ratio(out, l->utilization);
	json_u64_or_null(out, "busy_p50_ns", !l->no_busy_dist, l->busy_p50_ns);
	json_u64_or_null(out, "busy_p99_ns", !l->no_busy_dist, l->busy_p99_ns);
	json_u64_or_null(out, "busy_max_ns", !l->no_busy_dist, l->busy_max_ns);
	fprintf(out,
		",\"blocks\":%" PRIu64 ",\"blocked_now\":%s,\"blocked_for_ns\":%" PRIu64
		",\"phases\":",
		l->blocks, json_bool(l->blocked_now), l->blocked_now ? l->blocked_for_ns : 0);
	json_phases(out, l);
	fputs(",\"gc\":", out);
	json_gc(out, l);
	fputc('}', out);
}

static void json_pool_kind(FILE *out, enum uvs_pool_kind k, const struct uvs_pool_snapshot *p)
{
	const struct uvs_pool_kind_snapshot *ks = &p->kinds[k];
	unsigned int op;
	bool first = true;

	fprintf(out,
		"\"%s\":{\"submitted\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"wait_p50_ns\":%" PRIu64
		",\"wait_p99_ns\":%" PRIu64 ",\"service_p50_ns\":%" PRIu64 ",\"service_p99_ns\":%" PRIu64,
		uvs_pool_kind_name(k), ks->submitted, ks->completed, ks->wait_p50_ns,
		ks->wait_p99_ns, ks->service_p50_ns, ks->service_p99_ns);
	/* Not measured (no --pool-delay): null, not a zero that reads as "no delay". */
	if (p->completion)
		fprintf(out, ",\"completion_p50_ns\":%" PRIu64 ",\"completion_p99_ns\":%" PRIu64,
			ks->completion_p50_ns, ks->completion_p99_ns);
	else
		fputs(",\"completion_p50_ns\":null,\"completion_p99_ns\":null", out);
	if (k == UVS_POOL_DNS) {
		size_t i;

		fputs(",\"hosts\":[", out);
		for (i = 0; i < p->ndns && i < UVS_DNS_TOP; i++) {
			fputs(i ? ",{\"name\":" : "{\"name\":", out);
			json_str_n(out, p->dns[i].name, strnlen(p->dns[i].name, UVS_DNS_NAME_LEN));
			fprintf(out, ",\"count\":%" PRIu64 "}", p->dns[i].count);
		}
		fputc(']', out);
		fprintf(out, ",\"hosts_estimated\":%s", p->dns_estimated ? "true" : "false");
	}
	if (k == UVS_POOL_FS) {
		fputs(",\"ops\":{", out);
		for (op = 0; op < UVS_FS_OPS; op++) {
			const char *name = uvs_fs_op_name(op);

			if (!p->fs_ops[op])
				continue;
			fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", name ? name : "unknown",
				p->fs_ops[op]);
			first = false;
		}
		fputc('}', out);
	}
	fputc('}', out);
}

/* "threadpool": the libuv pool of the whole process, or null when it is not measured. */
static void json_pool(FILE *out, const struct uvs_pool_snapshot *p)
{
	int k;

	fputs(",\"threadpool\":", out);
	if (!p->available) {
		fputs("null", out);
		return;
	}
	fprintf(out,
		"{\"size\":%u,\"queued\":%" PRId64 ",\"queued_max\":%" PRIu64 ",\"running\":%" PRId64
		",\"fs_io_uring\":%s,\"completion\":%s,\"saturation\":",
		p->size, p->queued, p->queued_max, p->running, json_bool(p->fs_io_uring),
		json_bool(p->completion));
	json_ratio(out, p->saturation);
	if (p->statics_only) {
		/* libuv's statics say nothing of the jobs themselves (the proc backend). */
		fputs(",\"submitted\":null,\"completed\":null,\"sync_fs_on_loop\":null,"
		      "\"sync_fs_on_loop_ns\":null,\"sync_fs_other\":null,\"kinds\":null}", out);
		return;
	}
	fprintf(out,
		",\"submitted\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"sync_fs_on_loop\":%" PRIu64
		",\"sync_fs_on_loop_ns\":%" PRIu64 ",\"sync_fs_other\":%" PRIu64 ",\"kinds\":{",
		p->submitted, p->completed, p->sync_fs_on_loop, p->sync_fs_on_loop_ns,
		p->sync_fs_other);
	for (k = 0; k < UVS_POOL_KINDS; k++) {
		if (k)
			fputc(',', out);
		json_pool_kind(out, (enum uvs_pool_kind)k, p);
	}
	fputs("}}", out);
}

/* "fds": the target's descriptors by type, or null when /proc/PID/fd could not be read. */
static void json_fds(FILE *out, const struct uvs_fd_snapshot *f)
{
	int t;

	fputs(",\"fds\":", out);
	if (!f->available) {
		fputs("null", out);
		return;
	}
	fprintf(out, "{\"open\":%" PRIu64 ",\"limit\":", f->open);
	if (f->limit == UINT64_MAX || !f->limit)
		fputs("null", out);
	else
		fprintf(out, "%" PRIu64, f->limit);
	fprintf(out, ",\"growth\":%" PRId64 ",\"by_type\":{", f->growth);
	for (t = 0; t < UVS_FD_TYPES; t++)
		fprintf(out, "%s\"%s\":%" PRIu64, t ? "," : "", uvs_fd_type_name(t), f->by_type[t]);
	fprintf(out, "},\"source\":\"%s\",\"drift\":", f->from_syscalls ? "syscalls" : "proc");
	if (f->rescanned)
		fprintf(out, "%" PRId64, f->drift);
	else
		fputs("null", out);
	fputc('}', out);
}

static void json_syscall_row(FILE *out, const struct uvs_syscall_row *r)
{
	char buf[32];

	fputs("{\"name\":", out);
	json_str(out, uvs_syscall_name(r->nr, buf, sizeof(buf)));
	fprintf(out,
		",\"nr\":%u,\"role\":\"%s\",\"count\":%" PRIu64 ",\"errors\":%" PRIu64
		",\"total_ns\":%" PRIu64 ",\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
		",\"max_ns\":%" PRIu64 "}",
		r->nr, uvs_sys_role_name(r->role), r->count, r->errors, r->total_ns, r->p50_ns,
		r->p99_ns, r->max_ns);
}

static void json_slow_call(FILE *out, const struct uvs_slow_call *c)
{
	char buf[32];

	fprintf(out, "{\"tid\":%d,\"role\":\"%s\",\"name\":", c->tid, uvs_role_name(c->role));
	json_str(out, uvs_syscall_name(c->nr, buf, sizeof(buf)));
	fprintf(out, ",\"nr\":%u,\"duration_ns\":%" PRIu64 ",\"ret\":%" PRId64 ",\"ts_ns\":%" PRIu64 "}",
		c->nr, c->duration_ns, c->ret, c->ts_ns);
}

/* "syscalls": the target's system calls by thread role, or null when not measured. */
static void json_syscalls(FILE *out, const struct uvs_syscalls_snapshot *y)
{
	size_t i;
	int r;

	fputs(",\"syscalls\":", out);
	if (!y->available) {
		fputs("null", out);
		return;
	}
	fprintf(out, "{\"count\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"by_role\":{", y->count,
		y->errors);
	for (r = 0; r < UVS_SYS_ROLES; r++)
		fprintf(out, "%s\"%s\":{\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64 "}",
			r ? "," : "", uvs_sys_role_name(r), y->role_count[r], y->role_ns[r]);
	fputs("},\"calls\":[", out);
	for (i = 0; i < y->nrows; i++) {
		if (i)
			fputc(',', out);
		json_syscall_row(out, &y->rows[i]);
	}
	fprintf(out, "],\"calls_dropped\":%" PRIu64 ",\"slow_threshold_ns\":%" PRIu64
		",\"slow_on_loop_count\":%" PRIu64 ",\"slow_on_loop\":[",
		y->rows_dropped, y->slow_threshold_ns, y->slow_count);
	for (i = 0; i < y->nslow; i++) {
		if (i)
			fputc(',', out);
		json_slow_call(out, &y->slow[i]);
	}
	fprintf(out, "],\"lost\":%" PRIu64 "}", y->lost);
}

static void json_endpoint(FILE *out, int family, const uint8_t addr[16], uint16_t port)
{
	char buf[64];

	uvs_format_endpoint_json(family, addr, port, buf, sizeof(buf));
	json_str(out, buf);
}

/* The object behind "sockets" (intervals) and "summary" (`uvscope sockets --json`). */
static void json_sockets_object(FILE *out, const struct uvs_sockets_snapshot *k)
{
	unsigned int st;
	size_t i;

	fprintf(out, "{\"tcp\":{\"open\":%" PRIu64 ",\"states\":{", k->tcp_open);
	for (st = UVS_TCP_ESTABLISHED; st <= UVS_TCP_CLOSING; st++)
		fprintf(out, "%s\"%s\":%" PRIu64, st == UVS_TCP_ESTABLISHED ? "" : ",",
			uvs_tcp_state_name(st), k->tcp_states[st]);
	fprintf(out, "},\"listeners\":%" PRIu64 ",\"accept_queue_max\":%" PRIu64,
		k->listeners, k->accept_queue_max);
	json_u64_or_null(out, "accept_queue_limit", !k->accept_limit_unknown, k->accept_queue_limit);
	json_u64_or_null(out, "accept_queue_full", !k->accept_limit_unknown, k->accept_queue_full);
	json_u64_or_null(out, "connects", k->traced, k->connects);
	json_u64_or_null(out, "connect_p50_ns", k->traced, k->connect_p50_ns);
	json_u64_or_null(out, "connect_p99_ns", k->traced, k->connect_p99_ns);
	json_u64_or_null(out, "connect_max_ns", k->traced, k->connect_max_ns);
	json_u64_or_null(out, "connect_failed", k->traced, k->connect_failed);
	json_u64_or_null(out, "connect_refused", k->traced, k->connect_refused);
	json_u64_or_null(out, "connect_timed_out", k->traced, k->connect_timed_out);
	json_u64_or_null(out, "accepted", k->traced, k->accepted);
	json_u64_or_null(out, "close_wait_entered", k->traced, k->close_wait_entered);
	json_u64_or_null(out, "close_wait_p99_ns", k->traced, k->close_wait_p99_ns);
	json_u64_or_null(out, "time_wait_entered", k->traced, k->time_wait_entered);
	json_u64_or_null(out, "retransmits", k->traced || k->retrans_from_info, k->retransmits);
	fputs(",\"retransmit_peers\":", out);
	if (!k->traced) {
		fputs("null", out);
	} else {
		fputc('[', out);
		for (i = 0; i < k->npeers && i < UVS_TOP_PEERS; i++) {
			fputs(i ? ",{\"peer\":" : "{\"peer\":", out);
			json_endpoint(out, k->peers[i].family, k->peers[i].addr, k->peers[i].port);
			fprintf(out, ",\"count\":%" PRIu64 "}", k->peers[i].count);
		}
		fputc(']', out);
	}
	fprintf(out, "},\"udp\":{\"open\":%" PRIu64 ",\"drops\":%" PRIu64 "},\"unix\":{\"open\":%"
		PRIu64 "},\"other\":{\"open\":%" PRIu64 "},\"traced\":%s}", k->udp_open,
		k->udp_drops, k->unix_open, k->other_open, json_bool(k->traced));
}

/* "sockets": the target's sockets, or null when the socket tables could not be read. */
static void json_sockets(FILE *out, const struct uvs_sockets_snapshot *k)
{
	fputs(",\"sockets\":", out);
	if (!k->available)
		fputs("null", out);
	else
		json_sockets_object(out, k);
}

static void json_socket_row(FILE *out, const struct uvs_sock *s)
{
	bool tcp = s->protocol == IPPROTO_TCP;
	const char *state = tcp ? uvs_tcp_state_name(s->state) :
				  s->state == UVS_TCP_ESTABLISHED ? "CONNECTED" : "UNCONN";

	fprintf(out, "{\"proto\":\"%s\",\"family\":\"%s\",\"state\":\"%s\",\"local\":",
		tcp ? "tcp" : "udp", s->family == AF_INET6 ? "ipv6" : "ipv4", state);
	json_endpoint(out, s->family, s->local, s->local_port);
	fputs(",\"remote\":", out);
	json_endpoint(out, s->family, s->remote, s->remote_port);
	fprintf(out, ",\"recv_q\":%u,\"send_q\":%u", s->rqueue, s->wqueue);
	json_u64_or_null(out, "rtt_us", s->has_info, s->rtt_us);
	json_u64_or_null(out, "retransmits", s->has_info, s->retrans);
	json_u64_or_null(out, "idle_ms", s->has_info,
			 s->last_recv_ms < s->last_send_ms ? s->last_recv_ms : s->last_send_ms);
	json_u64_or_null(out, "drops", s->has_drops, s->drops);
	fprintf(out, ",\"inode\":%u}", s->inode);
}

int uvs_json_socket_table(FILE *out, int pid, uint64_t ts_ns, const struct uvs_socket_table *t,
			  const struct uvs_sockets_snapshot *sum)
{
	size_t i;

	fprintf(out, "{\"type\":\"sockets\",\"schema\":%d,\"pid\":%d,\"ts_ns\":%" PRIu64
		",\"summary\":", UVS_SCHEMA_VERSION, pid, ts_ns);
	json_sockets_object(out, sum);
	fputs(",\"sockets\":[", out);
	for (i = 0; i < t->n; i++) {
		if (i)
			fputc(',', out);
		json_socket_row(out, &t->rows[i]);
	}
	fputs("]}", out);
	return json_end(out);
}

/* [{"samples":N,"off_cpu":M,"time_ns":T,"frames":["innermost",...]},...] */
static void json_stack_list(FILE *out, const struct uvs_alert_stack *list, size_t n, char *text,
			    size_t cap)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		const struct uvs_alert_stack *k = &list[i];

		fprintf(out, "%s{\"samples\":%" PRIu64 ",\"off_cpu\":%" PRIu64 ",\"time_ns\":%" PRIu64
			",\"frames\":[", i ? "," : "", k->samples, k->off_cpu, k->time_ns);
		for (size_t f = 0; f < k->nframes; f++) {
			if (f)
				fputc(',', out);
			json_str(out, uvs_frame_text(k->frames[f], text, cap));
		}
		fputs("]}", out);
	}
	fputc(']', out);
}

/*
 * A block's stacks: "samples" taken in it, and "stacks" (most sampled first), each with its
 * frames innermost first as the flame outputs name them. null when not sampling.
 */
static void json_block_stacks(FILE *out, const struct uvs_alert_stacks *st)
{
	char text[512];

	if (!st) {
		fputs(",\"samples\":null,\"stacks_cover_ns\":null,\"stacks\":null,\"places\":null",
		      out);
		return;
	}
	fprintf(out, ",\"samples\":%" PRIu64 ",\"stacks_cover_ns\":", st->samples);
	if (st->cover_ns)
		fprintf(out, "%" PRIu64, st->cover_ns);
	else
		fputs("null", out);
	fputs(",\"stacks\":", out);
	json_stack_list(out, st->stacks, st->nstacks, text, sizeof(text));
	fputs(",\"places\":", out);
	json_stack_list(out, st->places, st->nplaces, text, sizeof(text));
}

/* "agent": what uvscope itself lost (every drop and failed insert), in the window. */
static void json_agent(FILE *out, const struct uvs_agent_snapshot *a)
{
	fprintf(out,
		",\"agent\":{\"events\":%" PRIu64 ",\"drops\":%" PRIu64
		",\"insert_failures\":%" PRIu64 ",\"pool_jobs_lost\":%" PRIu64
		",\"pool_jobs_unfollowed\":%" PRIu64 ",\"pool_jobs_unseen\":%" PRIu64
		",\"pool_records_dropped\":%" PRIu64
		",\"slow_syscalls_dropped\":%" PRIu64
		",\"syscall_pairs_unfit\":%" PRIu64 ",\"sockets_lost\":%" PRIu64
		",\"stack_samples\":%" PRIu64 ",\"stack_samples_lost\":%" PRIu64
		",\"gc_threads_lost\":%" PRIu64 ",\"gc_records_dropped\":%" PRIu64
		",\"probe_hits\":%" PRIu64 "}",
		a->events, a->drops, a->insert_failures, a->pool_jobs_lost, a->pool_jobs_unfollowed,
		a->pool_jobs_unseen, a->pool_records_dropped,
		a->slow_syscalls_dropped, a->syscall_pairs_unfit, a->sockets_lost, a->stack_samples,
		a->stack_samples_lost, a->gc_threads_lost, a->gc_records_dropped, a->probe_hits);
}

static int json_snapshot(FILE *out, const char *type, const struct uvs_snapshot *s)
{
	size_t i, n = s->nloops < UVS_MAX_LOOPS ? s->nloops : UVS_MAX_LOOPS;

	fprintf(out,
		"{\"type\":\"%s\",\"schema\":%d,\"ts_ns\":%" PRIu64 ",\"window_ns\":%" PRIu64
		",\"pid\":%d,\"loops\":[",
		type, UVS_SCHEMA_VERSION, s->ts_ns, s->window_ns, s->pid);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		json_loop(out, &s->loops[i]);
	}
	fprintf(out, "],\"loops_left_out\":%" PRIu64, s->loops_left_out);
	json_pool(out, &s->pool);
	json_syscalls(out, &s->syscalls);
	json_fds(out, &s->fds);
	json_sockets(out, &s->sockets);
	json_agent(out, &s->agent);
	fputs(",\"guard\":", out);
	uvs_json_guard_object(out, &s->guard, !strcmp(type, "summary"));
	fputc('}', out);
	return json_end(out);
}

int uvs_json_pool_job(FILE *out, int pid, const struct uvs_pool_job_record *j)
{
	const char *op = j->fs_type >= 0 ? uvs_fs_op_name((unsigned int)j->fs_type) : NULL;

	fprintf(out, "{\"type\":\"pool_job\",\"schema\":%d,\"pid\":%d,\"ts_ns\":%" PRIu64
		",\"tid\":%d,\"kind\":\"%s\",\"op\":", UVS_SCHEMA_VERSION, pid, j->ts_ns, j->tid,
		uvs_pool_kind_name(j->kind));
	if (op)
		json_str(out, op);
	else
		fputs(j->fs_type >= 0 ? "\"unknown\"" : "null", out);
	fprintf(out, ",\"wait_ns\":%" PRIu64 ",\"service_ns\":%" PRIu64 "}", j->wait_ns,
		j->service_ns);
	return json_end(out);
}

int uvs_json_interval(FILE *out, const struct uvs_snapshot *s)
{
	return json_snapshot(out, "interval", s);
}

int uvs_json_summary(FILE *out, const struct uvs_snapshot *s)
{
	return json_snapshot(out, "summary", s);
}

/* utilization and gc_share: the loop, its share of the window and the rule's threshold. */
static void json_loop_share(FILE *out, const char *name, const struct uvs_alert_loop_share *l)
{
	fprintf(out, ",\"tid\":%d,\"role\":\"%s\",\"%s\":", l->tid, uvs_role_name(l->role), name);
	json_ratio(out, l->share);
	fputs(",\"threshold\":", out);
	json_ratio(out, l->threshold);
	fprintf(out, ",\"window_ns\":%" PRIu64, l->window_ns);
}

static void json_alert_kind_fields(FILE *out, const struct uvs_alert *a)
{
	switch (a->kind) {
	case UVS_ALERT_LOOP_BLOCKED: {
		const struct uvs_alert_loop_blocked *b = &a->loop_blocked;

		fprintf(out, ",\"tid\":%d,\"role\":\"%s\",\"ongoing\":%s,\"blocked_ns\":%" PRIu64
			",\"threshold_ns\":%" PRIu64 ",\"since_attach\":%s", b->tid,
			uvs_role_name(b->role), json_bool(b->ongoing), b->blocked_ns, b->threshold_ns,
			json_bool(b->since_attach));
		if (!b->ongoing && b->has_gc)
			fprintf(out, ",\"gc_ns\":%" PRIu64, b->gc_ns);
		if (b->stopped)
			fprintf(out, ",\"stopped\":\"%s\"", uvs_loop_stop_name(b->stopped));
		else
			fputs(",\"stopped\":null", out);
		json_block_stacks(out, b->stacks);
		return;
	}
	case UVS_ALERT_POOL_SATURATED:
		fputs(",\"saturation\":", out);
		json_ratio(out, a->pool_saturated.saturation);
		fprintf(out, ",\"queued_max\":%" PRIu64 ",\"size\":%u,\"running\":%" PRId64
			",\"window_ns\":%" PRIu64, a->pool_saturated.queued_max,
			a->pool_saturated.size, a->pool_saturated.running,
			a->pool_saturated.window_ns);
		return;
	case UVS_ALERT_SYNC_IO_ON_LOOP:
		fprintf(out, ",\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64 ",\"window_ns\":%" PRIu64,
			a->sync_io.count, a->sync_io.total_ns, a->sync_io.window_ns);
		return;
	case UVS_ALERT_FD_LIMIT:
		fprintf(out, ",\"open\":%" PRIu64 ",\"limit\":%" PRIu64, a->fd_limit.open,
			a->fd_limit.limit);
		return;
	case UVS_ALERT_FD_GROWTH:
		fprintf(out, ",\"open\":%" PRIu64 ",\"limit\":%" PRIu64 ",\"windows\":%d",
			a->fd_growth.open, a->fd_growth.limit, a->fd_growth.windows);
		return;
	case UVS_ALERT_CLOSE_WAIT_GROWTH:
		fprintf(out, ",\"close_wait\":%" PRIu64 ",\"windows\":%d,\"window_ns\":%" PRIu64,
			a->close_wait_growth.close_wait, a->close_wait_growth.windows,
			a->close_wait_growth.window_ns);
		return;
	case UVS_ALERT_ACCEPT_QUEUE_FULL:
		fprintf(out, ",\"accept_queue\":%" PRIu64 ",\"limit\":%" PRIu64 ",\"window_ns\":%" PRIu64,
			a->accept_queue_full.queued, a->accept_queue_full.limit,
			a->accept_queue_full.window_ns);
		return;
	case UVS_ALERT_RETRANSMIT_RATE:
		fprintf(out, ",\"retransmits\":%" PRIu64 ",\"window_ns\":%" PRIu64,
			a->retransmit_rate.retransmits, a->retransmit_rate.window_ns);
		return;
	case UVS_ALERT_LOOP_UTILIZATION:
		json_loop_share(out, "utilization", &a->loop_utilization);
		return;
	case UVS_ALERT_GC_SHARE:
		json_loop_share(out, "gc_share", &a->gc_share);
		return;
	case UVS_ALERT_POOL_QUEUE_WAIT:
		fprintf(out, ",\"pool_kind\":\"%s\",\"wait_p99_ns\":%" PRIu64 ",\"threshold_ns\":%"
			PRIu64 ",\"window_ns\":%" PRIu64, uvs_pool_kind_name(a->pool_queue_wait.pool_kind),
			a->pool_queue_wait.wait_p99_ns, a->pool_queue_wait.threshold_ns,
			a->pool_queue_wait.window_ns);
		return;
	}
}

/*
 * The fields of an alert after "kind" and "pid": its state and severity, those of its kind,
 * then how long it fired (resolved) and how many the rate limit held back before it.
 */
void uvs_json_alert_fields(FILE *out, const struct uvs_alert *a)
{
	fprintf(out, ",\"state\":\"%s\",\"severity\":\"%s\"", uvs_alert_status_name(a->state),
		uvs_severity_name(a->severity));
	json_alert_kind_fields(out, a);
	fprintf(out, ",\"firing_ns\":%" PRIu64 ",\"suppressed\":%" PRIu64, a->firing_ns,
		a->suppressed);
	/* Only when so: uvscope stopped watching, the condition did not end. */
	if (a->detached)
		fputs(",\"detached\":true", out);
}

int uvs_json_alert(FILE *out, const struct uvs_alert *a)
{
	fprintf(out, "{\"type\":\"alert\",\"schema\":%d,\"kind\":\"%s\",\"pid\":%d",
		UVS_SCHEMA_VERSION, uvs_alert_kind_name(a->kind), a->pid);
	uvs_json_alert_fields(out, a);
	fprintf(out, ",\"ts_ns\":%" PRIu64 "}", a->ts_ns);
	return json_end(out);
}

/* "pool": how the thread pool is followed, or null. */
static void json_names(FILE *out, const char *key, const char *const *names, size_t n)
{
	fprintf(out, "%s\"%s\":[", strcmp(key, "exact") ? "," : "", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		json_str(out, names[i]);
	}
	fputc(']', out);
}

/* "figures": which are exact, sampled or unavailable; null when the collector measures all. */
static void json_figures(FILE *out, const struct uvs_figures *f)
{
	fputs(",\"figures\":", out);
	if (!f) {
		fputs("null", out);
		return;
	}
	fputc('{', out);
	json_names(out, "exact", f->exact, f->nexact);
	json_names(out, "sampled", f->sampled, f->nsampled);
	json_names(out, "unavailable", f->unavailable, f->nunavailable);
	fputc('}', out);
}

static void json_pool_hooks(FILE *out, const struct uvs_pool_hooks *p)
{
	size_t i;

	if (!p) {
		fputs(",\"pool\":null", out);
		return;
	}
	fprintf(out, ",\"pool\":{\"sites\":%zu,\"plan\":", p->sites);
	json_str(out, p->plan ? p->plan : "4-probe");
	if (p->plan_why) {
		fputs(",\"plan_why\":", out);
		json_str(out, p->plan_why);
	}
	fprintf(out, ",\"hits_per_job\":%u,\"fs_confirmed\":%s,\"delay\":%s", p->hits_per_job,
		json_bool(p->fs_confirmed), json_bool(p->delay));
	if (p->delay_why) {
		fputs(",\"delay_why\":", out);
		json_str(out, p->delay_why);
	}
	fputs(",\"cpu_work\":", out);
	json_str(out, p->cpu_work);
	if (p->cpu_work_why) {
		fputs(",\"cpu_work_why\":", out);
		json_str(out, p->cpu_work_why);
	}
	fputs(",\"single_stepped\":[", out);
	for (i = 0; i < p->nstepped && i < UVS_POOL_HOOKS_MAX; i++) {
		if (i)
			fputc(',', out);
		json_str(out, p->stepped[i]);
	}
	fputs("]}", out);
}

int uvs_json_hello(FILE *out, const struct uvs_attach_info *t)
{
	size_t i;

	fprintf(out, "{\"type\":\"attach\",\"schema\":%d,\"pid\":%d,", UVS_SCHEMA_VERSION, t->pid);
	/* Where it lives: null when it is not in a PID namespace or container of its own. */
	if (t->ns_pid > 0 && t->ns_pid != t->pid)
		fprintf(out, "\"ns_pid\":%d,", t->ns_pid);
	else
		fputs("\"ns_pid\":null,", out);
	fputs("\"container\":", out);
	json_str(out, t->container && t->container[0] ? t->container : NULL);
	fputs(",\"exe\":", out);
	json_str(out, t->exe);
	fputs(",\"build_id\":", out);
	json_str(out, t->build_id);
	fputs(",\"libuv_version\":", out);
	json_str(out, t->libuv_version);
	fputs(",\"node_version\":", out);
	json_str(out, t->node_version);
	fputs(",\"mode\":", out);
	json_str(out, t->mode);
	fputs(",\"epoll_hooks\":", out);
	json_str(out, t->epoll_hooks);
	if (t->epoll_hooks_per_wait > 0)
		fprintf(out, ",\"epoll_hooks_per_wait\":%d", t->epoll_hooks_per_wait);
	else
		fputs(",\"epoll_hooks_per_wait\":null", out);
	fprintf(out, ",\"wait_in_phases\":%s", t->wait_in_phases ? "true" : "false");
	fprintf(out, ",\"waits_at_poll_entry\":%s", t->waits_at_poll_entry ? "true" : "false");
	fputs(",\"host_cost\":", out);
	if (t->host_cost)
		json_str(out, t->host_cost);
	else
		fputs("null", out);
	fputs(",\"stacks\":", out);
	if (t->stacks)
		json_str(out, t->stacks);
	else
		fputs("null", out);
	json_pool_hooks(out, t->pool);
	fputs(",\"collector\":", out);
	json_str(out, t->collector);
	json_figures(out, t->figures);
	fprintf(out, ",\"block_threshold_ns\":%" PRIu64 ",\"interval_ns\":%" PRIu64,
		t->block_threshold_ns, t->interval_ns);
	if (t->guard_budget)
		fprintf(out, ",\"guard_budget\":%" PRIu64, t->guard_budget);
	else
		fputs(",\"guard_budget\":null", out);
	fputs(",\"unavailable\":[", out);
	for (i = 0; t->missing && i < t->nmissing; i++) {
		if (i)
			fputc(',', out);
		json_str(out, t->missing[i]);
	}
	fputs("],\"threads\":[", out);
	for (i = 0; t->threads && i < t->nthreads; i++) {
		const struct uvs_thread_brief *th = &t->threads[i];

		fprintf(out, "%s{\"tid\":%d,\"role\":\"%s\",\"comm\":", i ? "," : "", th->tid,
			th->role_known ? uvs_role_name(th->role) : "unknown");
		json_str_n(out, th->comm, strnlen(th->comm, sizeof(th->comm)));
		fputc('}', out);
	}
	fputs("]}", out);
	return json_end(out);
}

static int json_begin(struct uvs_output *o, const struct uvs_attach_info *a)
{
	return uvs_json_hello(o->out, a);
}

static int json_interval(struct uvs_output *o, const struct uvs_snapshot *s)
{
	return uvs_json_interval(o->out, s);
}

static int json_alert(struct uvs_output *o, const struct uvs_alert *a)
{
	return uvs_json_alert(o->out, a);
}

/* Pool jobs get a line each; slow syscalls are in their interval's "slow_on_loop" already. */
static int json_record(struct uvs_output *o, const struct uvs_record *r)
{
	switch (r->kind) {
	case UVS_RECORD_POOL_JOB:
		return uvs_json_pool_job(o->out, r->pid, &r->pool_job);
	case UVS_RECORD_SLOW_SYSCALL:
		return 0;
	case UVS_RECORD_ITERATION:
	case UVS_RECORD_PHASE:
	case UVS_RECORD_GC:
		return 0; /* timeline events: the interval's figures sum them up */
	case UVS_RECORD_GUARD:
		return uvs_json_guard_record(o->out, r->pid, &r->guard);
	}
	return 0;
}

static int json_summary(struct uvs_output *o, const struct uvs_snapshot *s)
{
	return uvs_json_summary(o->out, s);
}

static const struct uvs_output_ops json_ops = {
	.name = "json",
	.begin = json_begin,
	.interval = json_interval,
	.alert = json_alert,
	.record = json_record,
	.summary = json_summary,
};

struct uvs_output *uvs_json_output_new(FILE *out)
{
	return uvs_output_new(&json_ops, out, 0);
}
