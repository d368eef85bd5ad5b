// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/collector.h"
#include "collect/proc_collector.h"
#include "core/alerts.h"
#include "core/block_stacks.h"
#include "core/flame_samples.h"
#include "core/overhead_guard.h"
#include "core/watched.h"
#include "render/flame.h"
#include "target/capstone_lib.h"
#include "target/container.h"
#include "target/privileges.h"
#include "target/process.h"
#include "util/clock.h"
#include "util/duration.h"
#include "util/heap.h"
#include "util/log.h"

#define MAX_ALERTS 16

struct uvs_watched {
	const struct uvs_watch_env *env;
	struct uvs_target *target;
	struct uvs_collector *collector;
	struct uvs_alert_state alerts;
	struct uvs_snapshot *snap;
	struct uvs_block_stacks *blocks;   /* recent loop samples, for the stacks of a block */
	struct uvs_alert_stacks block_top; /* the stacks attached to the alert being sent */
	bool gc_seen;                      /* GC records arrive: blocks can say their GC time */
	struct uvs_guard guard;            /* the overhead guard (off outside watch, top, serve) */
	/*
	 * The target's CPU clock (every thread of it), for the guard's budget relative to the
	 * target's own work; has_cpu_clock false when the kernel gives none.
	 */
	clockid_t cpu_clock;
	bool has_cpu_clock;
	uint64_t cpu_at_window;            /* its reading at the last window's end */
	bool finished;
	/*
	 * The programs stopped counting (quiesce): no block check may run any more. A busy span
	 * open then would look as if it went on growing through the detach, and the last
	 * window's long reads (a fd table or socket dump of 1024 rows and more) call back into
	 * the block check to keep up.
	 */
	bool quiesced;
	bool image_gone; /* it exec'd: nothing more is read of it */
};

/* ---- what the collector reports ------------------------------------------------------------ */

/* A blocked-loop alert gets the stacks sampled in [since, until] and the GC time in it. */
static void block_context(struct uvs_watched *w, struct uvs_alert *a, uint64_t since,
			  uint64_t until)
{
	struct uvs_alert_loop_blocked *b = &a->loop_blocked;

	if (!w->blocks)
		return;
	uvs_block_stacks_top(w->blocks, b->tid, since, until, &w->block_top);
	b->stacks = &w->block_top;
	b->has_gc = w->gc_seen;
	if (w->gc_seen)
		b->gc_ns = uvs_block_stacks_gc_ns(w->blocks, b->tid, since, until ? until :
						  since + b->blocked_ns);
}

/* The collector's sink: a block that ended is the alert engine's, a record the outputs'. */
static void on_block_ended(void *ctx, const struct uvs_block_end *b)
{
	struct uvs_watched *w = ctx;
	struct uvs_alert a;

	if (w->finished || !uvs_alerts_block_ended(w->env->alert_cfg, &w->alerts, w->target->pid,
						   b, uvs_now_real(), &a))
		return;
	if (b->end_ns > b->duration_ns)
		block_context(w, &a, b->end_ns - b->duration_ns, b->end_ns);
	w->env->emit_alert(w->env->ctx, &a);
}

static void on_record(void *ctx, const struct uvs_record *r)
{
	struct uvs_watched *w = ctx;

	if (r->kind == UVS_RECORD_GC && w->blocks) {
		w->gc_seen = true;
		uvs_block_stacks_gc(w->blocks, &r->gc);
	}
	if (!w->finished)
		uvs_outputs_record(w->env->outputs, r);
}

static void on_sample(void *ctx, const struct uvs_sample *smp)
{
	struct uvs_watched *w = ctx;
	const struct uvs_cli *cli = w->env->cli;

	if (w->blocks)
		uvs_block_stacks_add(w->blocks, smp);
	if (w->env->flame && uvs_flame_add(w->env->flame, cli->flame_mode, smp))
		uvs_warn("flame: out of memory, samples are being left out");
}

static void on_keep_up(void *ctx)
{
	struct uvs_watched *w = ctx;

	w->env->keep_up(w->env->ctx);
}

/*
 * Whether a loop thread runs at all: a stopped or frozen process keeps its loop "busy" (out of
 * its wait, Node's own ELU counts it active too) and its requests waiting, but nothing in it
 * runs, and the alert says so rather than leave the operator looking for a hot function.
 */
static enum uvs_loop_stop loop_stop(pid_t pid, pid_t tid)
{
	switch (uvs_thread_state(pid, tid)) {
	case 'T':
		return UVS_LOOP_STOPPED_SIGNAL;
	case 't':
		return UVS_LOOP_STOPPED_DEBUGGER;
	case 'R':
		/* On a CPU or waiting for one: not frozen, and the cgroup files go unread (a loop
		 * spinning for hours is checked every 10 ms). */
		return UVS_LOOP_RUNNING;
	default:
		/* Frozen tasks sleep (S under v2's freezer, D under v1's). */
		return uvs_cgroup_frozen((int)pid) ? UVS_LOOP_FROZEN : UVS_LOOP_RUNNING;
	}
}

void uvs_watched_check_blocks(struct uvs_watched *w)
{
	struct uvs_loop_busy loops[UVS_MAX_LOOPS];
	struct uvs_alert alerts[MAX_ALERTS];
	struct uvs_collector *c = w->collector;
	uint64_t now_mono, block_ns;
	size_t i, n;

	if (w->finished || w->quiesced)
		return;
	n = c->ops->loops_now(c, loops, UVS_MAX_LOOPS, &now_mono);
	/* Read only for loops over the threshold: a file or three while a block lasts. */
	block_ns = uvs_alert_config_block_ns(w->env->alert_cfg);
	for (i = 0; i < n; i++) {
		const struct uvs_loop_busy *l = &loops[i];
		bool over = l->busy && l->busy_since_ns && now_mono > l->busy_since_ns &&
			    now_mono - l->busy_since_ns >= block_ns;

		loops[i].stopped = over ? loop_stop(w->target->pid, l->tid) : UVS_LOOP_RUNNING;
	}
	/* The samples the collector just took of blocked loops (off the CPU) come in too. */
	c->ops->poll(c);
	n = uvs_alerts_blocks(w->env->alert_cfg, &w->alerts, w->target->pid, loops, n, now_mono,
			      uvs_now_real(), alerts, MAX_ALERTS);
	for (i = 0; i < n; i++) {
		const struct uvs_alert_loop_blocked *b = &alerts[i].loop_blocked;

		if (alerts[i].kind == UVS_ALERT_LOOP_BLOCKED && b->since_ns)
			block_context(w, &alerts[i], b->since_ns, b->since_ns + b->blocked_ns);
		else if (alerts[i].kind == UVS_ALERT_LOOP_BLOCKED)
			block_context(w, &alerts[i], now_mono - b->blocked_ns, 0);
		w->env->emit_alert(w->env->ctx, &alerts[i]);
	}
}

/* ---- windows ---------------------------------------------------------------------------------- */

/*
 * Applies what the overhead guard decided after a window, and says it: the outputs get a record
 * (watch a GUARD line, JSON a "guard" line). A change that fails is undone in the guard, and
 * the collector is set back to what the guard then says.
 */
static void guard_apply(struct uvs_watched *w, const struct uvs_guard_decision *d)
{
	struct uvs_record r = { .kind = UVS_RECORD_GUARD, .pid = w->target->pid };
	struct uvs_collector *c = w->collector;
	struct uvs_guard_settings set;
	char why[200], again[200];
	const char *error = NULL;
	int err;

	if (d->action == UVS_GUARD_NONE)
		return;
	if (d->action != UVS_GUARD_EXHAUSTED) {
		uint64_t t0 = uvs_now_mono();
		char took[UVS_DURATION_BUF];

		uvs_guard_settings(&w->guard, &set);
		err = c->ops->adjust(c, &set, why, sizeof(why));
		/* Taking uprobes out waits for the kernel (an RCU grace period): say how long. */
		uvs_format_duration(uvs_now_mono() - t0, took, sizeof(took));
		uvs_debug("overhead guard (pid %d): %s %s in %s", (int)w->target->pid,
			  d->action == UVS_GUARD_DOWN ? "took" : "undid",
			  uvs_guard_step_name(d->step), took);
		if (err) {
			error = why;
			uvs_guard_failed(&w->guard, d);
			uvs_guard_settings(&w->guard, &set);
			if (c->ops->adjust(c, &set, again, sizeof(again)))
				uvs_warn("overhead guard (pid %d): %s", (int)w->target->pid, again);
		}
	}
	uvs_guard_record(&w->guard, d, uvs_now_real(), error, &r.guard);
	uvs_outputs_record(w->env->outputs, &r);
}

/* The target's CPU time (ns) since the last call, 0 when it cannot be read. */
static uint64_t target_cpu_since(struct uvs_watched *w)
{
	struct timespec ts;
	uint64_t now, since;

	if (!w->has_cpu_clock || clock_gettime(w->cpu_clock, &ts))
		return 0;
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	since = now >= w->cpu_at_window ? now - w->cpu_at_window : 0;
	w->cpu_at_window = now;
	return since;
}

/* Starts the target's CPU clock for the guard (a process gone, or a kernel without: none). */
static void start_cpu_clock(struct uvs_watched *w)
{
	w->has_cpu_clock = clock_getcpuclockid(w->target->pid, &w->cpu_clock) == 0;
	if (w->has_cpu_clock)
		target_cpu_since(w);
	else
		uvs_debug("overhead guard (pid %d): its CPU time cannot be read: the budget is "
			  "not relative to it", (int)w->target->pid);
}

/* Collects the window since the last one and shows it, unless it is a final sliver. */
static void window(struct uvs_watched *w, bool final)
{
	struct uvs_alert alerts[MAX_ALERTS];
	struct uvs_guard_window gw;
	struct uvs_guard_decision d = { 0 };
	size_t i, n;

	/*
	 * An interval that shows a loop blocked comes after the alert that says so. Not in the
	 * last one: the probes are out, and what BPF last saw is no longer now.
	 */
	w->collector->ops->poll(w->collector);
	if (!final)
		uvs_watched_check_blocks(w);
	w->collector->ops->window(w->collector, w->snap);
	/* The guard as it was during the window; then what the window makes it decide. */
	uvs_guard_snapshot(&w->guard, false, &w->snap->guard);
	uvs_guard_window_of(w->snap, &gw);
	gw.target_cpu_ns = target_cpu_since(w);
	w->snap->guard.rate = uvs_guard_load(&gw);
	w->snap->guard.budget = uvs_guard_budget(&w->guard, &gw);
	if (final)
		uvs_guard_account(&w->guard, &gw);
	else
		uvs_guard_window(&w->guard, &gw, &d);
	/* The summary covers the last partial window; a sliver of one would only mislead. */
	if (final && w->snap->window_ns < w->env->cli->interval_ns / 4)
		return;
	n = uvs_alerts_window(w->env->alert_cfg, &w->alerts, w->snap, alerts, MAX_ALERTS);
	for (i = 0; i < n; i++)
		w->env->emit_alert(w->env->ctx, &alerts[i]);
	uvs_outputs_interval(w->env->outputs, w->snap);
	/* After the interval that led to it; the probes are already out for the last one. */
	if (!final)
		guard_apply(w, &d);
}

void uvs_watched_window(struct uvs_watched *w)
{
	if (!w->finished)
		window(w, false);
}

int uvs_watched_totals(struct uvs_watched *w, struct uvs_snapshot *out)
{
	int err = w->collector->ops->totals(w->collector, out);

	if (!err) {
		uvs_guard_snapshot(&w->guard, true, &out->guard);
		out->agent.probe_hits = w->guard.hits;
	}
	return err;
}

/* ---- attach ----------------------------------------------------------------------------------- */

/*
 * trace turns exact phases on unless told not to, and draws each pool job: it needs records.
 * flame shows samples only: the pool's probes would cost the target for nothing.
 */
static struct uvs_collect_options collect_options(const struct uvs_cli *cli)
{
	bool trace = cli->command == UVS_CMD_TRACE;
	bool pool = cli->pool && cli->command != UVS_CMD_FLAME;

	return (struct uvs_collect_options){
		.block_ns = cli->block_ns,
		.phases = cli->phases || (trace && !cli->no_phases),
		.timeline = trace,
		.pool = pool,
		.pool_jobs = pool && (cli->pool_jobs || trace),
		.pool_delay = pool && cli->pool_delay,
		.syscalls = cli->syscalls,
		.slow_syscall_ns = cli->slow_syscall_ns,
		.fd_rescan_ns = cli->fd_rescan_ns,
		.sockets = !cli->no_sockets,
		/* Every target's window comes in one go each interval: one dump serves a round. */
		.socket_share_ns = cli->interval_ns / 2,
		.sample_hz = cli->no_stacks ? 0 : cli->sample_hz,
		/* A profile's samples must all stand for the same time: flame does not speed up. */
		.blocked_hz = cli->command == UVS_CMD_FLAME ? cli->sample_hz : cli->blocked_hz,
		.sample_off_cpu = cli->command == UVS_CMD_FLAME && cli->flame_mode == UVS_FLAME_OFF_CPU,
		.gc = !cli->no_gc,
	};
}

bool uvs_watched_guarded(const struct uvs_cli *cli)
{
	return (cli->command == UVS_CMD_WATCH || cli->command == UVS_CMD_TOP ||
		cli->command == UVS_CMD_SERVE) && !cli->no_guard;
}

bool uvs_watched_keeps_caps(const struct uvs_cli *cli)
{
	struct uvs_collect_options o = collect_options(cli);

	return o.sample_hz != 0 || (uvs_watched_guarded(cli) && o.phases);
}

/* The guard starts from what attaching gave: exact phases and sampling as they are now. */
static void guard_init(struct uvs_watched *w, const struct uvs_collect_report *r)
{
	const struct uvs_cli *cli = w->env->cli;
	struct uvs_collect_options o = collect_options(cli);
	struct uvs_guard_config c = {
		/* A collector with no probe (proc) has nothing for the guard to turn down. */
		.enabled = uvs_watched_guarded(cli) &&
			   !(r->epoll_hooks && !strcmp(r->epoll_hooks, "none")),
		.budget = cli->max_probe_rate,
		.max_overhead_ppm = cli->max_overhead_ppm,
		.phases = !strcmp(r->mode, "exact-phases"),
		.phase_hits_per_iteration = r->phase_hits_per_iteration,
		.sample_hz = r->stacks[0] ? o.sample_hz : 0,
		.blocked_hz = r->stacks[0] ? o.blocked_hz : 0,
		/*
		 * The pool's probes and the loops' wait hooks only where they can come back:
		 * after the privileges are dropped that needs CAP_BPF and CAP_PERFMON, which only
		 * sampling or the guard's exact phases keep (uvs_watched_keeps_caps); the agent's
		 * privileges are not kept for these steps alone.
		 */
		.pool = r->pool_steppable && uvs_watched_keeps_caps(cli),
		.loop_hooks = r->loop_hooks_removable && uvs_watched_keeps_caps(cli),
		.loop_hook_hits_per_wait = r->epoll_hooks_per_wait > 0 ?
						   (uint32_t)r->epoll_hooks_per_wait : 0,
	};

	uvs_guard_init(&w->guard, &c);
	if (c.enabled)
		uvs_debug("overhead guard: at most %" PRIu64 " probe hits/s on pid %d", c.budget,
			  (int)w->target->pid);
	if (c.enabled && !c.loop_hooks)
		uvs_debug("overhead guard (pid %d): the loop wait hooks stay in: %s",
			  (int)w->target->pid, !r->loop_hooks_removable ? r->loop_hooks_why :
			  "putting them back would need CAP_BPF and CAP_PERFMON, dropped with "
			  "--no-stacks");
}

/* Errors of loading or attaching BPF that say BPF is not allowed or not there, not a bug. */
static bool bpf_refused(int err)
{
	return err == -EPERM || err == -EACCES || err == -ENOSYS || err == -EOPNOTSUPP;
}

struct uvs_watched *uvs_watched_attach(const struct uvs_watch_env *env, pid_t pid,
				       uint64_t *attach_ns, int *err_out, char *why, size_t cap)
{
	struct uvs_collect_options o = collect_options(env->cli);
	struct uvs_watched *w = calloc(1, sizeof(*w));
	struct uvs_collect_sink sink = { .block_ended = on_block_ended, .record = on_record,
					 .sample = on_sample, .keep_up = on_keep_up };
	char path[32], reason[512], bpf_why[512] = "", moved[256];
	uint64_t t0 = uvs_now_mono();
	struct stat st;
	bool capstone, use_proc;
	int err = -ENOMEM;

	snprintf(why, cap, "cannot attach to pid %d: out of memory", (int)pid);
	if (!w)
		goto fail;
	w->env = env;
	sink.ctx = w;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st)) {
		snprintf(why, cap, "no such process: %d", (int)pid);
		err = -ESRCH;
		goto fail;
	}
	use_proc = env->cli->backend == UVS_BACKEND_PROC;
	if (!use_proc && uvs_check_privileges(reason, sizeof(reason))) {
		if (env->cli->backend == UVS_BACKEND_BPF) {
			snprintf(why, cap, "cannot attach to pid %d: permission denied (%s)",
				 (int)pid, reason);
			err = -EPERM;
			goto fail;
		}
		uvs_info("pid %d: BPF is not allowed here (%s): measuring with the proc backend "
			 "instead (--backend; see uvscope --help)", (int)pid, reason);
		snprintf(bpf_why, sizeof(bpf_why), "%s", reason);
		use_proc = true;
	}
	if (!use_proc && env->cli->backend == UVS_BACKEND_AUTO && access(VMLINUX_BTF, R_OK)) {
		uvs_info("pid %d: the kernel has no BTF (%s): measuring with the proc backend "
			 "instead (--backend; see uvscope --help)", (int)pid, VMLINUX_BTF);
		use_proc = true;
	}
	w->target = calloc(1, sizeof(*w->target));
	w->snap = calloc(1, sizeof(*w->snap));
	w->collector = use_proc ? uvs_proc_collector_new() : uvs_bpf_collector_new(env->sh);
	if (o.sample_hz)
		w->blocks = uvs_block_stacks_new();
	if (!w->target || !w->snap || !w->collector || (o.sample_hz && !w->blocks)) {
		snprintf(why, cap, "cannot attach to pid %d: out of memory", (int)pid);
		err = -ENOMEM;
		goto fail;
	}
	err = uvs_target_open(w->target, pid, why, cap);
	/* Fallen back for want of BPF privileges, and not allowed to read it either: say both. */
	if ((err == -EACCES || err == -EPERM) && use_proc &&
	    env->cli->backend == UVS_BACKEND_AUTO && *bpf_why)
		snprintf(why, cap, "cannot attach to pid %d: permission denied (%s), and the proc "
			 "backend may not read it either (it needs CAP_SYS_PTRACE, or the process's "
			 "own user)", (int)pid, bpf_why);
	if (err)
		goto fail;
	/*
	 * Capstone decodes libuv's code for the probe sites: loaded for the attach only (5 MB of
	 * RSS while it is), once for all the decodes. Without it those sites are not found; what
	 * does not need them still attaches.
	 */
	capstone = uvs_capstone_hold() == 0;
	if (!capstone)
		uvs_warn("cannot load capstone, which places uvscope's probes in libuv's code: %s "
			 "(install libcapstone)", uvs_capstone_error());
	/*
	 * One read of the maps for every probe-site check of this attach, verified against a
	 * new read once all are placed (target/code_maps.h): two reads instead of fifty. If the
	 * hold cannot be had, every check reads for itself.
	 */
	uvs_target_hold_code(w->target);
	err = w->collector->ops->attach(w->collector, w->target, &o, &sink, reason,
					sizeof(reason));
	/*
	 * flame samples every thread's CPU, which the proc collector does not (it takes stacks
	 * of blocked loops only): flame's own proc backend does, once this session has ended.
	 */
	if (err && !use_proc && env->cli->backend == UVS_BACKEND_AUTO && bpf_refused(err) &&
	    env->cli->command == UVS_CMD_FLAME) {
		uvs_info("pid %d: BPF was refused (%s): sampling with the proc backend instead "
			 "(--backend; see uvscope --help)", (int)pid, reason);
		snprintf(why, cap, "BPF was refused (%s)", reason);
		err = UVS_WATCHED_FLAME_PROC;
	} else if (err && !use_proc && env->cli->backend == UVS_BACKEND_AUTO && bpf_refused(err)) {
		uvs_info("pid %d: BPF was refused (%s): measuring with the proc backend instead "
			 "(--backend; see uvscope --help)", (int)pid, reason);
		w->collector->ops->destroy(w->collector);
		w->collector = uvs_proc_collector_new();
		err = w->collector ? w->collector->ops->attach(w->collector, w->target, &o, &sink,
							       reason, sizeof(reason)) : -ENOMEM;
		if (err == -ENOMEM)
			snprintf(reason, sizeof(reason), "out of memory");
	}
	if (capstone)
		uvs_capstone_release();
	/*
	 * A site checked on the hold's read whose code has moved since would hold a uprobe that
	 * never fires: the attach fails rather than report figures it cannot count. A maps file
	 * that cannot be read again means the target is gone or exec'd; that is for the session
	 * to see (its pidfd, its image watch), as it would without the hold.
	 */
	if (uvs_target_release_code(w->target, moved, sizeof(moved)) == -ESTALE && !err) {
		snprintf(reason, sizeof(reason), "%s", moved);
		err = -ESTALE;
	}
	if (err == UVS_WATCHED_FLAME_PROC)
		goto fail;
	if (err) {
		snprintf(why, cap, "cannot attach to pid %d: %s", (int)pid, reason);
		goto fail;
	}
	*attach_ns = uvs_now_mono() - t0;
	/* What attaching read (BTF, ELF tables) goes back to the kernel now. */
	uvs_target_drop_tables(w->target);
	uvs_heap_release();
	return w;
fail:
	*err_out = err;
	uvs_watched_free(w);
	return NULL;
}

/* ---- the attach line ------------------------------------------------------------------------ */

/* A list of figure names, joined with commas. */
static void join(char *buf, size_t cap, const char *const *names, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
}

/* Which figures the collector measures exactly, which by sampling, which not at all. */
static void say_figures(const struct uvs_figures *f)
{
	char list[600];

	join(list, sizeof(list), f->exact, f->nexact);
	uvs_info("exact: %s", f->nexact ? list : "nothing");
	if (f->nsampled) {
		join(list, sizeof(list), f->sampled, f->nsampled);
		uvs_info("sampled: %s", list);
	}
	if (f->nunavailable) {
		join(list, sizeof(list), f->unavailable, f->nunavailable);
		uvs_info("unavailable: %s", list);
	}
}

/* With -v, the threads and their roles, one line each. */
static void print_threads(const struct uvs_target *t)
{
	size_t i;

	for (i = 0; i < t->nthreads; i++)
		uvs_debug("thread %d (%s): %s", (int)t->threads[i].tid, t->threads[i].comm,
			  t->threads[i].role_known ? uvs_role_name(t->threads[i].role) :
						     "unknown (running, not in a syscall)");
}

/*
 * What exact phases cost per loop iteration: bench/results.md, `--phases` at 5000 requests/s
 * (+16.7 us per main-loop iteration on the benchmark machine, 2026-11-30).
 */
#define PHASES_COST_PER_ITERATION "16.7"

/* trace turned the phase uprobes on by itself: the operator hears what that costs the target. */
static void say_trace_phases(const struct uvs_cli *cli, const struct uvs_collect_report *r)
{
	if (cli->phases || cli->no_phases || strcmp(r->mode, "exact-phases") != 0)
		return;
	uvs_info("exact phases are on while tracing: +" PHASES_COST_PER_ITERATION
		 " µs per iteration (bench/results.md); --no-phases traces iterations only");
}

/*
 * How the pool is followed: a line of its own when CPU work had to go to uv__queue_work, which
 * the kernel single-steps (that costs each crypto, zlib or N-API job 7-20 us more).
 */
static void say_pool(const struct uvs_pool_hooks *p)
{
	char stepped[200] = "";
	size_t i, len = 0;

	for (i = 0; i < p->nstepped && len < sizeof(stepped); i++)
		len += (size_t)snprintf(stepped + len, sizeof(stepped) - len, "%s%s", i ? ", " : "",
					p->stepped[i]);
	uvs_debug("pool: %s plan, %u probe hits per job, %zu uprobe sites, CPU work at %s, "
		  "single-stepped: %s%s%s", p->plan, p->hits_per_job, p->sites,
		  !strcmp(p->cpu_work, "worker") ? "worker()" :
		  p->cpu_work_why ? "uv__queue_work" : "node's ThreadPoolWork callbacks",
		  p->nstepped ? stepped : "none", p->plan_why ? "; 4-probe because " : "",
		  p->plan_why ? p->plan_why : "");
	if (!p->delay)
		uvs_debug("pool: no completion delay: %s", p->delay_why);
	if (p->cpu_work_why)
		uvs_info("pool: CPU work (crypto, zlib, N-API) is followed at uv__queue_work and "
			 "uv__queue_done, which the kernel single-steps (7-20 us more per job): %s",
			 p->cpu_work_why);
}

/*
 * What the rest of the host pays while this process is watched, when that is not nothing: the
 * syscall hooks that catch a stripped node's epoll waits run for every process (getppid() of
 * another process, +150-250 ns with the tracepoints on this kernel, 2026-11-30: bench/README.md,
 * "History of the per-operation and HTTP figures").
 */
static const char *host_cost_of(const char *epoll_hooks)
{
	if (!epoll_hooks)
		return NULL;
	if (!strcmp(epoll_hooks, "tracepoints"))
		return "its epoll waits are caught by the sys_enter/sys_exit tracepoints (no uprobe "
		       "site in this build): every system call of every process on this host pays "
		       "about +150-250 ns while it is watched";
	if (!strcmp(epoll_hooks, "fentry"))
		return "its epoll waits are caught by fentry/fexit on the epoll wait system calls "
		       "(no uprobe site in this build): every process's epoll waits on this host "
		       "run a program that returns at once for them while it is watched";
	return NULL;
}

void uvs_watched_begin(struct uvs_watched *w, uint64_t attach_ns)
{
	const struct uvs_cli *cli = w->env->cli;
	const struct uvs_target *t = w->target;
	struct uvs_collect_report report;
	const char *missing[UVS_MAX_MISSING];
	struct uvs_thread_brief *threads = calloc(t->nthreads ? t->nthreads : 1, sizeof(*threads));
	struct uvs_attach_info info;
	struct uvs_container where;
	char took[UVS_DURATION_BUF];
	size_t i;

	w->collector->ops->report(w->collector, &report);
	guard_init(w, &report);
	start_cpu_clock(w);
	for (i = 0; i < report.nmissing; i++)
		missing[i] = report.missing[i];
	for (i = 0; threads && i < t->nthreads; i++) {
		threads[i] = (struct uvs_thread_brief){ .tid = t->threads[i].tid,
							.role = t->threads[i].role,
							.role_known = t->threads[i].role_known };
		memcpy(threads[i].comm, t->threads[i].comm, sizeof(threads[i].comm));
	}
	if (uvs_container_read(t->pid, &where))
		where = (struct uvs_container){ .ns_pid = t->pid };
	info = (struct uvs_attach_info){
		.pid = t->pid,
		.ns_pid = where.ns_pid,
		.container = where.id,
		.comm = t->comm,
		.exe = t->exe,
		.build_id = t->build_id,
		.libuv_version = t->libuv_version,
		.libuv_path = t->uv.path,
		.node_version = t->node_version[0] ? t->node_version : NULL,
		.mode = report.mode,
		.epoll_hooks = report.epoll_hooks,
		.epoll_hooks_per_wait = report.epoll_hooks_per_wait,
		.wait_in_phases = report.wait_in_phases,
		.waits_at_poll_entry = report.waits_at_poll_entry,
		.host_cost = host_cost_of(report.epoll_hooks),
		.stacks = report.stacks[0] ? report.stacks : NULL,
		.pool = report.pool_on ? &report.pool : NULL,
		.collector = w->collector->ops->name,
		.figures = report.figures.set ? &report.figures : NULL,
		.missing = missing,
		.nmissing = report.nmissing,
		.block_threshold_ns = cli->block_ns,
		.interval_ns = cli->interval_ns,
		.guard_budget = w->guard.cfg.enabled ? w->guard.cfg.budget : 0,
		.attach_ns = attach_ns,
		.threads = threads,
		.nthreads = threads ? t->nthreads : 0,
	};
	if (!cli->json) {
		print_threads(t);
		uvs_format_duration(attach_ns, took, sizeof(took));
		uvs_info("attached to pid %d (%s) in %s: %s%s%slibuv %s in %s, mode %s, collector %s",
			 (int)t->pid, t->comm, took, t->node_version[0] ? "node " : "",
			 t->node_version, t->node_version[0] ? ", " : "", t->libuv_version,
			 t->uv.path, report.mode, w->collector->ops->name);
		if (report.figures.set)
			say_figures(&report.figures);
		if (where.id[0] || where.ns_pid != t->pid)
			uvs_info("pid %d is pid %d in its own PID namespace%s%s", (int)t->pid,
				 where.ns_pid, where.id[0] ? ", in container " : "", where.id);
		if (report.waits_at_poll_entry)
			uvs_debug("epoll waits read from libuv's metrics at uv__io_poll's entry, one "
				  "uprobe hit per loop iteration; no hook at the epoll calls");
		else if (report.wait_in_phases)
			uvs_debug("epoll waits read from libuv's metrics by the exact-phase uprobes; "
				  "caught by %s, %d per wait, only while those are out",
				  report.epoll_hooks, report.epoll_hooks_per_wait);
		else
			uvs_debug("epoll waits caught by %s, %d per wait", report.epoll_hooks,
				  report.epoll_hooks_per_wait);
		if (info.host_cost)
			uvs_warn("the rest of the host pays: %s", info.host_cost);
		if (report.stacks[0])
			uvs_info("stacks: %s", report.stacks);
		if (report.pool_on)
			say_pool(&report.pool);
		if (cli->command == UVS_CMD_TRACE)
			say_trace_phases(cli, &report);
		for (i = 0; i < report.nmissing; i++)
			uvs_warn("%s", missing[i]);
	}
	uvs_outputs_begin(w->env->outputs, &info);
	free(threads);
}

pid_t uvs_watched_pid(const struct uvs_watched *w)
{
	return w->target->pid;
}

const char *uvs_watched_comm(const struct uvs_watched *w)
{
	return w->target->comm;
}

struct uvs_collector *uvs_watched_collector(struct uvs_watched *w)
{
	return w->collector;
}

/* ---- the end ---------------------------------------------------------------------------------- */

void uvs_watched_finish(struct uvs_watched *w)
{
	struct uvs_alert alerts[MAX_ALERTS];
	size_t i, n;

	if (w->finished)
		return;
	w->quiesced = true;
	w->collector->ops->quiesce(w->collector);
	/* After an exec there is nothing of the old program left to read: no last window. */
	if (!w->image_gone)
		window(w, true);
	/* Every firing has its resolution: the process is no longer watched. */
	n = uvs_alerts_gone(w->env->alert_cfg, &w->alerts, w->snap, alerts, MAX_ALERTS);
	for (i = 0; i < n; i++)
		w->env->emit_alert(w->env->ctx, &alerts[i]);
	if (uvs_watched_totals(w, w->snap) == 0)
		uvs_outputs_summary(w->env->outputs, w->snap);
	w->finished = true;
}

void uvs_watched_image_gone(struct uvs_watched *w)
{
	w->image_gone = true;
}

void uvs_watched_free(struct uvs_watched *w)
{
	if (!w)
		return;
	if (w->collector)
		w->collector->ops->destroy(w->collector);
	if (w->target)
		uvs_target_close(w->target);
	free(w->target);
	free(w->snap);
	uvs_block_stacks_free(w->blocks);
	free(w);
}
