// SPDX-License-Identifier: MIT
/*
 * The BPF collector: the streams of collect/ put together behind the collector interface.
 *
 * Load order matters and is kept here, in one place: the loop object (bpf/loop.bpf.c) owns the
 * map of loop threads (loop_state); the pool and syscall objects are loaded after it and reuse
 * that map (bpf_map__reuse_fd), the pool to tell sync fs calls on a loop thread when they
 * happen, the syscalls to report slow syscalls of loop threads only. Everything that needs
 * privileges (loading, attaching, entering the target's network namespace) happens in attach,
 * before the session drops them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/bpf_shared.h"
#include "collect/collector.h"
#include "collect/fd_table.h"
#include "collect/fds.h"
#include "collect/gc.h"
#include "collect/loop.h"
#include "collect/pool.h"
#include "collect/sockets.h"
#include "collect/stacks.h"
#include "collect/syscalls.h"
#include "util/clock.h"
#include "util/log.h"

struct bpf_collector {
	struct uvs_target *target;
	/* The BPF objects, loaded once for every target of the agent (collect/bpf_shared.h). */
	struct uvs_bpf_shared *sh;
	int slot;                   /* this target's, or -1 */
	struct uvs_target_cfg cfg;  /* what the programs know of it; each module fills its part */
	bool published;
	struct uvs_collect_options opt;
	struct uvs_collect_sink sink;
	struct uvs_loops loops;
	struct uvs_pool pool;
	struct uvs_syscalls sys;
	struct uvs_fds fds;
	struct uvs_fd_table fd_table;
	struct uvs_sockets sockets;
	struct uvs_stacks stacks;
	struct uvs_gc gc;
	struct uvs_collect_sink gc_sink; /* the session's, seen first by the stack namer */
	/* The last window's figures that are states, not counts: the totals show them as they were. */
	struct uvs_fd_snapshot last_fds;
	struct uvs_sockets_snapshot last_sockets;
	/* The syscall counters when /proc/PID/fd was last read (with syscall tracing). */
	bool table_marked;
	struct uvs_sys_counters table_mark;
};

/* The syscalls say no fd was opened, closed or changed out of their sight since the mark. */
static bool fds_unchanged(const struct bpf_collector *b, const struct uvs_sys_counters *c)
{
	const struct uvs_sys_counters *m = &b->table_mark;

	return b->table_marked && b->fd_table.available && c->fd_untracked == m->fd_untracked &&
	       !memcmp(c->fd_opened, m->fd_opened, sizeof(m->fd_opened)) &&
	       !memcmp(c->fd_closed, m->fd_closed, sizeof(m->fd_closed));
}

static void read_fd_table(struct bpf_collector *b, const struct uvs_sys_counters *c)
{
	if (uvs_fd_table_read(b->target->pid, &b->fd_table)) {
		b->fd_table.available = false;
		return;
	}
	b->table_marked = c != NULL;
	if (c)
		b->table_mark = *c;
}

static struct bpf_collector *priv(struct uvs_collector *c)
{
	return c->priv;
}

/*
 * A collection may have moved V8's objects: names the stack namer cached by address must prove
 * themselves again. Then the record goes on to the session.
 */
static void on_gc_record(void *ctx, const struct uvs_record *r)
{
	struct bpf_collector *b = ctx;

	uvs_stacks_gc_seen(&b->stacks);
	if (b->sink.record)
		b->sink.record(b->sink.ctx, r);
}

/*
 * The host's one reader over every stream's ring (uvs_bpf_shared_add_ring: a ring a target
 * before this one added is not added twice). The stack samples' and the GC records' rings come
 * first: a block that ended (the loop's ring) is named by the samples taken and the
 * collections run during it, so those must be read before the block's end is (rings are read
 * in the order they were added). Each callback takes the host and hands a record to the target
 * it is of.
 */
static int make_ring_buffer(struct bpf_collector *b, char *why, size_t cap)
{
	const char *what = NULL;
	int err = 0;

	if (b->stacks.attached &&
	    (err = uvs_bpf_shared_add_ring(b->sh, UVS_OBJ_STACKS, 0, uvs_stacks_ring_fd(&b->stacks),
					   uvs_stacks_on_record, b->sh)))
		what = "the stack samples' ring buffer";
	if (!err && b->gc.attached &&
	    (err = uvs_bpf_shared_add_ring(b->sh, UVS_OBJ_GC, 0, uvs_gc_records_fd(&b->gc),
					   uvs_gc_on_record, b->sh)))
		what = "the GC ring buffer";
	if (!err && (err = uvs_bpf_shared_add_ring(b->sh, UVS_OBJ_LOOP, 0,
						       uvs_loops_events_fd(&b->loops),
						       uvs_loops_on_event, b->sh)))
		what = "the loop object's ring buffer";
	if (!err && b->opt.timeline &&
	    (err = uvs_bpf_shared_add_ring(b->sh, UVS_OBJ_LOOP, 1, uvs_loops_trace_fd(&b->loops),
					   uvs_loops_on_trace, b->sh)))
		what = "the loop timeline's ring buffer";
	if (!err && b->pool.attached && b->opt.pool_jobs &&
	    (err = uvs_bpf_shared_add_ring(b->sh, UVS_OBJ_POOL, 0, uvs_pool_records_fd(&b->pool),
					   uvs_pool_on_record, b->sh)))
		what = "the pool's ring buffer";
	if (!err && b->sys.attached &&
	    (err = uvs_bpf_shared_add_ring(b->sh, UVS_OBJ_SYSCALLS, 0,
					   uvs_syscalls_events_fd(&b->sys), uvs_syscalls_on_slow,
					   b->sh)))
		what = "the syscall ring buffer";
	if (err)
		snprintf(why, cap, "cannot read %s: %s", what, strerror(-err));
	return err;
}

/*
 * With syscall tracing, fd counts are kept from the syscalls: the counters are read before the
 * baseline scan, so an fd opened meanwhile is counted twice rather than missed (a rescan
 * mends it).
 */
static void fd_baseline(struct bpf_collector *b)
{
	struct uvs_sys_counters c;
	bool counted = b->sys.attached && uvs_syscalls_counters(&b->sys, &c) == 0;

	read_fd_table(b, counted ? &c : NULL);
	if (b->fd_table.available && counted)
		uvs_fds_rebase(&b->fds, &c, &b->fd_table, uvs_now_mono());
}

/*
 * Tests only: UVSCOPE_TEST_SEED_GATE=PATH holds the attach here, after the threads were listed
 * and before the programs count the process (and the loop threads are seeded), until PATH
 * exists (20 s at most): a thread a test ends meanwhile leaves no trace in BPF, the one case
 * where a state the agent writes for it would outlive it.
 */
static void test_seed_gate(void)
{
	const char *gate = getenv("UVSCOPE_TEST_SEED_GATE");
	uint64_t end = uvs_now_mono() + 20000000000ULL;

	if (!gate)
		return;
	fprintf(stderr, "uvscope: test hook: seeding waits for %s\n", gate);
	fflush(stderr);
	while (access(gate, F_OK) && uvs_now_mono() < end)
		uvs_sleep_ns(10000000);
}

static int bpf_attach(struct uvs_collector *c, struct uvs_target *t,
		      const struct uvs_collect_options *o, const struct uvs_collect_sink *sink,
		      char *why, size_t cap)
{
	struct bpf_collector *b = priv(c);
	struct uvs_loop_probe_options po = { .block_ns = o->block_ns, .phases = o->phases,
					     .trace = o->timeline };
	int err;

	b->target = t;
	b->opt = *o;
	b->sink = *sink;
	b->fd_table.keep_up = sink->keep_up;
	b->fd_table.keep_up_ctx = sink->ctx;
	b->sockets.nl = -1;
	uvs_fds_init(&b->fds, o->fd_rescan_ns);
	/*
	 * TESTS ONLY: refuse as a kernel whose verifier or perf_event_open refuses our programs
	 * (EPERM), where the privilege check passed: the fallback to the proc backend is tested
	 * where BPF works (tests/integration/proc_safety.test.mjs).
	 */
	if (getenv("UVSCOPE_TEST_FAIL_BPF_ATTACH")) {
		snprintf(why, cap, "UVSCOPE_TEST_FAIL_BPF_ATTACH is set (a test hook): the attach "
			 "refused as a kernel would, EPERM");
		return -EPERM;
	}
	/* 1. The loop object: it owns the map of loop threads the others share. */
	b->slot = uvs_bpf_shared_claim(b->sh, t->pid);
	if (b->slot < 0) {
		snprintf(why, cap, "no room for another process (%d are watched)", UVS_MAX_TARGETS);
		return b->slot;
	}
	b->cfg.slot = (__u32)b->slot;
	err = uvs_loops_attach(&b->loops, b->sh, b->slot, &b->cfg, t, &po, &b->sink, why, cap);
	if (err)
		return err;
	/* 2. The pool and 3. the syscalls, both on the loop object's map. */
	if (o->pool)
		uvs_pool_attach(&b->pool, t, b->sh, b->slot, &b->cfg, o->pool_jobs,
				 o->pool_delay, &b->sink);
	if (o->syscalls)
		uvs_syscalls_attach(&b->sys, b->sh, b->slot, t, &b->sink, o->slow_syscall_ns,
				    true);
	/* 3b. Stack samples, on the loop object's map too (busy or waiting at each sample). */
	if (o->sample_hz)
		uvs_stacks_attach(&b->stacks, b->sh, b->slot, t, o, &b->sink);
	if (o->gc) {
		b->gc_sink = (struct uvs_collect_sink){ .ctx = b, .record = on_gc_record };
		uvs_gc_attach(&b->gc, t, b->sh, b->slot, &b->gc_sink);
	}
	fd_baseline(b);
	/* 4. The sockets: the target's network namespace is entered now, while we may. */
	if (o->sockets)
		uvs_sockets_attach(&b->sockets, b->sh, b->slot, t, &b->fd_table,
				   o->socket_share_ns);
	err = make_ring_buffer(b, why, cap);
	if (err)
		return err;
	/* Everything is in place: from now on the programs count this process. */
	test_seed_gate();
	err = uvs_bpf_shared_publish(b->sh, t->pid, &b->cfg);
	if (err) {
		snprintf(why, cap, "cannot publish the process to the BPF programs: %s",
			 strerror(-err));
		return err;
	}
	b->published = true;
	uvs_loops_start(&b->loops);
	uvs_pool_start(&b->pool);
	return 0;
}

static void add_missing(struct uvs_collect_report *r, const char *what, const char *why)
{
	if (r->nmissing < UVS_MAX_MISSING)
		snprintf(r->missing[r->nmissing++], sizeof(r->missing[0]), "%s: %s", what, why);
}

static void bpf_report(struct uvs_collector *c, struct uvs_collect_report *r)
{
	struct bpf_collector *b = priv(c);

	memset(r, 0, sizeof(*r));
	r->mode = b->loops.probes.phases ? "exact-phases" : "epoll";
	r->epoll_hooks = b->loops.probes.epoll_hooks;
	r->epoll_hooks_per_wait = b->loops.probes.return_hook_only &&
					  !b->loops.probes.entries_attached ? 1 : 2;
	r->wait_in_phases = b->loops.probes.wait_folded && b->loops.probes.phases;
	r->waits_at_poll_entry = b->loops.probes.poll_entry;
	/*
	 * Each phase spot is passed once per iteration (loop_probes.c's boundaries). With the wait
	 * folded into them, taking them out puts the wait's return hook back: one hit fewer saved.
	 */
	r->phase_hits_per_iteration = b->loops.probes.phases ?
					      (uint32_t)b->loops.probes.phase_set.n -
						      (b->loops.probes.wait_folded ? 1 : 0) : 0;
	r->loop_hooks_removable = uvs_loops_waits_removable(&b->loops, r->loop_hooks_why,
							    sizeof(r->loop_hooks_why));
	if (b->opt.phases && !b->loops.probes.phases)
		add_missing(r, "exact phases", b->loops.probes.phases_why);
	if (b->opt.pool && !b->pool.attached)
		add_missing(r, "thread pool", b->pool.why);
	r->pool_on = b->pool.attached;
	r->pool_steppable = uvs_pool_can_step(&b->pool);
	if (r->pool_on)
		uvs_pool_hooks(&b->pool, &r->pool);
	if (b->opt.syscalls && !b->sys.attached)
		add_missing(r, "syscalls", b->sys.why);
	if (b->opt.sockets && b->sockets.nl < 0)
		add_missing(r, "socket table", b->sockets.why);
	if (b->opt.sockets && !b->sockets.trace.attached)
		add_missing(r, "tcp transitions", b->sockets.trace.why);
	if (b->opt.sample_hz && !b->stacks.attached)
		add_missing(r, "stacks", b->stacks.why);
	if (b->stacks.attached) {
		const char *notes[4];
		size_t n = uvs_stack_resolver_notes(b->stacks.resolver, notes, 4);
		char named[160];

		uvs_stack_resolver_describe(b->stacks.resolver, named, sizeof(named));
		if (b->opt.blocked_hz && b->opt.blocked_hz != b->opt.sample_hz)
			snprintf(r->stacks, sizeof(r->stacks),
				 "%u Hz (%u Hz while a loop is blocked) by %s, %s", b->opt.sample_hz,
				 b->opt.blocked_hz, uvs_sampler_how(b->stacks.sampler), named);
		else
			snprintf(r->stacks, sizeof(r->stacks), "%u Hz by %s, %s", b->opt.sample_hz,
				 uvs_sampler_how(b->stacks.sampler), named);
		for (size_t i = 0; i < n; i++)
			add_missing(r, "stacks", notes[i]);
	}
	if (b->opt.gc && !b->gc.attached)
		add_missing(r, "garbage collections", b->gc.why);
}

/* The host's one reader: every target's records, each handed to its own target. */
static int bpf_event_fd(struct uvs_collector *c)
{
	return uvs_bpf_shared_event_fd(priv(c)->sh);
}

static void bpf_poll(struct uvs_collector *c)
{
	uvs_bpf_shared_poll(priv(c)->sh);
}

static size_t bpf_loops_now(struct uvs_collector *c, struct uvs_loop_busy *out, size_t cap,
			    uint64_t *now_mono)
{
	struct bpf_collector *b = priv(c);
	size_t n = uvs_loops_now(&b->loops, out, cap, now_mono);

	/* The sampler follows what the session is about to see: blocked loops get more samples. */
	uvs_stacks_follow_loops(&b->stacks, out, n, *now_mono, b->opt.block_ns);
	/* The pool's gauge, while the guard has its probes out, is read at each check. */
	uvs_pool_check(&b->pool);
	return n;
}

/* The fds and sockets of the window, from one read of /proc/PID/fd when anything needs it. */
static void fds_and_sockets(struct bpf_collector *b, struct uvs_snapshot *s, bool *io_uring)
{
	struct uvs_sys_counters counters, *c = NULL;
	uint64_t now = uvs_now_mono();
	bool table;

	/* The counters before the read: see fd_baseline(). */
	if (b->sys.attached && uvs_syscalls_counters(&b->sys, &counters) == 0)
		c = &counters;
	table = uvs_fds_need_table(&b->fds, c, now);
	/*
	 * The sockets and the io_uring check want the fd list too, but with syscall tracing an
	 * unchanged list need not be read again: 18,000 fds cost ~100 ms of the agent's thread.
	 */
	if (table || (((b->opt.sockets && b->sockets.nl >= 0) ||
		       uvs_pool_wants_io_uring_check(&b->pool)) && !(c && fds_unchanged(b, c))))
		read_fd_table(b, c);
	*io_uring = b->fd_table.available && b->fd_table.io_uring;
	uvs_fds_window(&b->fds, c, table ? &b->fd_table : NULL, uvs_fds_limit(b->target->pid), now,
		       &s->fds);
	if (b->opt.sockets)
		uvs_sockets_window(&b->sockets, &b->fd_table, &s->sockets, &s->agent.sockets_lost);
	b->last_fds = s->fds;
	b->last_sockets = s->sockets;
}

/*
 * The hits of our uprobes and return probes in the target during the window (the overhead
 * guard's measure, with the stack samples): the loop object counts its own (epoll call sites,
 * phase boundaries); a collection is two GC probe hits, and the pool says what its jobs cost.
 */
static void count_probe_hits(const struct bpf_collector *b, struct uvs_snapshot *s)
{
	struct uvs_agent_snapshot *a = &s->agent;
	size_t i;

	a->gc_probe_hits = 0;
	for (i = 0; i < s->nloops && i < UVS_MAX_LOOPS; i++)
		if (s->loops[i].has_gc)
			a->gc_probe_hits += 2 * s->loops[i].gc.count;
	a->pool_probe_hits = uvs_pool_probe_hits(&b->pool, &s->pool);
	a->probe_hits = a->events + a->gc_probe_hits + a->pool_probe_hits;
}

static int bpf_window(struct uvs_collector *c, struct uvs_snapshot *s)
{
	struct bpf_collector *b = priv(c);
	bool io_uring;

	memset(s, 0, sizeof(*s));
	bpf_poll(c);
	uvs_target_refresh_threads(b->target);
	uvs_loops_window(&b->loops, s);
	uvs_gc_window(&b->gc, s);
	fds_and_sockets(b, s, &io_uring);
	uvs_pool_window(&b->pool, io_uring, &s->pool, &s->agent);
	bpf_poll(c); /* the window's last slow syscalls */
	uvs_syscalls_window(&b->sys, &s->syscalls, &s->agent);
	uvs_stacks_window(&b->stacks, &s->agent);
	count_probe_hits(b, s);
	return 0;
}

static int bpf_adjust(struct uvs_collector *c, const struct uvs_guard_settings *g, char *why,
		      size_t cap)
{
	struct bpf_collector *b = priv(c);
	int err = 0;

	/* Exact phases go before the wait hooks and come back after them (their program rests
	 * on the state the hooks keep). */
	if (b->opt.phases && !g->phases && b->loops.probes.phases)
		err = uvs_loop_probes_set_phases(&b->loops.probes, false, why, cap);
	if (!err && g->loop_hooks == b->loops.probes.waits_out)
		err = uvs_loops_set_waits(&b->loops, g->loop_hooks, why, cap);
	if (!err && b->opt.phases && g->phases && !b->loops.probes.phases)
		err = uvs_loop_probes_set_phases(&b->loops.probes, true, why, cap);
	if (!err && b->stacks.attached && g->sample_hz &&
	    (err = uvs_stacks_set_rates(&b->stacks, g->sample_hz, g->blocked_hz)))
		snprintf(why, cap, "cannot change the sampling rate: %s", strerror(-err));
	if (!err && b->pool.attached && g->pool_probes == b->pool.probes_out)
		err = uvs_pool_set_probes(&b->pool, g->pool_probes, why, cap);
	return err;
}

static int bpf_totals(struct uvs_collector *c, struct uvs_snapshot *s)
{
	struct bpf_collector *b = priv(c);

	memset(s, 0, sizeof(*s));
	uvs_loops_totals(&b->loops, s);
	uvs_gc_totals(&b->gc, s);
	uvs_pool_totals(&b->pool, &s->pool, &s->agent);
	uvs_syscalls_totals(&b->sys, &s->syscalls, &s->agent);
	s->fds = b->last_fds;
	s->sockets = b->last_sockets;
	if (b->opt.sockets)
		uvs_sockets_totals(&b->sockets, &s->sockets, &s->agent.sockets_lost);
	return 0;
}

static void bpf_quiesce(struct uvs_collector *c)
{
	struct bpf_collector *b = priv(c);

	/* The programs stop counting this process first, host-wide hooks included. */
	uvs_loops_mark_end(&b->loops);
	uvs_pool_mark_end(&b->pool);
	if (b->published) {
		uvs_bpf_shared_unpublish(b->sh, b->target->pid);
		b->published = false;
	}
	/* Its loops as they stood then: read later, libuv's stamps would have gone on. */
	uvs_loops_take_last(&b->loops);
	uvs_stacks_quiesce(&b->stacks);
	uvs_sockets_quiesce(&b->sockets);
	uvs_syscalls_quiesce(&b->sys);
	uvs_gc_quiesce(&b->gc);
	uvs_pool_quiesce(&b->pool);
	uvs_loops_quiesce(&b->loops);
}

static void bpf_destroy(struct uvs_collector *c)
{
	struct bpf_collector *b = priv(c);

	if (!b)
		return;
	if (b->published)
		uvs_bpf_shared_unpublish(b->sh, b->target->pid);
	/* In reverse. The host's reader, which reads maps of the objects, goes with the host. */
	uvs_stacks_detach(&b->stacks);
	uvs_sockets_detach(&b->sockets);
	uvs_syscalls_detach(&b->sys);
	uvs_gc_detach(&b->gc);
	uvs_pool_detach(&b->pool);
	uvs_loops_detach(&b->loops);
	uvs_fd_table_free(&b->fd_table);
	uvs_bpf_shared_release(b->sh, b->slot);
	free(b);
	free(c);
}

static const struct uvs_collector_ops bpf_ops = {
	.name = "bpf",
	.attach = bpf_attach,
	.report = bpf_report,
	.event_fd = bpf_event_fd,
	.poll = bpf_poll,
	.loops_now = bpf_loops_now,
	.window = bpf_window,
	.totals = bpf_totals,
	.adjust = bpf_adjust,
	.quiesce = bpf_quiesce,
	.destroy = bpf_destroy,
};

struct uvs_collector *uvs_bpf_collector_new(struct uvs_bpf_shared *sh)
{
	struct uvs_collector *c = calloc(1, sizeof(*c));
	struct bpf_collector *b;

	if (!c)
		return NULL;
	c->ops = &bpf_ops;
	c->priv = calloc(1, sizeof(struct bpf_collector));
	if (!c->priv) {
		free(c);
		return NULL;
	}
	b = c->priv;
	/*
	 * destroy runs on a collector whose attach failed early or never ran (a zombie, a process
	 * that exited, no libuv): every fd it may close must be -1 until opened, never calloc's 0,
	 * which is someone else's fd (another target's pidfd under --all).
	 */
	b->sockets.nl = -1;
	b->slot = -1;
	b->sh = sh;
	uvs_loop_probes_init(&b->loops.probes);
	return c;
}
