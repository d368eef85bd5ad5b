// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/collector.h"
#include "core/actions.h"
#include "core/alerts.h"
#include "core/block_stacks.h"
#include "core/flame_samples.h"
#include "core/event_loop.h"
#include "core/output.h"
#include "core/overhead_guard.h"
#include "core/session.h"
#include "render/flame.h"
#include "render/json.h"
#include "render/top.h"
#include "render/trace_json.h"
#include "render/watch.h"
#include "serve/http.h"
#include "serve/metrics_output.h"
#include "target/capstone_lib.h"
#include "target/container.h"
#include "target/privileges.h"
#include "target/process.h"
#include "util/clock.h"
#include "util/duration.h"
#include "util/heap.h"
#include "util/log.h"

#define MAX_ALERTS 16

struct session {
	const struct uvs_cli *cli;
	struct uvs_target *target;
	struct uvs_collector *collector;
	struct uvs_outputs outputs;
	struct uvs_output *trace;   /* trace: the timeline output (in outputs) */
	struct uvs_output_source source;
	struct uvs_alert_config alert_cfg;
	struct uvs_alert_state alerts;
	struct uvs_snapshot *snap;
	struct uvs_event_loop loop;
	int pid_fd;
	uint64_t tick_ns;     /* how often blocks are checked */
	uint64_t last_check;  /* CLOCK_MONOTONIC of the last check */
	bool tty_raw;
	struct termios saved_tty;
	struct uvs_block_stacks *blocks; /* recent loop samples, for the stacks of a block */
	struct uvs_alert_stacks block_top; /* the stacks attached to the alert being sent */
	bool gc_seen;                      /* GC records arrive: blocks can say their GC time */
	struct uvs_profile *flame;         /* flame: the profile being sampled */
	uint64_t flame_start, flame_start_real; /* when sampling began (monotonic, wall clock) */
	FILE *flame_files[UVS_FLAME_FILES];
	struct uvs_guard guard;             /* the overhead guard (off outside watch, top, serve) */
	struct uvs_actions *actions;        /* --on-alert */
	bool alert_exit;                    /* --exit-on-alert: an alert fired */
	const char *why_done;
	struct uvs_http *http;              /* serve: the /metrics endpoint */
};

static void stop(struct session *s, const char *why);

/* An alert goes to every output, to the --on-alert command, and may end the session. */
static void emit_alert(struct session *s, const struct uvs_alert *a)
{
	uvs_outputs_alert(&s->outputs, a);
	if (s->actions)
		uvs_actions_run(s->actions, a, uvs_now_mono());
	if (s->cli->exit_on_alert && a->state == UVS_ALERT_FIRING && !s->alert_exit) {
		s->alert_exit = true;
		stop(s, "an alert fired (--exit-on-alert)");
	}
}

/* A blocked-loop alert gets the stacks sampled in [since, until] and the GC time in it. */
static void block_context(struct session *s, struct uvs_alert *a, uint64_t since, uint64_t until)
{
	struct uvs_alert_loop_blocked *b = &a->loop_blocked;

	if (!s->blocks)
		return;
	uvs_block_stacks_top(s->blocks, b->tid, since, until, &s->block_top);
	b->stacks = &s->block_top;
	b->has_gc = s->gc_seen;
	if (s->gc_seen)
		b->gc_ns = uvs_block_stacks_gc_ns(s->blocks, b->tid, since, until ? until :
						  since + b->blocked_ns);
}

/* The collector's sink: a block that ended is the alert engine's, a record the outputs'. */
static void on_block_ended(void *ctx, const struct uvs_block_end *b)
{
	struct session *s = ctx;
	struct uvs_alert a;

	if (!uvs_alerts_block_ended(&s->alert_cfg, &s->alerts, s->target->pid, b, uvs_now_real(),
				    &a))
		return;
	if (b->end_ns > b->duration_ns)
		block_context(s, &a, b->end_ns - b->duration_ns, b->end_ns);
	emit_alert(s, &a);
}

static void on_record(void *ctx, const struct uvs_record *r)
{
	struct session *s = ctx;

	if (r->kind == UVS_RECORD_GC && s->blocks) {
		s->gc_seen = true;
		uvs_block_stacks_gc(s->blocks, &r->gc);
	}
	uvs_outputs_record(&s->outputs, r);
}

static void on_sample(void *ctx, const struct uvs_sample *smp)
{
	struct session *s = ctx;

	if (s->blocks)
		uvs_block_stacks_add(s->blocks, smp);
	if (s->flame && uvs_flame_add(s->flame, s->cli->flame_mode, smp))
		uvs_warn("flame: out of memory, samples are being left out");
}

static void check_blocks(struct session *s);

/* In the middle of a long window: check for blocks if a tick has passed since the last check. */
static void on_keep_up(void *ctx)
{
	struct session *s = ctx;

	/* Not before the event loop runs: the outputs have not begun while we attach. */
	if (s->tick_ns && uvs_now_mono() - s->last_check >= s->tick_ns)
		check_blocks(s);
}

static void check_blocks(struct session *s)
{
	struct uvs_loop_busy loops[UVS_MAX_LOOPS];
	struct uvs_alert alerts[MAX_ALERTS];
	uint64_t now_mono;
	size_t i, n;

	s->last_check = uvs_now_mono();
	if (s->actions)
		uvs_actions_tick(s->actions, s->last_check);
	/* Take the events first, so a block that just ended is never reported as ongoing. */
	s->collector->ops->poll(s->collector);
	n = s->collector->ops->loops_now(s->collector, loops, UVS_MAX_LOOPS, &now_mono);
	/* The samples the collector just took of blocked loops (off the CPU) come in too. */
	s->collector->ops->poll(s->collector);
	n = uvs_alerts_blocks(&s->alert_cfg, &s->alerts, s->target->pid, loops, n, now_mono,
			      uvs_now_real(), alerts, MAX_ALERTS);
	for (i = 0; i < n; i++) {
		if (alerts[i].kind == UVS_ALERT_LOOP_BLOCKED)
			block_context(s, &alerts[i], now_mono - alerts[i].loop_blocked.blocked_ns, 0);
		emit_alert(s, &alerts[i]);
	}
}

/*
 * Applies what the overhead guard decided after a window, and says it: the outputs get a record
 * (watch a GUARD line, JSON a "guard" line). A change that fails is undone in the guard, and
 * the collector is set back to what the guard then says.
 */
static void guard_apply(struct session *s, const struct uvs_guard_decision *d)
{
	struct uvs_record r = { .kind = UVS_RECORD_GUARD, .pid = s->target->pid };
	struct uvs_guard_settings set;
	char why[200], again[200];
	const char *error = NULL;
	int err;

	if (d->action == UVS_GUARD_NONE)
		return;
	if (d->action != UVS_GUARD_EXHAUSTED) {
		uint64_t t0 = uvs_now_mono();
		char took[UVS_DURATION_BUF];

		uvs_guard_settings(&s->guard, &set);
		err = s->collector->ops->adjust(s->collector, &set, why, sizeof(why));
		/* Taking uprobes out waits for the kernel (an RCU grace period): say how long. */
		uvs_format_duration(uvs_now_mono() - t0, took, sizeof(took));
		uvs_debug("overhead guard: %s %s in %s", d->action == UVS_GUARD_DOWN ? "took" : "undid",
			  uvs_guard_step_name(d->step), took);
		if (err) {
			error = why;
			uvs_guard_failed(&s->guard, d);
			uvs_guard_settings(&s->guard, &set);
			if (s->collector->ops->adjust(s->collector, &set, again, sizeof(again)))
				uvs_warn("overhead guard: %s", again);
		}
	}
	uvs_guard_record(&s->guard, d, uvs_now_real(), error, &r.guard);
	uvs_outputs_record(&s->outputs, &r);
}

/* Collects the window since the last one and shows it, unless it is a final sliver. */
static void window(struct session *s, bool final)
{
	struct uvs_alert alerts[MAX_ALERTS];
	struct uvs_guard_window gw;
	struct uvs_guard_decision d = { 0 };
	size_t i, n;

	/* An interval that shows a loop blocked comes after the alert that says so. */
	check_blocks(s);
	s->collector->ops->window(s->collector, s->snap);
	/* The guard as it was during the window; then what the window makes it decide. */
	uvs_guard_snapshot(&s->guard, false, &s->snap->guard);
	uvs_guard_window_of(s->snap, &gw);
	s->snap->guard.rate = uvs_guard_load(&gw);
	if (final)
		uvs_guard_account(&s->guard, &gw);
	else
		uvs_guard_window(&s->guard, &gw, &d);
	/* The summary covers the last partial window; a sliver of one would only mislead. */
	if (final && s->snap->window_ns < s->cli->interval_ns / 4)
		return;
	n = uvs_alerts_window(&s->alert_cfg, &s->alerts, s->snap, alerts, MAX_ALERTS);
	for (i = 0; i < n; i++)
		emit_alert(s, &alerts[i]);
	uvs_outputs_interval(&s->outputs, s->snap);
	/* After the interval that led to it; the probes are already out for the last one. */
	if (!final)
		guard_apply(s, &d);
}

static int totals(void *ctx, int pid, struct uvs_snapshot *out)
{
	struct session *s = ctx;
	int err = pid == s->cli->pid ? s->collector->ops->totals(s->collector, out) : -ESRCH;

	if (!err) {
		uvs_guard_snapshot(&s->guard, true, &out->guard);
		out->agent.probe_hits = s->guard.hits;
	}
	return err;
}

/* ---- event sources -------------------------------------------------------------------------- */

static void stop(struct session *s, const char *why)
{
	s->loop.stop = true;
	s->why_done = why;
}

static void on_collector(void *ctx)
{
	struct session *s = ctx;

	s->collector->ops->poll(s->collector);
}

static void on_interval(void *ctx)
{
	struct session *s = ctx;

	window(s, false);
	if (s->pid_fd < 0 && !uvs_target_alive(s->target))
		stop(s, "the target exited");
}

static void on_block_tick(void *ctx)
{
	check_blocks(ctx);
}

static void on_actions(void *ctx)
{
	struct session *s = ctx;

	uvs_actions_reap(s->actions);
}

static void on_signal(void *ctx)
{
	struct session *s = ctx;
	struct signalfd_siginfo si;

	while (read(s->loop.src[0].fd, &si, sizeof(si)) > 0)
		;
	stop(s, "interrupted");
}

static void on_target_exit(void *ctx)
{
	stop(ctx, "the target exited");
}

static void on_end(void *ctx)
{
	stop(ctx, NULL);
}

static void on_key(void *ctx)
{
	char key;

	if (read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q'))
		stop(ctx, NULL);
}

/*
 * Signals that end a session are blocked from the start, before attaching: one that comes
 * early stays pending and is read from the signalfd, so even then we detach cleanly.
 */
static void block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	sigprocmask(SIG_BLOCK, mask, NULL);
}

/* In top, a single q quits: read keys without waiting for Enter. */
static void keyboard_raw(struct session *s)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &s->saved_tty))
		return;
	raw = s->saved_tty;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 &&
	    uvs_event_loop_add(&s->loop, STDIN_FILENO, false, on_key, s) == 0)
		s->tty_raw = true;
}

static int setup_loop(struct session *s)
{
	const struct uvs_cli *cli = s->cli;
	/* Check for blocks often enough that one just past the threshold is caught ongoing. */
	uint64_t tick = cli->block_ns / 10;
	int sigfd, err, events;
	sigset_t mask;

	if (tick > 10000000ULL)
		tick = 10000000ULL;
	if (tick < 1000000ULL)
		tick = 1000000ULL;
	s->tick_ns = tick;
	block_signals(&mask);
	err = uvs_event_loop_init(&s->loop);
	if (err)
		return err;
	/* The signalfd first: on_signal reads it as source 0. */
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		return -errno;
	err = uvs_event_loop_add(&s->loop, sigfd, true, on_signal, s);
	if (err) {
		close(sigfd);
		return err;
	}
	events = s->collector->ops->event_fd(s->collector);
	if (!err && events >= 0)
		err = uvs_event_loop_add(&s->loop, events, false, on_collector, s);
	if (!err)
		err = uvs_event_loop_add_timer(&s->loop, cli->interval_ns, cli->interval_ns,
					       on_interval, s);
	if (!err)
		err = uvs_event_loop_add_timer(&s->loop, tick, tick, on_block_tick, s);
	if (!err && cli->duration_ns)
		err = uvs_event_loop_add_timer(&s->loop, cli->duration_ns, 0, on_end, s);
	if (!err && s->actions)
		err = uvs_event_loop_add(&s->loop, uvs_actions_fd(s->actions), false, on_actions, s);
	if (err)
		return err;
	s->pid_fd = (int)syscall(SYS_pidfd_open, s->target->pid, 0);
	if (s->pid_fd < 0 || uvs_event_loop_add(&s->loop, s->pid_fd, true, on_target_exit, s)) {
		uvs_warn("pidfd_open failed (%s): the target's exit is noticed at the next interval",
			 strerror(errno));
		if (s->pid_fd >= 0)
			close(s->pid_fd);
		s->pid_fd = -1;
	}
	if (cli->command == UVS_CMD_TOP && !cli->json)
		keyboard_raw(s);
	if (s->http)
		return uvs_http_join_loop(s->http, &s->loop);
	return 0;
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
		.syscalls = cli->syscalls,
		.slow_syscall_ns = cli->slow_syscall_ns,
		.fd_rescan_ns = cli->fd_rescan_ns,
		.sockets = !cli->no_sockets,
		.sample_hz = cli->no_stacks ? 0 : cli->sample_hz,
		/* A profile's samples must all stand for the same time: flame does not speed up. */
		.blocked_hz = cli->command == UVS_CMD_FLAME ? cli->sample_hz : cli->blocked_hz,
		.sample_off_cpu = cli->command == UVS_CMD_FLAME && cli->flame_mode == UVS_FLAME_OFF_CPU,
		.gc = !cli->no_gc,
	};
}

/*
 * The overhead guard steps in watch, top and serve; flame and trace keep the probes they are
 * given.
 */
static bool guarded(const struct uvs_cli *cli)
{
	return (cli->command == UVS_CMD_WATCH || cli->command == UVS_CMD_TOP ||
		cli->command == UVS_CMD_SERVE) && !cli->no_guard;
}

/* The guard starts from what attaching gave: exact phases and sampling as they are now. */
static void guard_init(struct session *s, const struct uvs_collect_report *r)
{
	struct uvs_collect_options o = collect_options(s->cli);
	struct uvs_guard_config c = {
		.enabled = guarded(s->cli),
		.budget = s->cli->max_probe_rate,
		.phases = !strcmp(r->mode, "exact-phases"),
		.phase_hits_per_iteration = r->phase_hits_per_iteration,
		.sample_hz = r->stacks[0] ? o.sample_hz : 0,
		.blocked_hz = r->stacks[0] ? o.blocked_hz : 0,
	};

	uvs_guard_init(&s->guard, &c);
	if (c.enabled)
		uvs_debug("overhead guard: at most %" PRIu64 " probe hits/s on the target",
			  c.budget);
}

/*
 * A file of the operator's (JSON lines, a trace, a profile): opened now, as root, before
 * privileges go, so a path that cannot be written fails before anything is attached.
 */
static int open_private_file(const char *path, FILE **out)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0)
		return -errno;
	*out = fdopen(fd, "w");
	if (!*out) {
		close(fd);
		return -errno;
	}
	setvbuf(*out, NULL, _IOLBF, 0);
	return 0;
}

/*
 * trace: the timeline goes to its file, fully buffered (one event per loop iteration and phase
 * would otherwise cost the agent a write each); time 0 is now, just before attaching.
 */
static int make_trace_output(struct session *s, struct uvs_output **out)
{
	struct uvs_trace_clock clock = uvs_trace_clock_now();
	FILE *f;
	int err = open_private_file(s->cli->output, &f);

	if (err) {
		uvs_err("cannot open -o %s: %s", s->cli->output, strerror(-err));
		return err;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	*out = s->trace = uvs_trace_output_new(f, &clock);
	if (!*out) {
		fclose(f);
		return 0; /* said by the caller */
	}
	(*out)->owns_out = true;
	return 0;
}

/*
 * serve: the listener is bound now, before attaching, so a port in use fails at once. Its
 * output builds the pages; stdout keeps the alerts (the figures are on /metrics).
 */
static int make_metrics_output(struct session *s, struct uvs_output *main)
{
	const struct uvs_cli *cli = s->cli;
	struct uvs_output *metrics;
	char why[300], where[64];

	uvs_listen_addr_format(&cli->listen_addr, where, sizeof(where));
	s->http = uvs_http_start(&cli->listen_addr, why, sizeof(why));
	if (!s->http) {
		uvs_err("cannot listen on %s: %s", where, why);
		return -EADDRNOTAVAIL;
	}
	if (main)
		main->alerts_only = true;
	metrics = uvs_metrics_output_new(s->http);
	if (!metrics || uvs_outputs_add(&s->outputs, metrics, &s->source)) {
		uvs_err("cannot set up the metrics output: out of memory");
		return -ENOMEM;
	}
	uvs_info("serving http://%s/metrics", where);
	if (!uvs_listen_addr_is_loopback(&cli->listen_addr))
		uvs_warn("%s is reachable from other hosts: anyone who can connect reads the "
			 "metrics (firewall the port to your Prometheus)", where);
	return 0;
}

/* The output on stdout (the command's), and a JSON file if asked for. */
static int make_outputs(struct session *s)
{
	const struct uvs_cli *cli = s->cli;
	struct uvs_output *main = NULL, *file;
	FILE *f;
	int err;

	if (cli->command == UVS_CMD_FLAME) {
		/* The profile is written at the end; stdout shows nothing meanwhile. */
		for (size_t i = 0; i < cli->nflame_files; i++) {
			err = open_private_file(cli->flame_files[i], &s->flame_files[i]);
			if (err) {
				uvs_err("cannot open -o %s: %s", cli->flame_files[i], strerror(-err));
				return err;
			}
		}
		s->flame = uvs_profile_new(1000000000ULL / cli->sample_hz);
		if (!s->flame) {
			uvs_err("cannot set up the profile: out of memory");
			return -ENOMEM;
		}
	} else if (cli->command == UVS_CMD_TRACE) {
		err = make_trace_output(s, &main);
		if (err)
			return err;
	} else if (cli->json) {
		main = uvs_json_output_new(stdout);
	} else if (cli->command == UVS_CMD_TOP) {
		main = uvs_top_output_new(stdout);
	} else {
		main = uvs_watch_output_new(stdout);
	}
	if (cli->command != UVS_CMD_FLAME &&
	    (!main || uvs_outputs_add(&s->outputs, main, &s->source))) {
		uvs_err("cannot set up the output: out of memory");
		return -ENOMEM;
	}
	if (cli->command == UVS_CMD_SERVE) {
		err = make_metrics_output(s, main);
		if (err)
			return err;
	}
	if (!cli->json_file)
		return 0;
	err = open_private_file(cli->json_file, &f);
	if (err) {
		uvs_err("cannot open --json-file %s: %s", cli->json_file, strerror(-err));
		return err;
	}
	file = uvs_json_output_new(f);
	if (!file) {
		fclose(f);
		uvs_err("cannot set up the output: out of memory");
		return -ENOMEM;
	}
	file->owns_out = true;
	err = uvs_outputs_add(&s->outputs, file, &s->source);
	if (err) {
		uvs_err("cannot set up the JSON file output: %s", strerror(-err));
		return err;
	}
	return 0;
}

static int attach(struct session *s, uint64_t *attach_ns)
{
	const struct uvs_cli *cli = s->cli;
	struct uvs_collect_options o = collect_options(cli);
	struct uvs_collect_sink sink = { .ctx = s, .block_ended = on_block_ended,
					 .record = on_record, .sample = on_sample,
					 .keep_up = on_keep_up };
	char why[512], path[32];
	struct stat st;
	uint64_t t0 = uvs_now_mono();
	bool capstone;
	int err;

	snprintf(path, sizeof(path), "/proc/%d", (int)cli->pid);
	if (stat(path, &st)) {
		uvs_err("no such process: %d", (int)cli->pid);
		return -ESRCH;
	}
	if (uvs_check_privileges(why, sizeof(why))) {
		uvs_err("cannot attach to pid %d: permission denied (%s)", (int)cli->pid, why);
		return -EPERM;
	}
	s->target = calloc(1, sizeof(*s->target));
	s->snap = calloc(1, sizeof(*s->snap));
	s->collector = uvs_bpf_collector_new();
	if (o.sample_hz)
		s->blocks = uvs_block_stacks_new();
	if (!s->target || !s->snap || !s->collector || (o.sample_hz && !s->blocks)) {
		uvs_err("cannot attach to pid %d: out of memory", (int)cli->pid);
		return -ENOMEM;
	}
	/* The outputs first: a file that cannot be written fails before anything is attached. */
	err = make_outputs(s);
	if (err)
		return err;
	err = uvs_target_open(s->target, cli->pid, why, sizeof(why));
	if (err) {
		uvs_err("%s", why);
		return err;
	}
	uvs_log_setup_libbpf();
	/*
	 * Capstone decodes libuv's code for the probe sites: loaded for the attach only (5 MB of
	 * RSS while it is), once for all the decodes. Without it those sites are not found; what
	 * does not need them still attaches.
	 */
	capstone = uvs_capstone_hold() == 0;
	if (!capstone)
		uvs_warn("cannot load capstone, which places uvscope's probes in libuv's code: %s "
			 "(install libcapstone)", uvs_capstone_error());
	err = s->collector->ops->attach(s->collector, s->target, &o, &sink, why, sizeof(why));
	if (capstone)
		uvs_capstone_release();
	if (err) {
		uvs_err("cannot attach to pid %d: %s", (int)cli->pid, why);
		return err;
	}
	/* CAP_BPF and CAP_PERFMON stay while the guard may put the phase uprobes back. */
	err = uvs_drop_privileges(o.sample_hz != 0 || (guarded(cli) && o.phases));
	if (err)
		uvs_warn("cannot drop privileges after attaching: %s", strerror(-err));
	*attach_ns = uvs_now_mono() - t0;
	/* What attaching read (BTF, ELF tables) goes back to the kernel now. */
	uvs_target_drop_tables(s->target);
	uvs_heap_release();
	return 0;
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
static void say_trace_phases(const struct session *s, const struct uvs_collect_report *r)
{
	if (s->cli->phases || s->cli->no_phases || strcmp(r->mode, "exact-phases") != 0)
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
	uvs_debug("pool: %zu uprobe sites, CPU work at %s, single-stepped: %s", p->sites,
		  p->cpu_work_why ? "uv__queue_work" : "node's ThreadPoolWork callbacks",
		  p->nstepped ? stepped : "none");
	if (p->cpu_work_why)
		uvs_info("pool: CPU work (crypto, zlib, N-API) is followed at uv__queue_work and "
			 "uv__queue_done, which the kernel single-steps (7-20 us more per job): %s",
			 p->cpu_work_why);
}

/* The attach line on stderr (when stdout is not JSON), then every output's beginning. */
static void begin(struct session *s, uint64_t attach_ns)
{
	const struct uvs_target *t = s->target;
	struct uvs_collect_report report;
	const char *missing[UVS_MAX_MISSING];
	struct uvs_thread_brief *threads = calloc(t->nthreads ? t->nthreads : 1, sizeof(*threads));
	struct uvs_attach_info info;
	struct uvs_container where;
	char took[UVS_DURATION_BUF];
	size_t i;

	s->collector->ops->report(s->collector, &report);
	guard_init(s, &report);
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
		.stacks = report.stacks[0] ? report.stacks : NULL,
		.pool = report.pool_on ? &report.pool : NULL,
		.collector = s->collector->ops->name,
		.missing = missing,
		.nmissing = report.nmissing,
		.block_threshold_ns = s->cli->block_ns,
		.interval_ns = s->cli->interval_ns,
		.guard_budget = s->guard.cfg.enabled ? s->guard.cfg.budget : 0,
		.attach_ns = attach_ns,
		.threads = threads,
		.nthreads = threads ? t->nthreads : 0,
	};
	if (!s->cli->json) {
		print_threads(t);
		uvs_format_duration(attach_ns, took, sizeof(took));
		uvs_info("attached to pid %d (%s) in %s: %s%s%slibuv %s in %s, mode %s", (int)t->pid,
			 t->comm, took, t->node_version[0] ? "node " : "", t->node_version,
			 t->node_version[0] ? ", " : "", t->libuv_version, t->uv.path, report.mode);
		if (where.id[0] || where.ns_pid != t->pid)
			uvs_info("pid %d is pid %d in its own PID namespace%s%s", (int)t->pid,
				 where.ns_pid, where.id[0] ? ", in container " : "", where.id);
		uvs_debug("epoll waits caught by %s, %d per wait", report.epoll_hooks,
			  report.epoll_hooks_per_wait);
		if (report.stacks[0])
			uvs_info("stacks: %s", report.stacks);
		if (report.pool_on)
			say_pool(&report.pool);
		if (s->cli->command == UVS_CMD_TRACE)
			say_trace_phases(s, &report);
		for (i = 0; i < report.nmissing; i++)
			uvs_warn("%s", missing[i]);
	}
	uvs_outputs_begin(&s->outputs, &info);
	free(threads);
}

/* ---- end ------------------------------------------------------------------------------------- */

/* flame: the profile into its file, in the format asked for. */
static void write_flame(struct session *s)
{
	static const char *const modes[] = { [UVS_FLAME_CPU] = "cpu", [UVS_FLAME_OFF_CPU] = "offcpu",
					     [UVS_FLAME_LOOP] = "loop" };
	const struct uvs_cli *cli = s->cli;
	char title[160];
	struct uvs_flame_info info = { .title = title, .time_ns = (int64_t)s->flame_start_real,
				       .duration_ns = (int64_t)(uvs_now_mono() - s->flame_start) };
	int err;

	snprintf(title, sizeof(title), "uvscope flame: pid %d (%s), %s samples", (int)cli->pid,
		 s->target->comm, modes[cli->flame_mode]);
	for (size_t i = 0; i < cli->nflame_files; i++) {
		FILE *f = s->flame_files[i];

		err = uvs_flame_write(f, cli->flame_formats[i], s->flame, &info);
		if (!err && fflush(f))
			err = -errno;
		if (err) {
			uvs_err("cannot write %s: %s", cli->flame_files[i], strerror(-err));
			s->outputs.failed = err;
			continue;
		}
		uvs_info("wrote %" PRIu64 " samples (%zu stacks) to %s",
			 uvs_profile_total_samples(s->flame), uvs_profile_nentries(s->flame),
			 cli->flame_files[i]);
	}
}

/* The commands still running get their time; then what became of every alert is said. */
static void finish_actions(struct session *s)
{
	struct uvs_actions_stats st;

	if (!s->actions)
		return;
	uvs_actions_drain(s->actions);
	uvs_actions_stats(s->actions, &st);
	if (st.failed || st.timed_out || st.busy || st.not_run)
		uvs_warn("--on-alert: %" PRIu64 " commands run, %" PRIu64 " succeeded, %" PRIu64
			 " failed, %" PRIu64 " killed at the timeout; %" PRIu64 " alerts not acted on "
			 "(%d commands were running), %" PRIu64 " not run (the command could not be "
			 "started)", st.started, st.succeeded, st.failed, st.timed_out, st.busy,
			 UVS_ACTIONS_MAX, st.not_run);
	else
		uvs_debug("--on-alert: %" PRIu64 " commands run, all succeeded", st.started);
}

static void finish(struct session *s)
{
	if (s->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &s->saved_tty);
	s->collector->ops->quiesce(s->collector);
	window(s, true);
	if (totals(s, s->cli->pid, s->snap) == 0)
		uvs_outputs_summary(&s->outputs, s->snap);
	uvs_outputs_end(&s->outputs);
	if (s->flame)
		write_flame(s);
	finish_actions(s);
	if (s->why_done)
		uvs_info("%s; detached from pid %d", s->why_done, (int)s->target->pid);
}

static void cleanup(struct session *s)
{
	uvs_event_loop_free(&s->loop);
	if (s->collector)
		s->collector->ops->destroy(s->collector);
	uvs_outputs_free(&s->outputs);
	uvs_http_stop(s->http);
	if (s->target)
		uvs_target_close(s->target);
	free(s->target);
	free(s->snap);
	uvs_block_stacks_free(s->blocks);
	uvs_profile_free(s->flame);
	uvs_actions_free(s->actions);
	for (size_t i = 0; i < UVS_FLAME_FILES; i++)
		if (s->flame_files[i])
			fclose(s->flame_files[i]);
}

int uvs_session_run(const struct uvs_cli *cli, const struct uvs_alert_config *rules)
{
	struct session s = { .cli = cli, .pid_fd = -1, .loop.epfd = -1, .alert_cfg = *rules };
	uint64_t attach_ns = 0;
	char why[512];
	sigset_t mask;
	int err = 0;

	uvs_verbose = cli->verbose;
	s.source = (struct uvs_output_source){ .ctx = &s, .totals = totals };
	block_signals(&mask);
	/* Before attaching, as root: what it needs (a signalfd) is then in place. */
	if (cli->on_alert) {
		s.actions = uvs_actions_new(cli->on_alert, cli->on_alert_timeout_ns, why, sizeof(why));
		if (!s.actions) {
			uvs_err("%s", why);
			err = -EINVAL;
		}
	}
	if (!err)
		err = attach(&s, &attach_ns);
	if (!err) {
		err = setup_loop(&s);
		if (err)
			uvs_err("cannot set up the agent's event loop: %s", strerror(-err));
	}
	if (!err) {
		begin(&s, attach_ns);
		s.flame_start = uvs_now_mono();
		s.flame_start_real = uvs_now_real();
		err = uvs_event_loop_run(&s.loop);
		if (err)
			uvs_err("the agent's event loop failed: %s", strerror(-err));
		finish(&s);
		if (s.trace) {
			struct uvs_trace_stats st;

			uvs_trace_output_stats(s.trace, &st);
			uvs_trace_summary_line(stderr, cli->output, &st);
		}
	}
	/* An output that could not be written was said when it failed; the status says it too. */
	if (!err && s.outputs.failed)
		err = s.outputs.failed;
	cleanup(&s);
	if (err)
		return 1;
	return s.alert_exit ? UVS_EXIT_ALERT : 0;
}
