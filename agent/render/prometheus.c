// SPDX-License-Identifier: MIT
/*
 * The families are written in a fixed order, each with all its samples together (both formats
 * require that); a family whose source is not measured (no pool probes, no syscall tracing)
 * writes nothing at all rather than zeros that would look like measurements.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/socket_list.h"
#include "render/prometheus.h"

#define FAMILY(var, n, t, h) static const struct uvs_prom_family var = { n, t, h }

/* ---- loops ------------------------------------------------------------------------------------ */

FAMILY(f_iterations, "uvscope_loop_iterations", UVS_PROM_COUNTER,
       "Event loop iterations (entries into the loop's poll) since uvscope attached.");
FAMILY(f_busy, "uvscope_loop_busy_seconds", UVS_PROM_COUNTER,
       "Time the loop spent outside its poll wait (running callbacks), since attach.");
FAMILY(f_idle, "uvscope_loop_idle_seconds", UVS_PROM_COUNTER,
       "Time the loop spent waiting in its poll, since attach.");
FAMILY(f_blocks, "uvscope_loop_blocked_episodes", UVS_PROM_COUNTER,
       "Busy spans at or above the block threshold (--block-ms) that ended, since attach.");
FAMILY(f_blocked, "uvscope_loop_blocked_seconds", UVS_PROM_COUNTER,
       "Total length of the blocked episodes counted in uvscope_loop_blocked_episodes_total.");
FAMILY(f_gc, "uvscope_loop_gc_collections", UVS_PROM_COUNTER,
       "V8 garbage collections on the loop's thread, since attach.");
FAMILY(f_gc_seconds, "uvscope_loop_gc_seconds", UVS_PROM_COUNTER,
       "Time in V8's garbage collector on the loop's thread, since attach.");
FAMILY(f_busy_hist, "uvscope_loop_busy_per_iteration_seconds", UVS_PROM_HISTOGRAM,
       "Busy time of each loop iteration, in power-of-two buckets (values below each bound).");
FAMILY(f_util, "uvscope_loop_utilization_ratio", UVS_PROM_GAUGE,
       "Event loop utilization (busy / (busy + idle)) over the last interval.");
FAMILY(f_blocked_now, "uvscope_loop_blocked_now_seconds", UVS_PROM_GAUGE,
       "How long the loop has been busy past the block threshold right now; 0 when it is not.");

/* `tid="12",role="main"` */
static void loop_labels(const struct uvs_loop_snapshot *l, char *buf, size_t cap)
{
	snprintf(buf, cap, "tid=\"%d\",role=\"%s\"", l->tid, uvs_role_name(l->role));
}

static void loops(struct uvs_prom_writer *w, const struct uvs_snapshot *t,
		  const struct uvs_snapshot *win)
{
	char lb[64];
	size_t i;

/*
 * A loop whose thread exited leaves the page, as an exited process does: the summary keeps it,
 * but a series of a gone thread would stay for ever (63 of a process that starts a Worker per
 * job), and a new thread of the process given the same tid would repeat its labels.
 */
#define EACH_LOOP(s, body)                                                     \
	for (i = 0; i < (s)->nloops && i < UVS_MAX_LOOPS; i++) {               \
		const struct uvs_loop_snapshot *l = &(s)->loops[i];            \
		if (l->exited)                                                 \
			continue;                                              \
		loop_labels(l, lb, sizeof(lb));                                \
		body;                                                          \
	}
	uvs_prom_family(w, &f_iterations);
	/* A figure the collector cannot give has no sample at all, never a 0 (proc backend). */
	EACH_LOOP(t, if (!l->no_iterations) uvs_prom_u64(w, lb, l->iterations));
	uvs_prom_family(w, &f_busy);
	EACH_LOOP(t, uvs_prom_seconds(w, lb, l->busy_ns));
	uvs_prom_family(w, &f_idle);
	EACH_LOOP(t, uvs_prom_seconds(w, lb, l->idle_ns));
	uvs_prom_family(w, &f_blocks);
	EACH_LOOP(t, uvs_prom_u64(w, lb, l->blocks));
	uvs_prom_family(w, &f_blocked);
	EACH_LOOP(t, uvs_prom_seconds(w, lb, l->blocked_ns));
	uvs_prom_family(w, &f_gc);
	EACH_LOOP(t, if (l->has_gc) uvs_prom_u64(w, lb, l->gc.count));
	uvs_prom_family(w, &f_gc_seconds);
	EACH_LOOP(t, if (l->has_gc) uvs_prom_seconds(w, lb, l->gc.total_ns));
	uvs_prom_family(w, &f_busy_hist);
	EACH_LOOP(t, if (!l->no_busy_dist) uvs_prom_histogram(w, lb, &l->busy_hist));
	if (!win)
		return;
	uvs_prom_family(w, &f_util);
	EACH_LOOP(win, uvs_prom_double(w, lb, l->utilization));
	uvs_prom_family(w, &f_blocked_now);
	EACH_LOOP(win, uvs_prom_seconds(w, lb, l->blocked_for_ns));
#undef EACH_LOOP
}

/* ---- the thread pool ---------------------------------------------------------------------------- */

FAMILY(f_submitted, "uvscope_pool_jobs_submitted", UVS_PROM_COUNTER,
       "Jobs submitted to the libuv thread pool, by kind of work, since attach.");
FAMILY(f_completed, "uvscope_pool_jobs_completed", UVS_PROM_COUNTER,
       "Jobs the libuv thread pool finished serving, by kind of work, since attach.");
FAMILY(f_sync_fs, "uvscope_pool_sync_fs_on_loop", UVS_PROM_COUNTER,
       "fs calls that ran synchronously on a loop thread (readFileSync, require), since attach.");
FAMILY(f_wait, "uvscope_pool_wait_seconds", UVS_PROM_HISTOGRAM,
       "Queue wait of pool jobs (submit to the start of service), by kind of work.");
FAMILY(f_service, "uvscope_pool_service_seconds", UVS_PROM_HISTOGRAM,
       "Service time of pool jobs (the work function's run), by kind of work.");
FAMILY(f_threads, "uvscope_pool_threads", UVS_PROM_GAUGE,
       "Threads of the libuv thread pool (0 until the pool starts).");
FAMILY(f_queued, "uvscope_pool_queued_jobs", UVS_PROM_GAUGE,
       "Jobs waiting in the pool's queue at the end of the last interval.");
FAMILY(f_running, "uvscope_pool_running_jobs", UVS_PROM_GAUGE,
       "Jobs being served at the end of the last interval.");
FAMILY(f_saturation, "uvscope_pool_saturation_ratio", UVS_PROM_GAUGE,
       "Share of the last interval with work queued (every pool thread busy).");

static void pool(struct uvs_prom_writer *w, const struct uvs_snapshot *t,
		 const struct uvs_snapshot *win)
{
	const struct uvs_pool_snapshot *p = &t->pool;
	char lb[32];
	int k;

	if (!p->available)
		return;
	if (p->statics_only)
		goto now; /* libuv's statics say nothing of the jobs (the proc backend) */
#define EACH_KIND(body)                                                                    \
	for (k = 0; k < UVS_POOL_KINDS; k++) {                                             \
		snprintf(lb, sizeof(lb), "kind=\"%s\"", uvs_pool_kind_name((enum uvs_pool_kind)k)); \
		body;                                                                      \
	}
	uvs_prom_family(w, &f_submitted);
	EACH_KIND(uvs_prom_u64(w, lb, p->kinds[k].submitted));
	uvs_prom_family(w, &f_completed);
	EACH_KIND(uvs_prom_u64(w, lb, p->kinds[k].completed));
	uvs_prom_family(w, &f_sync_fs);
	uvs_prom_u64(w, NULL, p->sync_fs_on_loop);
	uvs_prom_family(w, &f_wait);
	EACH_KIND(uvs_prom_histogram(w, lb, &p->kinds[k].wait_hist));
	uvs_prom_family(w, &f_service);
	EACH_KIND(uvs_prom_histogram(w, lb, &p->kinds[k].service_hist));
#undef EACH_KIND
now:
	if (!win || !win->pool.available)
		return;
	uvs_prom_family(w, &f_threads);
	uvs_prom_u64(w, NULL, win->pool.size);
	uvs_prom_family(w, &f_queued);
	uvs_prom_u64(w, NULL, win->pool.queued > 0 ? (uint64_t)win->pool.queued : 0);
	uvs_prom_family(w, &f_running);
	uvs_prom_u64(w, NULL, win->pool.running > 0 ? (uint64_t)win->pool.running : 0);
	uvs_prom_family(w, &f_saturation);
	uvs_prom_double(w, NULL, win->pool.saturation);
}

/* ---- syscalls, fds, sockets ----------------------------------------------------------------- */

FAMILY(f_syscalls, "uvscope_syscalls", UVS_PROM_COUNTER,
       "System calls of the target by the role of the calling thread (--syscalls), since attach.");
FAMILY(f_syscall_errors, "uvscope_syscall_errors", UVS_PROM_COUNTER,
       "System calls of the target that returned an error (--syscalls), since attach.");
FAMILY(f_fds, "uvscope_fds_open", UVS_PROM_GAUGE,
       "Open file descriptors of the target by type, at the end of the last interval.");
FAMILY(f_fd_limit, "uvscope_fds_limit", UVS_PROM_GAUGE,
       "The target's soft RLIMIT_NOFILE.");

static void syscalls_and_fds(struct uvs_prom_writer *w, const struct uvs_snapshot *t,
			     const struct uvs_snapshot *win)
{
	char lb[32];
	int i;

	if (t->syscalls.available) {
		uvs_prom_family(w, &f_syscalls);
		for (i = 0; i < UVS_SYS_ROLES; i++) {
			snprintf(lb, sizeof(lb), "role=\"%s\"",
				 uvs_sys_role_name((enum uvs_sys_role)i));
			uvs_prom_u64(w, lb, t->syscalls.role_count[i]);
		}
		uvs_prom_family(w, &f_syscall_errors);
		uvs_prom_u64(w, NULL, t->syscalls.errors);
	}
	if (!win || !win->fds.available)
		return;
	uvs_prom_family(w, &f_fds);
	for (i = 0; i < UVS_FD_TYPES; i++) {
		snprintf(lb, sizeof(lb), "type=\"%s\"", uvs_fd_type_name((enum uvs_fd_type)i));
		uvs_prom_u64(w, lb, win->fds.by_type[i]);
	}
	uvs_prom_family(w, &f_fd_limit);
	if (win->fds.limit == UINT64_MAX)
		uvs_prom_double(w, NULL, INFINITY);
	else if (win->fds.limit)
		uvs_prom_u64(w, NULL, win->fds.limit);
}

FAMILY(f_tcp, "uvscope_tcp_sockets", UVS_PROM_GAUGE,
       "TCP sockets of the target by state, at the end of the last interval.");
FAMILY(f_udp, "uvscope_udp_sockets", UVS_PROM_GAUGE, "Open UDP sockets of the target.");
FAMILY(f_unix, "uvscope_unix_sockets", UVS_PROM_GAUGE, "Open Unix sockets of the target.");
FAMILY(f_acceptq, "uvscope_tcp_accept_queue_max", UVS_PROM_GAUGE,
       "Connections waiting in the target's longest accept queue.");
FAMILY(f_acceptq_limit, "uvscope_tcp_accept_queue_limit", UVS_PROM_GAUGE,
       "The backlog of the listener with the longest accept queue.");
FAMILY(f_accepted, "uvscope_tcp_connections_accepted", UVS_PROM_COUNTER,
       "Connections accepted on the target's listeners (SYN_RECV to ESTABLISHED), since attach.");
FAMILY(f_connects, "uvscope_tcp_connects", UVS_PROM_COUNTER,
       "Connections the target opened (SYN_SENT to ESTABLISHED), since attach.");
FAMILY(f_connect_failed, "uvscope_tcp_connect_failures", UVS_PROM_COUNTER,
       "Connections the target tried to open that failed (SYN_SENT to CLOSE), since attach.");
FAMILY(f_retrans, "uvscope_tcp_retransmits", UVS_PROM_COUNTER,
       "TCP segments the target's sockets retransmitted, since attach.");
FAMILY(f_connect_hist, "uvscope_tcp_connect_seconds", UVS_PROM_HISTOGRAM,
       "Connect latency of the target's outgoing TCP connections (SYN_SENT to ESTABLISHED).");

static void sockets(struct uvs_prom_writer *w, const struct uvs_snapshot *t,
		    const struct uvs_snapshot *win)
{
	const struct uvs_sockets_snapshot *st = &t->sockets;
	char lb[32];
	unsigned int i;

	if (win && win->sockets.available) {
		const struct uvs_sockets_snapshot *s = &win->sockets;

		uvs_prom_family(w, &f_tcp);
		for (i = 1; i < UVS_SOCK_STATES; i++) {
			snprintf(lb, sizeof(lb), "state=\"%s\"", uvs_tcp_state_name(i));
			uvs_prom_u64(w, lb, s->tcp_states[i]);
		}
		uvs_prom_family(w, &f_udp);
		uvs_prom_u64(w, NULL, s->udp_open);
		uvs_prom_family(w, &f_unix);
		uvs_prom_u64(w, NULL, s->unix_open);
		uvs_prom_family(w, &f_acceptq);
		uvs_prom_u64(w, NULL, s->accept_queue_max);
		if (!s->accept_limit_unknown) {
			uvs_prom_family(w, &f_acceptq_limit);
			uvs_prom_u64(w, NULL, s->accept_queue_limit);
		}
	}
	if (!st->traced)
		return;
	uvs_prom_family(w, &f_accepted);
	uvs_prom_u64(w, NULL, st->accepted);
	uvs_prom_family(w, &f_connects);
	uvs_prom_u64(w, NULL, st->connects);
	uvs_prom_family(w, &f_connect_failed);
	uvs_prom_u64(w, NULL, st->connect_failed);
	uvs_prom_family(w, &f_retrans);
	uvs_prom_u64(w, NULL, st->retransmits);
	uvs_prom_family(w, &f_connect_hist);
	uvs_prom_histogram(w, NULL, &st->connect_hist);
}

/* ---- alerts and the agent ------------------------------------------------------------------- */

FAMILY(f_alerts, "uvscope_alerts", UVS_PROM_COUNTER,
       "Alerts uvscope raised about the target, by kind, since attach (a blocked loop counts "
       "once per episode).");
FAMILY(f_lost, "uvscope_agent_lost_events", UVS_PROM_COUNTER,
       "Events, samples and map entries uvscope could not keep (all drops and failed inserts); "
       "0 in a healthy session.");
FAMILY(f_last, "uvscope_last_interval_timestamp_seconds", UVS_PROM_GAUGE,
       "Wall-clock time at the end of the interval this page was built from.");
FAMILY(f_info, "uvscope_target", UVS_PROM_INFO,
       "Always 1: what uvscope found in the target, as labels.");

static void alerts(struct uvs_prom_writer *w, const uint64_t *counts)
{
	char lb[64];
	int k;

	uvs_prom_family(w, &f_alerts);
	for (k = 1; k < UVS_PROM_ALERT_KINDS; k++) {
		snprintf(lb, sizeof(lb), "kind=\"%s\"", uvs_alert_kind_name((enum uvs_alert_kind)k));
		uvs_prom_u64(w, lb, counts ? counts[k] : 0);
	}
}

/*
 * node_version and libuv_version come from the target's files: they go through the escaper.
 * They label this one sample: the base labels are put back after it.
 */
static void info(struct uvs_prom_writer *w, const struct uvs_prom_target *t)
{
	char base[sizeof(w->base)];

	memcpy(base, w->base, sizeof(base));
	uvs_prom_base_label(w, "node_version", t->node_version, 32);
	uvs_prom_base_label(w, "libuv_version", t->libuv_version, 32);
	uvs_prom_base_label(w, "mode", t->mode, 32);
	uvs_prom_family(w, &f_info);
	uvs_prom_u64(w, NULL, 1);
	memcpy(w->base, base, sizeof(base));
}

/* One target's samples, every family in page order (the order of page_families below). */
static void target(struct uvs_prom_writer *w, const struct uvs_prom_page *p)
{
	const struct uvs_snapshot *t = p->totals, *win = p->window;
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", p->target.pid);
	uvs_prom_base_label(w, "pid", pid, sizeof(pid));
	/* The kernel keeps a comm in 16 bytes with its NUL: never more than 15 from the target. */
	uvs_prom_base_label(w, "comm", p->target.comm, 15);
	uvs_prom_base_label(w, "container", p->target.container, 200);
	info(w, &p->target);
	loops(w, t, win);
	pool(w, t, win);
	syscalls_and_fds(w, t, win);
	sockets(w, t, win);
	alerts(w, p->alerts);
	uvs_prom_family(w, &f_lost);
	uvs_prom_u64(w, NULL, uvs_agent_losses(t));
	if (win) {
		uvs_prom_family(w, &f_last);
		uvs_prom_seconds(w, NULL, win->ts_ns);
	}
}

/* ---- a page of several targets -------------------------------------------------------------- */

static const struct uvs_prom_family *const page_families[] = {
	&f_info,
	&f_iterations,
	&f_busy,
	&f_idle,
	&f_blocks,
	&f_blocked,
	&f_gc,
	&f_gc_seconds,
	&f_busy_hist,
	&f_util,
	&f_blocked_now,
	&f_submitted,
	&f_completed,
	&f_sync_fs,
	&f_wait,
	&f_service,
	&f_threads,
	&f_queued,
	&f_running,
	&f_saturation,
	&f_syscalls,
	&f_syscall_errors,
	&f_fds,
	&f_fd_limit,
	&f_tcp,
	&f_udp,
	&f_unix,
	&f_acceptq,
	&f_acceptq_limit,
	&f_accepted,
	&f_connects,
	&f_connect_failed,
	&f_retrans,
	&f_connect_hist,
	&f_alerts,
	&f_lost,
	&f_last,
};

_Static_assert(sizeof(page_families) / sizeof(page_families[0]) == UVS_PROM_FAMILIES,
	       "UVS_PROM_FAMILIES is the number of families in page_families");

/* Where a part's families begin and end, as the writer moves from one to the next. */
struct part_cursor {
	struct uvs_prom_part *part;
	int family; /* index in page_families of the family being written; -1: none */
	int err;
};

static int family_index(const struct uvs_prom_family *f)
{
	for (int i = 0; i < UVS_PROM_FAMILIES; i++)
		if (page_families[i] == f)
			return i;
	return -1;
}

static void part_cursor_move(struct part_cursor *c, FILE *out, const struct uvs_prom_family *f)
{
	long at = ftell(out);

	if (at < 0) {
		c->err = -errno;
		return;
	}
	if (c->family >= 0)
		c->part->end[c->family] = (size_t)at;
	c->family = f ? family_index(f) : -1;
	/* A family missing from page_families, or written twice, would not fit the page. */
	if (f && (c->family < 0 || c->part->end[c->family])) {
		c->err = -EINVAL;
		c->family = -1;
		return;
	}
	if (c->family >= 0)
		c->part->start[c->family] = (size_t)at;
}

static void on_family(struct uvs_prom_writer *w, const struct uvs_prom_family *f)
{
	part_cursor_move(w->arg, w->out, f);
}

int uvs_prom_part_render(struct uvs_prom_part *part, enum uvs_prom_format format,
			 const struct uvs_prom_page *p)
{
	struct uvs_prom_part fresh = { 0 };
	struct part_cursor c = { .part = &fresh, .family = -1 };
	struct uvs_prom_writer w;
	FILE *mem = open_memstream(&fresh.buf, &fresh.len);

	if (!mem)
		return -errno;
	uvs_prom_begin(&w, mem, format);
	w.headless = true;
	w.on_family = on_family;
	w.arg = &c;
	target(&w, p);
	part_cursor_move(&c, mem, NULL);
	if (ferror(mem) && !c.err)
		c.err = -EIO;
	if (fclose(mem) && !c.err)
		c.err = -ENOMEM;
	if (c.err) {
		free(fresh.buf);
		return c.err;
	}
	free(part->buf);
	*part = fresh;
	return 0;
}

void uvs_prom_part_free(struct uvs_prom_part *part)
{
	free(part->buf);
	memset(part, 0, sizeof(*part));
}

int uvs_prom_write_parts(FILE *out, enum uvs_prom_format format,
			 const struct uvs_prom_part *const *parts, size_t nparts)
{
	struct uvs_prom_writer w;

	uvs_prom_begin(&w, out, format);
	for (int f = 0; f < UVS_PROM_FAMILIES; f++) {
		uvs_prom_family(&w, page_families[f]);
		for (size_t i = 0; i < nparts; i++) {
			const struct uvs_prom_part *p = parts[i];

			if (!p || !p->buf || p->end[f] <= p->start[f])
				continue;
			uvs_prom_family_header(&w);
			fwrite(p->buf + p->start[f], 1, p->end[f] - p->start[f], out);
		}
	}
	return uvs_prom_end(&w);
}

int uvs_prom_write_page(FILE *out, enum uvs_prom_format format, const struct uvs_prom_page *p)
{
	struct uvs_prom_part part = { 0 };
	const struct uvs_prom_part *parts[] = { &part };
	int err = uvs_prom_part_render(&part, format, p);

	if (!err)
		err = uvs_prom_write_parts(out, format, parts, 1);
	uvs_prom_part_free(&part);
	return err;
}
