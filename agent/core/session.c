// SPDX-License-Identifier: MIT
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/loop.h"
#include "util/duration.h"
#include "collect/fd_tracker.h"
#include "collect/fds.h"
#include "util/log.h"
#include "render/json.h"
#include "render/top.h"
#include "render/watch.h"
#include "collect/pool.h"
#include "target/privileges.h"
#include "collect/loop_probes.h"
#include "core/session.h"
#include "collect/sockets.h"
#include "collect/syscalls.h"
#include "target/process.h"

#define MAX_RECENT_ALERTS 6

enum source { SRC_RINGBUF = 1, SRC_INTERVAL, SRC_BLOCKCHECK, SRC_SIGNAL, SRC_TARGET, SRC_END,
	      SRC_KEYBOARD };

struct session {
	const struct uvs_cli *cli;
	struct uvs_target *target;
	struct uvs_probes probes;
	struct uvs_pool pool;
	struct uvs_syscalls sys;
	struct uvs_sockets_watch sockets;
	struct uvs_fd_tracker fdt;
	uint64_t fds_prev_open;  /* at the previous window, for growth */
	bool fds_seen;
	int fds_growth_streak;   /* windows in a row in which the fd count grew */
	bool fds_near_limit;     /* an fd_limit alert is standing */
	struct uvs_collector collector;
	struct ring_buffer *ringbuf;
	struct uvs_snapshot *snap; /* the last interval (top redraws it when an alert comes) */
	bool have_snap;
	struct uvs_alert recent[MAX_RECENT_ALERTS];
	size_t nrecent;
	uint64_t start_mono;
	int epfd, interval_fd, block_fd, signal_fd, pid_fd, end_fd;
	bool tty_raw;
	struct termios saved_tty;
	bool done;
	const char *why_done;
};

static const char *mode_name(const struct session *s)
{
	return s->probes.phases ? "exact-phases" : "epoll";
}

static const char *hooks_name(const struct session *s)
{
	return s->probes.trampolines ? "fentry" : "tracepoints";
}

static void render_top(struct session *s)
{
	struct uvs_top_context ctx = {
		.pid = s->target->pid,
		.target = s->target->exe,
		.mode = mode_name(s),
		.libuv_version = s->target->libuv_version,
		.block_threshold_ns = s->cli->block_ns,
		.elapsed_ns = uvs_now_mono() - s->start_mono,
		.recent = s->recent,
		.nrecent = s->nrecent,
		.ansi = isatty(STDOUT_FILENO),
	};

	if (s->have_snap)
		uvs_top_render(stdout, s->snap, &ctx);
}

static void emit_alert(struct session *s, const struct uvs_alert *a)
{
	if (s->nrecent == MAX_RECENT_ALERTS) {
		memmove(s->recent, s->recent + 1, sizeof(s->recent[0]) * (MAX_RECENT_ALERTS - 1));
		s->nrecent--;
	}
	s->recent[s->nrecent++] = *a;
	if (s->cli->json)
		uvs_json_alert(stdout, a);
	else if (s->cli->command == UVS_CMD_WATCH)
		uvs_watch_alert(stdout, a);
	else
		render_top(s);
	fflush(stdout);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct session *s = ctx;
	const struct uvs_event *e = data;
	struct uvs_alert a;

	if (len < sizeof(*e))
		return 0;
	switch (e->type) {
	case UVS_EV_BLOCK_END:
		uvs_collector_block_ended(&s->collector, e, &a);
		emit_alert(s, &a);
		break;
	case UVS_EV_LOOP_SEEN:
		uvs_collector_loop_seen(&s->collector, (pid_t)e->tid);
		break;
	case UVS_EV_THREAD_EXIT:
		uvs_debug("thread %u exited", e->tid);
		break;
	}
	return 0;
}

/* --pool-jobs: a record per served job, printed as it comes (top shows none). */
static int on_pool_job(void *ctx, void *data, size_t len)
{
	struct session *s = ctx;
	struct uvs_pool_job_record j;

	if (uvs_pool_record_from_event(data, len, &j))
		return 0;
	if (s->cli->json)
		uvs_json_pool_job(stdout, s->target->pid, &j);
	else if (s->cli->command == UVS_CMD_WATCH)
		uvs_watch_pool_job(stdout, &j);
	return 0;
}

static void check_blocks(struct session *s)
{
	struct uvs_alert alerts[8];
	size_t i, n;

	/* Drain the ring buffer first so an ended block is never reported as ongoing. */
	ring_buffer__consume(s->ringbuf);
	n = uvs_collector_check_blocks(&s->collector, alerts, 8);
	for (i = 0; i < n; i++)
		emit_alert(s, &alerts[i]);
}

/* Windows of growth in a row that make a leak (the fd_growth alert). */
#define FD_GROWTH_WINDOWS 5

/*
 * fds by type: kept current from the syscalls that open and close them, with /proc/PID/fd
 * read again when they could not be followed or the rescan period is over; without syscall
 * tracing, a scan every window. Then growth against the last window, and the fd alerts.
 */
static void fd_window(struct session *s)
{
	struct uvs_fd_snapshot *f = &s->snap->fds;
	struct uvs_alert a = { .pid = s->target->pid, .ts_ns = s->snap->ts_ns,
			       .window_ns = s->snap->window_ns };
	struct uvs_sys_counters c;
	bool tracked = s->sys.attached && uvs_syscalls_counters(&s->sys, &c) == 0;
	uint64_t now = uvs_now_mono();
	int t;

	if (!tracked || uvs_fd_tracker_needs_scan(&s->fdt, &c, now)) {
		if (uvs_fds_scan(s->target->pid, f))
			return;
		if (tracked) {
			f->drift = uvs_fd_tracker_rebase(&s->fdt, &c, f, now);
			f->rescanned = true;
		}
	} else {
		memset(f, 0, sizeof(*f));
		uvs_fd_tracker_estimate(&s->fdt, &c, f->by_type);
		for (t = 0; t < UVS_FD_TYPES; t++)
			f->open += f->by_type[t];
		f->limit = uvs_fds_limit(s->target->pid);
		f->available = true;
		f->from_syscalls = true;
	}
	f->growth = s->fds_seen ? (int64_t)f->open - (int64_t)s->fds_prev_open : 0;
	s->fds_seen = true;
	s->fds_prev_open = f->open;
	s->fds_growth_streak = f->growth > 0 ? s->fds_growth_streak + 1 : 0;
	a.count = f->open;
	a.limit = f->limit;
	if (s->fds_growth_streak == FD_GROWTH_WINDOWS) {
		a.kind = UVS_ALERT_FD_GROWTH;
		a.growth_windows = FD_GROWTH_WINDOWS;
		emit_alert(s, &a);
	}
	/* Alert when the count crosses 80% of the limit; again only after it fell below 75%. */
	if (f->limit && f->limit != UINT64_MAX) {
		if (!s->fds_near_limit && f->open * 5 >= f->limit * 4) {
			s->fds_near_limit = true;
			a.kind = UVS_ALERT_FD_LIMIT;
			emit_alert(s, &a);
		} else if (f->open * 4 < f->limit * 3) {
			s->fds_near_limit = false;
		}
	}
}

/* The target's sockets, and their alerts. */
static void socket_window(struct session *s)
{
	struct uvs_alert alerts[4];
	size_t i, n;

	n = uvs_sockets_watch_window(&s->sockets, s->target->pid, s->snap->window_ns,
				     &s->snap->sockets, alerts, 4);
	for (i = 0; i < n; i++) {
		alerts[i].ts_ns = s->snap->ts_ns;
		emit_alert(s, &alerts[i]);
	}
}

/* The pool's alerts are judged per window. */
static void pool_alerts(struct session *s)
{
	const struct uvs_pool_snapshot *p = &s->snap->pool;
	struct uvs_alert a = { .pid = s->target->pid, .ts_ns = s->snap->ts_ns,
			       .window_ns = s->snap->window_ns };

	if (!p->available)
		return;
	if (p->saturation >= UVS_POOL_SATURATED) {
		a.kind = UVS_ALERT_POOL_SATURATED;
		a.saturation = p->saturation;
		a.queued_max = p->queued_max;
		a.pool_size = p->size;
		emit_alert(s, &a);
	}
	if (p->sync_fs_on_loop) {
		a.kind = UVS_ALERT_SYNC_IO_ON_LOOP;
		a.count = p->sync_fs_on_loop;
		a.total_ns = p->sync_fs_on_loop_ns;
		emit_alert(s, &a);
	}
}

/* Collects the window since the last one and shows it, unless it is a final sliver. */
static void emit_interval(struct session *s, bool final)
{
	/* An interval that shows a loop blocked comes after the alert that says so. */
	check_blocks(s);
	uvs_target_refresh_threads(s->target);
	uvs_collector_interval(&s->collector, s->snap);
	uvs_pool_window(&s->pool, s->target, &s->snap->pool, false);
	ring_buffer__consume(s->ringbuf); /* the window's last slow syscalls */
	uvs_syscalls_window(&s->sys, &s->snap->syscalls, false);
	fd_window(s);
	socket_window(s);
	s->have_snap = true;
	/* The summary covers the last partial window; a sliver of one would only mislead. */
	if (final && s->snap->window_ns < s->cli->interval_ns / 4)
		return;
	pool_alerts(s);
	if (s->cli->json)
		uvs_json_interval(stdout, s->snap);
	else if (s->cli->command == UVS_CMD_WATCH)
		uvs_watch_interval(stdout, s->snap);
	else
		render_top(s);
	fflush(stdout);
}


static int add_fd(struct session *s, int fd, enum source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = src };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int timer_fd(uint64_t first_ns, uint64_t period_ns)
{
	struct itimerspec its = {
		.it_value = { first_ns / 1000000000ULL, first_ns % 1000000000ULL },
		.it_interval = { period_ns / 1000000000ULL, period_ns % 1000000000ULL },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void drain(int fd)
{
	uint64_t buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* In top, a single q quits: read keys without waiting for Enter. */
static void keyboard_raw(struct session *s)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &s->saved_tty))
		return;
	raw = s->saved_tty;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 && add_fd(s, STDIN_FILENO, SRC_KEYBOARD) == 0)
		s->tty_raw = true;
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

static int setup_loop(struct session *s)
{
	const struct uvs_cli *cli = s->cli;
	/* Check for blocks often enough that one just past the threshold is caught ongoing. */
	uint64_t tick = cli->block_ns / 10;
	sigset_t mask;

	block_signals(&mask);
	if (tick > 10000000ULL)
		tick = 10000000ULL;
	if (tick < 1000000ULL)
		tick = 1000000ULL;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->interval_fd = timer_fd(cli->interval_ns, cli->interval_ns);
	s->block_fd = timer_fd(tick, tick);
	s->pid_fd = (int)syscall(SYS_pidfd_open, s->target->pid, 0);
	s->end_fd = cli->duration_ns ? timer_fd(cli->duration_ns, 0) : -1;
	if (s->epfd < 0 || s->signal_fd < 0 || s->interval_fd < 0 || s->block_fd < 0 ||
	    (cli->duration_ns && s->end_fd < 0))
		return -errno;
	if (add_fd(s, ring_buffer__epoll_fd(s->ringbuf), SRC_RINGBUF) ||
	    add_fd(s, s->signal_fd, SRC_SIGNAL) || add_fd(s, s->interval_fd, SRC_INTERVAL) ||
	    add_fd(s, s->block_fd, SRC_BLOCKCHECK) ||
	    (s->end_fd >= 0 && add_fd(s, s->end_fd, SRC_END)))
		return -errno;
	if (s->pid_fd >= 0)
		add_fd(s, s->pid_fd, SRC_TARGET);
	else
		uvs_warn("pidfd_open failed (%s): the target's exit is noticed at the next interval",
			 strerror(errno));
	if (cli->command == UVS_CMD_TOP && !cli->json)
		keyboard_raw(s);
	return 0;
}

static void dispatch(struct session *s, enum source src)
{
	char key;

	switch (src) {
	case SRC_RINGBUF:
		ring_buffer__consume(s->ringbuf);
		fflush(stdout); /* per-job records stream as they come */
		break;
	case SRC_INTERVAL:
		drain(s->interval_fd);
		emit_interval(s, false);
		if (s->pid_fd < 0 && !uvs_target_alive(s->target)) {
			s->done = true;
			s->why_done = "the target exited";
		}
		break;
	case SRC_BLOCKCHECK:
		drain(s->block_fd);
		check_blocks(s);
		break;
	case SRC_SIGNAL:
		drain(s->signal_fd);
		s->done = true;
		s->why_done = "interrupted";
		break;
	case SRC_TARGET:
		s->done = true;
		s->why_done = "the target exited";
		break;
	case SRC_END:
		s->done = true;
		s->why_done = NULL;
		break;
	case SRC_KEYBOARD:
		if (read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q')) {
			s->done = true;
			s->why_done = NULL;
		}
		break;
	}
}

static int run_loop(struct session *s)
{
	struct epoll_event evs[8];
	int i, n;

	while (!s->done) {
		n = epoll_wait(s->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !s->done; i++)
			dispatch(s, (enum source)evs[i].data.u32);
	}
	return 0;
}

static struct uvs_thread_brief thread_brief(const struct uvs_thread *th)
{
	struct uvs_thread_brief b = { .tid = th->tid, .role = th->role,
				      .role_known = th->role_known };

	memcpy(b.comm, th->comm, sizeof(b.comm));
	return b;
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

static void print_attached(struct session *s, uint64_t attach_ns)
{
	const char *missing[5];
	char phases_missing[400], pool_missing[400], sys_missing[400], table_missing[400];
	char trace_missing[400];
	size_t nmissing = 0;
	char took[32];

	if (s->cli->phases && !s->probes.phases) {
		snprintf(phases_missing, sizeof(phases_missing), "exact phases: %s",
			 s->probes.phases_why);
		missing[nmissing++] = phases_missing;
	}
	if (s->cli->pool && !s->pool.attached) {
		snprintf(pool_missing, sizeof(pool_missing), "thread pool: %s", s->pool.why);
		missing[nmissing++] = pool_missing;
	}
	if (s->cli->syscalls && !s->sys.attached) {
		snprintf(sys_missing, sizeof(sys_missing), "syscalls: %s", s->sys.why);
		missing[nmissing++] = sys_missing;
	}
	if (!s->cli->no_sockets && s->sockets.nl < 0) {
		snprintf(table_missing, sizeof(table_missing), "socket table: %s", s->sockets.why);
		missing[nmissing++] = table_missing;
	}
	if (!s->cli->no_sockets && !s->sockets.trace.attached) {
		snprintf(trace_missing, sizeof(trace_missing), "tcp transitions: %s",
			 s->sockets.trace.why);
		missing[nmissing++] = trace_missing;
	}
	if (s->cli->json) {
		struct uvs_thread_brief *threads = calloc(s->target->nthreads, sizeof(*threads));
		struct uvs_json_target t = {
			.pid = s->target->pid,
			.exe = s->target->exe,
			.build_id = s->target->build_id,
			.libuv_version = s->target->libuv_version,
			.mode = mode_name(s),
			.epoll_hooks = hooks_name(s),
			.missing = missing,
			.nmissing = nmissing,
			.block_threshold_ns = s->cli->block_ns,
			.interval_ns = s->cli->interval_ns,
			.threads = threads,
			.nthreads = threads ? s->target->nthreads : 0,
		};

		for (size_t i = 0; i < t.nthreads; i++)
			threads[i] = thread_brief(&s->target->threads[i]);
		uvs_json_hello(stdout, &t);
		fflush(stdout);
		free(threads);
		return;
	}
	print_threads(s->target);
	uvs_format_duration(attach_ns, took, sizeof(took));
	uvs_info("attached to pid %d (%s) in %s: libuv %s in %s, mode %s", (int)s->target->pid,
		 s->target->comm, took, s->target->libuv_version, s->target->uv.path, mode_name(s));
	uvs_debug("epoll waits caught by %s", hooks_name(s));
	for (size_t i = 0; i < nmissing; i++)
		uvs_warn("%s", missing[i]);
}

static void finish(struct session *s)
{
	if (s->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &s->saved_tty);
	if (!s->ringbuf)
		return;
	ring_buffer__consume(s->ringbuf);
	emit_interval(s, true);
	uvs_collector_summary(&s->collector, s->snap);
	uvs_pool_window(&s->pool, s->target, &s->snap->pool, true);
	uvs_syscalls_window(&s->sys, &s->snap->syscalls, true);
	uvs_sockets_watch_summary(&s->sockets, &s->snap->sockets);
	if (s->cli->json) {
		uvs_json_summary(stdout, s->snap);
	} else {
		if (s->cli->command == UVS_CMD_TOP && isatty(STDOUT_FILENO))
			fputs("\n", stdout);
		uvs_watch_summary(stdout, s->snap);
	}
	fflush(stdout);
	if (s->why_done)
		uvs_info("%s; detached from pid %d", s->why_done, (int)s->target->pid);
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void cleanup(struct session *s)
{
	ring_buffer__free(s->ringbuf);
	uvs_collector_free(&s->collector);
	uvs_pool_detach(&s->pool);
	uvs_syscalls_detach(&s->sys);
	uvs_sockets_watch_detach(&s->sockets);
	uvs_probes_detach(&s->probes);
	if (s->target)
		uvs_target_close(s->target);
	free(s->target);
	free(s->snap);
	close_fd(s->epfd);
	close_fd(s->interval_fd);
	close_fd(s->block_fd);
	close_fd(s->signal_fd);
	close_fd(s->pid_fd);
	close_fd(s->end_fd);
}

/*
 * The syscall tracepoints, and the fd baseline they move: the counters are read before the
 * scan, so an fd opened meanwhile is counted twice rather than missed (a rescan mends it).
 */
static void attach_syscalls(struct session *s)
{
	struct uvs_fd_snapshot scan;
	struct uvs_sys_counters c;

	s->fdt.rescan_ns = s->cli->fd_rescan_ns;
	if (uvs_syscalls_attach(&s->sys, s->target, s->probes.state_fd, s->cli->slow_syscall_ns,
				true))
		return;
	if (uvs_syscalls_counters(&s->sys, &c) == 0 && uvs_fds_scan(s->target->pid, &scan) == 0)
		uvs_fd_tracker_rebase(&s->fdt, &c, &scan, uvs_now_mono());
}

/* Target, privileges, probes: each failure is one sentence and exit status 1. */
static int attach(struct session *s)
{
	const struct uvs_cli *cli = s->cli;
	struct uvs_probe_options po = { .block_ns = cli->block_ns, .phases = cli->phases };
	char why[512], path[32];
	struct stat st;
	uint64_t t0;
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
	t0 = uvs_now_mono();
	s->target = calloc(1, sizeof(*s->target));
	s->snap = calloc(1, sizeof(*s->snap));
	if (!s->target || !s->snap)
		return -ENOMEM;
	err = uvs_target_open(s->target, cli->pid, why, sizeof(why));
	if (err) {
		uvs_err("%s", why);
		return err;
	}
	uvs_log_setup_libbpf();
	err = uvs_probes_attach(&s->probes, s->target, &po, why, sizeof(why));
	if (err) {
		uvs_err("cannot attach to pid %d: %s", (int)cli->pid, why);
		return err;
	}
	if (cli->pool)
		uvs_pool_attach(&s->pool, s->target, cli->pool_jobs);
	if (cli->syscalls)
		attach_syscalls(s);
	if (!cli->no_sockets)
		uvs_sockets_watch_attach(&s->sockets, s->target);
	err = uvs_collector_init(&s->collector, s->target, &s->probes, cli->block_ns);
	if (err)
		return err;
	uvs_collector_seed(&s->collector);
	s->ringbuf = ring_buffer__new(uvs_probes_events_fd(&s->probes), on_event, s, NULL);
	if (!s->ringbuf)
		return -errno;
	if (s->pool.attached && cli->pool_jobs &&
	    ring_buffer__add(s->ringbuf, uvs_pool_records_fd(&s->pool), on_pool_job, s))
		return -errno;
	if (s->sys.attached &&
	    ring_buffer__add(s->ringbuf, uvs_syscalls_events_fd(&s->sys), uvs_syscalls_on_slow,
			     &s->sys))
		return -errno;
	err = uvs_drop_privileges();
	if (err)
		uvs_warn("cannot drop privileges after attaching: %s", strerror(-err));
	s->start_mono = uvs_now_mono();
	print_attached(s, s->start_mono - t0);
	return 0;
}

int uvs_session_run(const struct uvs_cli *cli)
{
	struct session s = { .cli = cli, .epfd = -1, .interval_fd = -1, .block_fd = -1,
			     .signal_fd = -1, .pid_fd = -1, .end_fd = -1, .sockets.nl = -1 };

	sigset_t mask;
	int err;

	uvs_verbose = cli->verbose;
	block_signals(&mask);
	err = attach(&s);
	if (!err) {
		err = setup_loop(&s);
		if (err)
			uvs_err("cannot set up the agent's event loop: %s", strerror(-err));
	}
	if (!err) {
		err = run_loop(&s);
		finish(&s);
	}
	cleanup(&s);
	return err ? 1 : 0;
}
