// SPDX-License-Identifier: MIT
/*
 * The proc collector (`--backend proc`): the target measured with no BPF at all, from what a
 * ptrace-capable process may read of another: libuv's own loop metrics and pool statics in its
 * memory (process_vm_readv), /proc/PID/fd, /proc/PID/task/TID/syscall, and the socket table
 * through NETLINK_SOCK_DIAG in our network namespace when the target shares it. It needs
 * CAP_SYS_PTRACE for another user's process (and CAP_DAC_READ_SEARCH for its /proc/PID/fd),
 * nothing else, and stops nothing in the target.
 *
 * Each block check (loops_now, every tick) reads every loop's metrics and the pool's queue;
 * the windows are made of those readings (collect/proc_loop.c, collect/pool_statics.c). A
 * loop found blocked there has its stack taken (collect/proc_block_stacks.c): that one thread
 * is stopped briefly by ptrace, only while it is blocked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/collector.h"
#include "collect/fd_table.h"
#include "collect/fds.h"
#include "collect/pool_statics.h"
#include "collect/proc_block_stacks.h"
#include "collect/proc_collector.h"
#include "collect/proc_loop.h"
#include "collect/proc_net.h"
#include "collect/sock_retrans.h"
#include "collect/socket_table.h"
#include "collect/sockets.h"
#include "target/memory.h"
#include "util/clock.h"
#include "util/log.h"

struct proc_collector {
	struct uvs_target *target;
	struct uvs_collect_options opt;
	struct uvs_collect_sink sink;
	struct uvs_proc_loops loops;
	struct uvs_pool_statics pool;
	struct uvs_proc_block_stacks stacks; /* of blocked loops, with sample_hz set */
	struct uvs_fds fds;
	struct uvs_fd_table fd_table;
	int nl;                        /* NETLINK_SOCK_DIAG, -1 when the table is unavailable */
	bool proc_net;                 /* ... and then read from /proc/PID/net instead */
	char sockets_why[320];
	struct uvs_socket_table table;
	struct uvs_sock_learning learn;
	struct uvs_sock_retrans retrans;  /* tcp_info deltas */
	uint64_t retrans_total;
	uint64_t attach_mono;          /* CLOCK_MONOTONIC */
	uint64_t last_window;
	uint64_t last_window_real;     /* CLOCK_REALTIME */
	struct uvs_fd_snapshot last_fds;
	struct uvs_sockets_snapshot last_sockets;
};

static struct proc_collector *priv(struct uvs_collector *c)
{
	return c->priv;
}

/* Reading the target's memory is what everything here stands on: say plainly when we may not. */
static int check_memory_access(const struct uvs_target *t, char *why, size_t cap)
{
	char b;
	ssize_t n;

	if (!t->fn_uv_run.start)
		return 0;
	n = uvs_mem_read(t->pid, t->fn_uv_run.start, &b, 1);
	if (n == -EPERM || n == -EACCES) {
		snprintf(why, cap, "cannot read the memory of pid %d: permission denied (the proc "
			 "backend needs CAP_SYS_PTRACE, or the same user as the process)",
			 (int)t->pid);
		return (int)n;
	}
	return 0;
}

static int proc_attach(struct uvs_collector *c, struct uvs_target *t,
		       const struct uvs_collect_options *o, const struct uvs_collect_sink *sink,
		       char *why, size_t cap)
{
	struct proc_collector *p = priv(c);
	int err;

	p->target = t;
	p->opt = *o;
	p->sink = *sink;
	p->fd_table.keep_up = sink->keep_up;
	p->fd_table.keep_up_ctx = sink->ctx;
	err = check_memory_access(t, why, cap);
	if (err)
		return err;
	/* What cannot be measured is said in the report; attaching goes on without it. */
	uvs_proc_loops_attach(&p->loops, t, o->block_ns, &p->sink);
	if (o->pool)
		uvs_pool_statics_attach(&p->pool, t);
	if (o->sample_hz)
		uvs_proc_block_stacks_attach(&p->stacks, t, o->block_ns, o->blocked_hz,
					     &p->sink);
	uvs_fds_init(&p->fds, o->fd_rescan_ns);
	if (uvs_fd_table_read(t->pid, &p->fd_table))
		p->fd_table.available = false;
	if (o->sockets)
		p->nl = uvs_sockets_open_diag((int)t->pid, p->sockets_why,
					      sizeof(p->sockets_why));
	/* Another network namespace we may not enter: its own tables in /proc/PID/net. */
	if (o->sockets && p->nl < 0 && p->fd_table.available &&
	    uvs_proc_net_read(t->pid, &p->fd_table, &p->table) == 0)
		p->proc_net = true;
	p->attach_mono = p->last_window = uvs_now_mono();
	p->last_window_real = uvs_now_real();
	return 0;
}

static void add(const char **list, size_t *n, size_t cap, const char *what)
{
	if (*n < cap)
		list[(*n)++] = what;
}

static void add_missing(struct uvs_collect_report *r, const char *what, const char *why)
{
	if (r->nmissing < UVS_MAX_MISSING)
		snprintf(r->missing[r->nmissing++], sizeof(r->missing[0]), "%s: %s", what, why);
}

/* Which figures are exact, sampled or unavailable here (the attach line and record say so). */
static void say_figures(const struct proc_collector *p, struct uvs_collect_report *r)
{
	struct uvs_figures *f = &r->figures;
	const size_t cap = UVS_FIGURES_MAX;

	f->set = true;
	if (p->loops.available && p->loops.sampled) {
		add(f->sampled, &f->nsampled, cap,
		    "loop busy, idle and utilization (the thread's state, 200 Hz at most)");
		add(f->sampled, &f->nsampled, cap, "blocked loops (the same samples)");
		add(f->unavailable, &f->nunavailable, cap, "loop iterations");
	} else if (p->loops.available) {
		add(f->exact, &f->nexact, cap, "loop busy, idle and utilization");
		add(p->loops.layout.has_count ? f->exact : f->unavailable,
		    p->loops.layout.has_count ? &f->nexact : &f->nunavailable, cap,
		    "loop iterations");
		add(f->sampled, &f->nsampled, cap, "blocked loops (checked every tick)");
	} else {
		add(f->unavailable, &f->nunavailable, cap, "loops");
	}
	if (p->loops.available && p->stacks.available)
		add(f->sampled, &f->nsampled, cap,
		    p->stacks.perf_period_ns ?
		    "blocked loops' stacks (perf_event_open on that thread while blocked, ptrace "
		    "grabs while it sleeps)" :
		    "blocked loops' stacks (ptrace grabs of that thread every 50 ms while blocked)");
	add(f->unavailable, &f->nunavailable, cap, "per-iteration busy time (p50, p99, max)");
	add(f->unavailable, &f->nunavailable, cap, "loop phases");
	add(f->unavailable, &f->nunavailable, cap, "garbage collections");
	if (p->opt.pool && p->pool.available) {
		add(f->exact, &f->nexact, cap, "pool size, queued and running");
		add(f->sampled, &f->nsampled, cap, "pool saturation and most queued");
		add(f->unavailable, &f->nunavailable, cap,
		    "pool jobs per kind, wait and service times, sync fs calls");
	}
	add(f->exact, &f->nexact, cap, "fds");
	if (p->opt.sockets && p->proc_net) {
		add(f->exact, &f->nexact, cap, "socket table (from /proc/PID/net)");
		add(f->unavailable, &f->nunavailable, cap,
		    "accept queue limits, tcp retransmits (not in /proc/PID/net)");
	}
	if (p->opt.sockets && p->nl >= 0) {
		add(f->exact, &f->nexact, cap, "socket table");
		add(f->sampled, &f->nsampled, cap,
		    "tcp retransmits (tcp_info deltas; sockets closed between windows missed)");
	}
	if (p->opt.sockets)
		add(f->unavailable, &f->nunavailable, cap,
		    "tcp transitions, connect latency, retransmit peers");
	add(f->unavailable, &f->nunavailable, cap, "syscalls");
}

static void proc_report(struct uvs_collector *c, struct uvs_collect_report *r)
{
	struct proc_collector *p = priv(c);

	memset(r, 0, sizeof(*r));
	r->mode = p->loops.sampled ? "sampled" : "libuv-metrics";
	r->epoll_hooks = "none";
	r->epoll_hooks_per_wait = 0;
	if (!p->loops.available)
		add_missing(r, "loops", p->loops.why);
	else if (p->loops.sampled)
		add_missing(r, "exact loop figures", p->loops.why);
	if (p->opt.phases)
		add_missing(r, "exact phases", "they need uprobes (the bpf backend)");
	if (p->opt.pool && !p->pool.available)
		add_missing(r, "thread pool", p->pool.why);
	if (p->opt.syscalls)
		add_missing(r, "syscalls", "they need tracepoints (the bpf backend)");
	if (p->opt.timeline)
		add_missing(r, "timeline", "a slice per loop iteration needs the epoll probes (the "
			    "bpf backend): the trace has the alerts only");
	if (p->opt.pool_jobs)
		add_missing(r, "pool jobs", "a record per job needs the pool's probes (the bpf "
			    "backend)");
	if (p->opt.sockets && p->nl < 0 && !p->proc_net)
		add_missing(r, "socket table", p->sockets_why);
	else if (p->opt.sockets && p->proc_net)
		add_missing(r, "socket table from netlink", p->sockets_why);
	if (p->opt.sample_hz && !p->stacks.available)
		add_missing(r, "stacks", p->stacks.why);
	else if (p->opt.sample_hz)
		add_missing(r, "CPU stack samples outside blocks", "use flame --backend proc");
	uvs_proc_block_stacks_describe(&p->stacks, r->stacks, sizeof(r->stacks));
	say_figures(p, r);
}

static int proc_event_fd(struct uvs_collector *c)
{
	(void)c;
	return -1; /* nothing arrives between checks: every figure is read */
}

static void proc_poll(struct uvs_collector *c)
{
	(void)c;
}

static size_t proc_loops_now(struct uvs_collector *c, struct uvs_loop_busy *out, size_t cap,
			     uint64_t *now_mono)
{
	struct proc_collector *p = priv(c);
	size_t n = uvs_proc_loops_check(&p->loops, out, cap, now_mono);

	/* Before the session's alert check: the ongoing alert already has the first stack. */
	uvs_proc_block_stacks_check(&p->stacks, out, n, *now_mono);
	if (p->opt.pool && p->pool.available)
		uvs_pool_statics_sample(&p->pool);
	return n;
}

static void fds_and_sockets(struct proc_collector *p, struct uvs_snapshot *s)
{
	uint64_t now = uvs_now_mono();

	if (uvs_fd_table_read(p->target->pid, &p->fd_table))
		p->fd_table.available = false;
	uvs_fds_window(&p->fds, NULL, &p->fd_table, uvs_fds_limit(p->target->pid), now, &s->fds);
	if (p->opt.sockets && p->proc_net && p->fd_table.available &&
	    uvs_proc_net_read(p->target->pid, &p->fd_table, &p->table) == 0) {
		uvs_socket_table_summarize(&p->table, &s->sockets);
		s->sockets.accept_limit_unknown = true;
	} else if (p->opt.sockets && p->nl >= 0 && p->fd_table.available &&
		   uvs_socket_table_read(p->nl, &p->fd_table, &p->learn, &p->table) == 0) {
		uvs_socket_table_summarize(&p->table, &s->sockets);
		s->sockets.retrans_from_info =
			uvs_sock_retrans_window(&p->retrans, &p->table, &s->sockets.retransmits) == 0;
		p->retrans_total += s->sockets.retransmits;
	}
	p->last_fds = s->fds;
	p->last_sockets = s->sockets;
}

/*
 * Grabs to place threads per window at most: each may wait up to its timeout for a thread to
 * stop on busy CPUs, and the window waits for them; more are placed in the windows after.
 */
#define PLACE_PER_WINDOW 4

/*
 * Threads no read in a syscall could place, found running at several looks: one grab each
 * places them (a Worker spinning since before attach), and a Worker placed so is followed now.
 * A grab that could not be taken now (the thread did not stop in time, or sleeps
 * uninterruptibly) is asked again later; one refused (another tracer holds the process) is
 * said once.
 */
static void place_running(struct proc_collector *p)
{
	int tids[PLACE_PER_WINDOW];
	size_t n = uvs_proc_loops_to_place(&p->loops, tids, PLACE_PER_WINDOW);
	bool placed = false;

	for (size_t i = 0; i < n; i++) {
		enum uvs_role role;
		int err = uvs_proc_block_stacks_role(&p->stacks, tids[i], &role);

		if (err == -ETIMEDOUT || err == -EAGAIN || err == -EBUSY)
			continue;
		uvs_proc_loops_place_settled(&p->loops, tids[i]);
		if (err)
			continue;
		if (uvs_target_place_thread(p->target, tids[i], role)) {
			uvs_debug("pid %d: thread %d, never seen in a syscall, placed by a grab of its "
				  "stack: %s", (int)p->target->pid, tids[i], uvs_role_name(role));
			placed = true;
		}
	}
	if (placed)
		uvs_proc_loops_find(&p->loops);
}

static int proc_window(struct uvs_collector *c, struct uvs_snapshot *s)
{
	struct proc_collector *p = priv(c);
	struct uvs_loop_busy busy[UVS_MAX_LOOPS];
	uint64_t now;

	memset(s, 0, sizeof(*s));
	uvs_target_refresh_threads(p->target);
	uvs_proc_loops_find(&p->loops);
	place_running(p);
	/* The window ends at a reading of its own, also the last one (no check runs before it). */
	uvs_proc_loops_check(&p->loops, busy, UVS_MAX_LOOPS, &now);
	s->pid = p->target->pid;
	s->ts_ns = p->last_window_real = uvs_now_real();
	s->window_ns = now - p->last_window;
	p->last_window = now;
	uvs_proc_loops_window(&p->loops, s);
	uvs_proc_block_stacks_new_epoch(&p->stacks);
	if (p->opt.pool && p->pool.available)
		uvs_pool_statics_window(&p->pool, &s->pool);
	fds_and_sockets(p, s);
	return 0;
}

static int proc_totals(struct uvs_collector *c, struct uvs_snapshot *s)
{
	struct proc_collector *p = priv(c);

	memset(s, 0, sizeof(*s));
	s->pid = p->target->pid;
	s->ts_ns = p->last_window_real;
	s->window_ns = p->last_window - p->attach_mono;
	uvs_proc_loops_totals(&p->loops, s);
	if (p->opt.pool && p->pool.available)
		uvs_pool_statics_totals(&p->pool, &s->pool);
	s->fds = p->last_fds;
	s->sockets = p->last_sockets;
	s->sockets.retransmits = p->retrans_total; /* the session's, as the states are the last */
	return 0;
}

static int proc_adjust(struct uvs_collector *c, const struct uvs_guard_settings *g, char *why,
		       size_t cap)
{
	(void)c;
	(void)g;
	(void)why;
	(void)cap;
	return 0; /* no probe, no sampling: the guard has nothing to turn down */
}

static void proc_quiesce(struct uvs_collector *c)
{
	(void)c; /* nothing is in the target */
}

static void proc_destroy(struct uvs_collector *c)
{
	struct proc_collector *p;

	if (!c)
		return;
	p = priv(c);
	if (p) {
		char said[400];

		uvs_proc_block_stacks_summary(&p->stacks, said, sizeof(said));
		if (said[0])
			uvs_info("%s", said);
		uvs_proc_block_stacks_free(&p->stacks);
		if (p->nl >= 0)
			close(p->nl);
		uvs_socket_table_free(&p->table);
		uvs_sock_learning_free(&p->learn);
		uvs_sock_retrans_free(&p->retrans);
		uvs_fd_table_free(&p->fd_table);
		free(p);
	}
	free(c);
}

static const struct uvs_collector_ops proc_ops = {
	.name = "proc",
	.attach = proc_attach,
	.report = proc_report,
	.event_fd = proc_event_fd,
	.poll = proc_poll,
	.loops_now = proc_loops_now,
	.window = proc_window,
	.totals = proc_totals,
	.adjust = proc_adjust,
	.quiesce = proc_quiesce,
	.destroy = proc_destroy,
};

struct uvs_collector *uvs_proc_collector_new(void)
{
	struct uvs_collector *c = calloc(1, sizeof(*c));
	struct proc_collector *p = calloc(1, sizeof(*p));

	if (!c || !p) {
		free(c);
		free(p);
		return NULL;
	}
	p->nl = -1;
	c->ops = &proc_ops;
	c->priv = p;
	return c;
}
