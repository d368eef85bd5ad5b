// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/bpf_shared.h"
#include "collect/collector.h"
#include "core/actions.h"
#include "core/alerts.h"
#include "core/event_loop.h"
#include "core/output.h"
#include "core/session.h"
#include "core/watched.h"
#include "render/flame.h"
#include "render/json.h"
#include "render/top.h"
#include "render/trace_json.h"
#include "render/watch.h"
#include "serve/http.h"
#include "serve/metrics_output.h"
#include "target/discover.h"
#include "target/image_watch.h"
#include "target/privileges.h"
#include "target/procfs.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/out_file.h"

/* Processes one session watches at once: one slot each in the shared BPF objects. */
#define MAX_WATCHED UVS_MAX_TARGETS

struct watched_slot {
	struct uvs_watched *w;
	int pid_fd;         /* -1: its exit is noticed at an interval */
	uint64_t attach_ns; /* how long attaching it took */
	struct uvs_image_watch image; /* the image attached to: an exec ends the watch */
};

struct session {
	const struct uvs_cli *cli;
	struct uvs_bpf_shared *sh;   /* the BPF objects every watched process shares */
	struct uvs_watch_env env;
	size_t nwatched;
	struct watched_slot watched[MAX_WATCHED];
	int exits_epfd;              /* the watched processes' pidfds, one source of the loop */
	bool events_added;           /* the shared ring reader is in the loop */
	struct uvs_discover *discover; /* --all */
	struct uvs_outputs outputs;
	struct uvs_output *trace;   /* trace: the timeline output (in outputs) */
	struct uvs_output_source source;
	struct uvs_alert_config alert_cfg;
	struct uvs_event_loop loop;
	uint64_t tick_ns;     /* how often blocks are checked */
	uint64_t last_check;  /* CLOCK_MONOTONIC of the last check */
	bool tty_raw;
	struct termios saved_tty;
	struct uvs_profile *flame;         /* flame: the profile being sampled */
	uint64_t flame_start, flame_start_real; /* when sampling began (monotonic, wall clock) */
	char flame_comm[16];               /* the target's name then (sanitized), for the title */
	/* The operator's files (-o, --json-file): kept once the session starts (util/out_file.h). */
	struct uvs_out_file flame_files[UVS_FLAME_FILES], trace_file, json_file;
	struct uvs_actions *actions;        /* --on-alert */
	bool alert_exit;                    /* --exit-on-alert: an alert fired */
	const char *why_done;
	struct uvs_http *http;              /* serve: the /metrics endpoint */
};

static void stop(struct session *s, const char *why)
{
	s->loop.stop = true;
	s->why_done = why;
}

/* An alert goes to every output, to the --on-alert command, and may end the session. */
static void emit_alert(void *ctx, const struct uvs_alert *a)
{
	struct session *s = ctx;

	uvs_outputs_alert(&s->outputs, a);
	if (s->actions)
		uvs_actions_run(s->actions, a, uvs_now_mono());
	if (s->cli->exit_on_alert && a->state == UVS_ALERT_FIRING && !s->alert_exit) {
		s->alert_exit = true;
		stop(s, "an alert fired (--exit-on-alert)");
	}
}

/*
 * Every collector reads the one shared reader: taking its events hands each to its process.
 * Also with no process left (--all): records of one just detached are read and dropped, or
 * the reader would stay readable and the loop spin.
 */
static void poll_events(struct session *s)
{
	uvs_bpf_shared_poll(s->sh);
}

static void drop_target(struct session *s, size_t i, const char *why);

/*
 * Whether pid, alive when the attach began, is gone now: its pidfd (opened before the attach)
 * readable, or, without one (no pidfd_open), no such process. Everything read of a process
 * that exits during the attach is half there, and its loop, unreadable, looks busy.
 */
static bool exited_already(pid_t pid, int pid_fd)
{
	struct pollfd p = { .fd = pid_fd, .events = POLLIN };

	if (pid_fd >= 0)
		return poll(&p, 1, 0) > 0;
	return kill(pid, 0) && errno == ESRCH;
}

/*
 * A watched process that exec'd keeps its pid, but what uvscope read of it (libuv's addresses,
 * symbols, V8's layout, the probes' offsets) names nothing in the new program, and reads by
 * pid now read the new program's memory: it is dropped before anything is read of it again.
 * (--all finds it again if the new program is a node.) An exit is left to the pidfd and the
 * interval's look at /proc: so is an exec still in progress, whose old leader is a zombie.
 */
static void drop_execd(struct session *s)
{
	for (size_t i = 0; i < s->nwatched;) {
		pid_t pid = uvs_watched_pid(s->watched[i].w);
		char state, exe[256], why[400];

		/* Every tick: one pread while the image is the same, /proc only once it is not. */
		if (uvs_image_watch_same(&s->watched[i].image) != 0) {
			i++;
			continue;
		}
		/*
		 * It exited, and its pid went to another process before the pidfd's event was read
		 * (a busy host, or --all's churn): that process's image is not an exec of ours.
		 */
		if (s->watched[i].pid_fd >= 0 && exited_already(pid, s->watched[i].pid_fd)) {
			i++;
			continue;
		}
		state = uvs_thread_state(pid, pid);
		/*
		 * An exit, not an exec: a zombie, or one still on its way there, whose memory (and
		 * with it its executable's link) went first. Its exit is said when it is done.
		 */
		if (!state || state == 'Z' || state == 'X' ||
		    uvs_image_exe(pid, exe, sizeof(exe)) == -ENOENT) {
			i++;
			continue;
		}
		snprintf(why, sizeof(why), "pid %d exec'd another program (%s): what uvscope read of "
			 "it names nothing in the new one", (int)pid, exe);
		uvs_watched_image_gone(s->watched[i].w);
		drop_target(s, i, why);
	}
}

static void check_blocks(struct session *s)
{
	size_t i;

	drop_execd(s);
	s->last_check = uvs_now_mono();
	if (s->actions)
		uvs_actions_tick(s->actions, s->last_check);
	/* Take the events first, so a block that just ended is never reported as ongoing. */
	poll_events(s);
	for (i = 0; i < s->nwatched; i++)
		uvs_watched_check_blocks(s->watched[i].w);
}

/* In the middle of a long window: check for blocks if a tick has passed since the last check. */
static void on_keep_up(void *ctx)
{
	struct session *s = ctx;

	/* Not before the event loop runs: the outputs have not begun while we attach. */
	if (s->tick_ns && uvs_now_mono() - s->last_check >= s->tick_ns)
		check_blocks(s);
}

static struct watched_slot *slot_of(struct session *s, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->nwatched; i++)
		if (uvs_watched_pid(s->watched[i].w) == pid)
			return &s->watched[i];
	return NULL;
}

static int totals(void *ctx, int pid, struct uvs_snapshot *out)
{
	struct watched_slot *ws = slot_of(ctx, (pid_t)pid);

	return ws ? uvs_watched_totals(ws->w, out) : -ESRCH;
}

/* ---- processes coming and going ------------------------------------------------------------ */

static void on_collector(void *ctx)
{
	poll_events(ctx);
}

/* The shared reader joins the loop with the first collector that has one. */
static int add_events(struct session *s, struct uvs_watched *w)
{
	struct uvs_collector *c = uvs_watched_collector(w);
	int fd;

	if (s->events_added)
		return 0;
	fd = c->ops->event_fd(c);
	if (fd < 0)
		return 0;
	s->events_added = true;
	return uvs_event_loop_add(&s->loop, fd, false, on_collector, s);
}

/*
 * Watches pid: attached, its exit watched, its outputs begun. 0, or -errno with the reason
 * said (an error for a pid the operator named, a warning for one --all found).
 */
static int add_target(struct session *s, pid_t pid, bool begin_now)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct watched_slot *ws;
	uint64_t attach_ns = 0;
	char why[600];
	int err = 0, pid_fd;
	bool dead_at_start;
	struct uvs_watched *w;

	if (s->nwatched == MAX_WATCHED) {
		uvs_warn("pid %d is not watched: %d processes are already", (int)pid, MAX_WATCHED);
		return -ENOSPC;
	}
	/* Held from before the attach: a process that exits during it is told from one alive. */
	pid_fd = (int)syscall(SYS_pidfd_open, pid, 0);
	/* A zombie already: the attach says so itself. */
	dead_at_start = pid_fd >= 0 && exited_already(pid, pid_fd);
	w = uvs_watched_attach(&s->env, pid, &attach_ns, &err, why, sizeof(why));
	/*
	 * Gone meanwhile: whatever the attach made of its half-torn-down memory (its code looked
	 * changed, its loop unreadable), the reason is its exit. Without a pidfd a failed attach
	 * keeps its reason: nothing tells a pid that never was from one that went.
	 */
	if (err != UVS_WATCHED_FLAME_PROC && !dead_at_start && (w || pid_fd >= 0) &&
	    exited_already(pid, pid_fd)) {
		uvs_watched_free(w);
		w = NULL;
		err = -ESRCH;
		snprintf(why, sizeof(why), "pid %d exited while uvscope was attaching to it: nothing "
			 "to watch", (int)pid);
	}
	if (!w && pid_fd >= 0)
		close(pid_fd);
	/* flame goes on in the proc backend (main.c): said already, not an error. */
	if (!w && err == UVS_WATCHED_FLAME_PROC)
		return err;
	if (!w) {
		if (s->cli->all)
			uvs_warn("%s", why);
		else
			uvs_err("%s", why);
		return err ? err : -EINVAL;
	}
	ws = &s->watched[s->nwatched++];
	*ws = (struct watched_slot){ .w = w, .pid_fd = pid_fd };
	err = uvs_image_watch_open(&ws->image, pid);
	if (err)
		uvs_warn("cannot hold pid %d's image (%s): an exec of another program is not noticed",
			 (int)pid, strerror(-err));
	ev.data.ptr = w;
	if (ws->pid_fd < 0 || epoll_ctl(s->exits_epfd, EPOLL_CTL_ADD, ws->pid_fd, &ev)) {
		uvs_warn("pidfd_open failed (%s): the exit of pid %d is noticed at the next interval",
			 strerror(errno), (int)pid);
		if (ws->pid_fd >= 0)
			close(ws->pid_fd);
		ws->pid_fd = -1;
	}
	err = add_events(s, w);
	if (err)
		uvs_warn("cannot wait for the BPF events: %s (they are read at each check)",
			 strerror(-err));
	ws->attach_ns = attach_ns;
	if (begin_now)
		uvs_watched_begin(w, attach_ns);
	return 0;
}

/* Ends watching the i-th process: its last window and summary, and why (NULL: say nothing). */
static void drop_target(struct session *s, size_t i, const char *why)
{
	struct watched_slot *ws = &s->watched[i];
	pid_t pid = uvs_watched_pid(ws->w);

	poll_events(s);
	uvs_watched_finish(ws->w);
	if (ws->pid_fd >= 0)
		close(ws->pid_fd); /* which takes it out of the exits set */
	uvs_image_watch_close(&ws->image);
	uvs_watched_free(ws->w);
	/*
	 * Said once it is true: its links gone and its loops out of the shared maps. Said before
	 * the free, a reader that acts on the line (a test reading the maps, an operator's
	 * script) saw the maps still holding the old program's loop.
	 */
	if (why)
		uvs_info("%s; detached from pid %d", why, (int)pid);
	s->watched[i] = s->watched[--s->nwatched];
	if (!s->nwatched && !s->cli->all)
		stop(s, NULL);
}

/* A watched process exited: the pidfds that are readable say which. */
static void on_exits(void *ctx)
{
	struct session *s = ctx;
	struct epoll_event evs[16];
	int n, i;
	size_t j;

	n = epoll_wait(s->exits_epfd, evs, 16, 0);
	for (i = 0; i < n; i++)
		for (j = 0; j < s->nwatched; j++)
			if (s->watched[j].w == evs[i].data.ptr) {
				drop_target(s, j, "the target exited");
				break;
			}
}

static bool is_watched(void *ctx, pid_t pid)
{
	return slot_of(ctx, pid) != NULL;
}

/* --all: the node processes that appeared since the last look. */
static void discover(struct session *s)
{
	pid_t found[64];
	size_t i, n;

	n = uvs_discover_scan(s->discover, is_watched, s, found, 64);
	for (i = 0; i < n; i++)
		if (add_target(s, found[i], true))
			uvs_discover_refused(s->discover, found[i]);
}

/* ---- event sources -------------------------------------------------------------------------- */

static void on_interval(void *ctx)
{
	struct session *s = ctx;
	size_t i = 0;

	drop_execd(s);
	for (i = 0; i < s->nwatched; i++)
		uvs_watched_window(s->watched[i].w);
	/* Without a pidfd an exit is noticed here: /proc says the process is gone. */
	for (i = 0; i < s->nwatched;) {
		char path[32];
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%d", (int)uvs_watched_pid(s->watched[i].w));
		if (s->watched[i].pid_fd < 0 && stat(path, &st) && errno == ENOENT)
			drop_target(s, i, "the target exited");
		else
			i++;
	}
	if (s->discover)
		discover(s);
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

/*
 * The agent's loop: signals first (on_signal reads source 0), the watched processes' exits,
 * then what the outputs and actions need. The shared BPF reader joins it with the first process
 * attached (add_events), the timers once the first processes are (start_timers).
 */
static int setup_loop(struct session *s)
{
	const struct uvs_cli *cli = s->cli;
	/* Check for blocks often enough that one just past the threshold is caught ongoing. */
	uint64_t tick = cli->block_ns / 10;
	int sigfd, err;
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
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		return -errno;
	err = uvs_event_loop_add(&s->loop, sigfd, true, on_signal, s);
	if (err) {
		close(sigfd);
		return err;
	}
	s->exits_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->exits_epfd < 0)
		return -errno;
	err = uvs_event_loop_add(&s->loop, s->exits_epfd, true, on_exits, s);
	if (!err && s->actions)
		err = uvs_event_loop_add(&s->loop, uvs_actions_fd(s->actions), false, on_actions, s);
	if (err)
		return err;
	if (cli->command == UVS_CMD_TOP && !cli->json)
		keyboard_raw(s);
	if (s->http)
		return uvs_http_join_loop(s->http, &s->loop);
	return 0;
}

/*
 * The interval, the block checks and -d: counted from the end of the attach, so that a session
 * of -d 2s watches for 2 s, and the first interval is a whole one.
 */
static int start_timers(struct session *s)
{
	const struct uvs_cli *cli = s->cli;
	int err = uvs_event_loop_add_timer(&s->loop, cli->interval_ns, cli->interval_ns,
					   on_interval, s);

	if (!err)
		err = uvs_event_loop_add_timer(&s->loop, s->tick_ns, s->tick_ns, on_block_tick, s);
	if (!err && cli->duration_ns)
		err = uvs_event_loop_add_timer(&s->loop, cli->duration_ns, 0, on_end, s);
	return err;
}

/* ---- outputs ---------------------------------------------------------------------------------- */

/*
 * A file of the operator's (JSON lines, a trace, a profile): opened now, as root, before
 * privileges go, so a path that cannot be written fails before anything is attached; emptied
 * only once the session started (keep_files), removed if made here and it did not start.
 */
static int open_private_file(struct uvs_out_file *o, const char *path)
{
	int err = uvs_out_file_open(o, path);

	if (!err)
		setvbuf(o->f, NULL, _IOLBF, 0);
	return err;
}

static int keep_files(struct session *s)
{
	struct uvs_out_file *files[UVS_FLAME_FILES + 2] = { &s->trace_file, &s->json_file };
	size_t n = 2;
	int err;

	for (size_t i = 0; i < UVS_FLAME_FILES; i++)
		files[n++] = &s->flame_files[i];
	for (size_t i = 0; i < n; i++) {
		err = uvs_out_file_keep(files[i]);
		if (err) {
			uvs_err("cannot empty %s: %s", files[i]->path, strerror(-err));
			return err;
		}
	}
	return 0;
}

static void close_files(struct session *s)
{
	uvs_out_file_close(&s->trace_file);
	uvs_out_file_close(&s->json_file);
	for (size_t k = 0; k < UVS_FLAME_FILES; k++)
		uvs_out_file_close(&s->flame_files[k]);
}

/*
 * trace: the timeline goes to its file, fully buffered (one event per loop iteration and phase
 * would otherwise cost the agent a write each); time 0 is now, just before attaching.
 */
static int make_trace_output(struct session *s, struct uvs_output **out)
{
	struct uvs_trace_clock clock = uvs_trace_clock_now();
	int err = open_private_file(&s->trace_file, s->cli->output);
	FILE *f = s->trace_file.f;

	if (err) {
		uvs_err("cannot open -o %s: %s", s->cli->output, strerror(-err));
		return err;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	*out = s->trace = uvs_trace_output_new(f, &clock);
	return 0; /* none: said by the caller */
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
	/* --all may find no node process for a while: the page is there, empty, meanwhile. */
	if (cli->all && uvs_metrics_output_publish_now(metrics))
		uvs_warn("cannot put out the first /metrics page");
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
	int err;

	if (cli->command == UVS_CMD_FLAME) {
		/* The profile is written at the end; stdout shows nothing meanwhile. */
		for (size_t i = 0; i < cli->nflame_files; i++) {
			err = open_private_file(&s->flame_files[i], cli->flame_files[i]);
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
	err = open_private_file(&s->json_file, cli->json_file);
	if (err) {
		uvs_err("cannot open --json-file %s: %s", cli->json_file, strerror(-err));
		return err;
	}
	file = uvs_json_output_new(s->json_file.f);
	if (!file) {
		uvs_err("cannot set up the output: out of memory");
		return -ENOMEM;
	}
	err = uvs_outputs_add(&s->outputs, file, &s->source);
	if (err) {
		uvs_err("cannot set up the JSON file output: %s", strerror(-err));
		return err;
	}
	return 0;
}

/* ---- attach ----------------------------------------------------------------------------------- */

/*
 * The processes named with -p, each attached or the session does not start; with --all, the
 * node processes running now (more come at each interval). Privileges go afterwards, except
 * with --all, which attaches to processes that start later.
 */
static int attach_all(struct session *s)
{
	const struct uvs_cli *cli = s->cli;
	char why[300];
	size_t i;
	int err;

	uvs_log_setup_libbpf();
	if (cli->all) {
		s->discover = calloc(1, sizeof(*s->discover));
		if (!s->discover) {
			uvs_err("cannot set up --all: out of memory");
			return -ENOMEM;
		}
		err = uvs_discover_init(s->discover, cli->match, why, sizeof(why));
		if (err) {
			uvs_err("--match: %s", why);
			return err;
		}
		/* auto falls back on the proc backend per process (core/watched.c). */
		if (cli->backend == UVS_BACKEND_BPF && uvs_check_privileges(why, sizeof(why))) {
			uvs_err("cannot watch node processes: permission denied (%s)", why);
			return -EPERM;
		}
		/* The session has started, with or without a process yet. */
		err = keep_files(s);
		if (err)
			return err;
		discover(s);
		if (!s->nwatched)
			uvs_info("no node process%s%s%s yet: watching for one to start",
				 cli->match ? " whose command line matches '" : "",
				 cli->match ? cli->match : "", cli->match ? "'" : "");
		uvs_debug("--all keeps the privileges it attaches with: processes that start later "
			  "are attached too");
		return 0;
	}
	for (i = 0; i < cli->npids; i++) {
		err = add_target(s, cli->pids[i], false);
		if (err)
			return err;
	}
	/* Every target attached: the files are the session's (an earlier one is emptied). */
	err = keep_files(s);
	if (err)
		return err;
	/* CAP_BPF and CAP_PERFMON stay while the guard may put the phase uprobes back. */
	err = uvs_drop_privileges(uvs_watched_keeps_caps(cli));
	if (err)
		uvs_warn("cannot drop privileges after attaching: %s", strerror(-err));
	/* The attach lines once privileges are gone: what the operator reads is what runs. */
	for (i = 0; i < s->nwatched; i++)
		uvs_watched_begin(s->watched[i].w, s->watched[i].attach_ns);
	return 0;
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
		 s->flame_comm[0] ? s->flame_comm : "?", modes[cli->flame_mode]);
	for (size_t i = 0; i < cli->nflame_files; i++) {
		FILE *f = s->flame_files[i].f;

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
	while (s->nwatched)
		drop_target(s, s->nwatched - 1, s->why_done);
	uvs_outputs_end(&s->outputs);
	if (s->flame)
		write_flame(s);
	finish_actions(s);
}

static void cleanup(struct session *s)
{
	size_t i;

	for (i = 0; i < s->nwatched; i++) {
		uvs_watched_free(s->watched[i].w);
		if (s->watched[i].pid_fd >= 0)
			close(s->watched[i].pid_fd);
	}
	uvs_event_loop_free(&s->loop);
	/* After every collector: the objects and the reader they used. */
	uvs_bpf_shared_free(s->sh);
	uvs_outputs_free(&s->outputs);
	uvs_http_stop(s->http);
	uvs_profile_free(s->flame);
	uvs_actions_free(s->actions);
	if (s->discover)
		uvs_discover_free(s->discover);
	free(s->discover);
	/* After the outputs, which write to them. */
	close_files(s);
}

int uvs_session_run(const struct uvs_cli *cli, const struct uvs_alert_config *rules)
{
	struct session s = { .cli = cli, .loop.epfd = -1, .exits_epfd = -1, .alert_cfg = *rules };
	char why[512];
	sigset_t mask;
	int err = 0;

	uvs_verbose = cli->verbose;
	s.source = (struct uvs_output_source){ .ctx = &s, .totals = totals };
	block_signals(&mask);
	s.sh = uvs_bpf_shared_new();
	if (!s.sh) {
		uvs_err("out of memory");
		return 1;
	}
	/* Before attaching, as root: what it needs (a signalfd) is then in place. */
	if (cli->on_alert) {
		s.actions = uvs_actions_new(cli->on_alert, cli->on_alert_timeout_ns, why, sizeof(why));
		if (!s.actions) {
			uvs_err("%s", why);
			err = -EINVAL;
		}
	}
	/* The outputs first: a file that cannot be written fails before anything is attached. */
	if (!err)
		err = make_outputs(&s);
	s.env = (struct uvs_watch_env){ .cli = cli, .alert_cfg = &s.alert_cfg,
					.outputs = &s.outputs, .sh = s.sh, .flame = s.flame,
					.ctx = &s, .emit_alert = emit_alert,
					.keep_up = on_keep_up };
	/* The loop before attaching: each process's exit and the BPF events join it as it comes. */
	if (!err) {
		err = setup_loop(&s);
		if (err)
			uvs_err("cannot set up the agent's event loop: %s", strerror(-err));
	}
	if (!err)
		err = attach_all(&s);
	if (!err) {
		err = start_timers(&s);
		if (err)
			uvs_err("cannot set up the agent's timers: %s", strerror(-err));
	}
	if (!err) {
		s.flame_start = uvs_now_mono();
		s.flame_start_real = uvs_now_real();
		/* Named now: at the end the target is detached, and may have exited. */
		if (s.nwatched)
			snprintf(s.flame_comm, sizeof(s.flame_comm), "%s",
				 uvs_watched_comm(s.watched[0].w));
		s.last_check = uvs_now_mono();
		err = uvs_event_loop_run(&s.loop);
		if (err)
			uvs_err("the agent's event loop failed: %s", strerror(-err));
		finish(&s);
		/* Not when the file could not be written: that was said instead. */
		if (s.trace && !s.outputs.failed) {
			struct uvs_trace_stats st;

			uvs_trace_output_stats(s.trace, &st);
			uvs_trace_summary_line(stderr, cli->output, &st);
		}
	}
	/* An output that could not be written was said when it failed; the status says it too. */
	if (!err && s.outputs.failed)
		err = s.outputs.failed;
	cleanup(&s);
	if (err == UVS_WATCHED_FLAME_PROC)
		return UVS_SESSION_FLAME_PROC;
	if (err)
		return 1;
	return s.alert_exit ? UVS_EXIT_ALERT : 0;
}
