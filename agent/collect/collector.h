/* SPDX-License-Identifier: MIT */
/*
 * The seam between the session and whatever measures the target. A collector attaches to one
 * target, says which of its file descriptors the session should wait on, reports what happens
 * between windows through a sink (a block that ended, a discrete record), fills one window's
 * figures and the session's totals, tells which loops are busy right now (for blocks still in
 * progress), and detaches. The session never sees a BPF map or a ring buffer, so a collector
 * built on /proc and ptrace plugs in here without touching the outputs. A session watching
 * several processes has one collector per process; the BPF collectors share one set of BPF
 * objects and one reader of their rings, so event_fd is the same fd for all of them and poll
 * on any of them takes every target's events (each handed to its own target's sink).
 */
#ifndef UVSCOPE_COLLECTOR_H
#define UVSCOPE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alerts.h"
#include "core/output.h"
#include "core/overhead_guard.h"
#include "core/profile.h"
#include "core/snapshot.h"
#include "target/process.h"

/* What to measure; the defaults are what `uvscope watch` measures. */
struct uvs_collect_options {
	uint64_t block_ns;        /* a busy span this long is a blocked loop */
	bool phases;              /* exact loop phases (uprobes) */
	bool timeline;            /* a record per loop iteration and phase span (trace) */
	bool pool;                /* the thread pool (uprobes) */
	bool pool_jobs;           /* a record per served pool job */
	bool pool_delay;          /* completion delay: the done callbacks are probed */
	bool syscalls;            /* every syscall of the target (tracepoints) */
	uint64_t slow_syscall_ns; /* a syscall this long on a loop thread is reported */
	uint64_t fd_rescan_ns;    /* with syscalls: read /proc/PID/fd again at least this often */
	bool sockets;             /* socket table and TCP transitions */
	uint64_t socket_share_ns; /* a table dump of another target this fresh serves (sockets.h) */
	uint32_t sample_hz;       /* stack samples per second of a thread's CPU time; 0: none */
	uint32_t blocked_hz;      /* the same for a blocked loop thread */
	bool sample_off_cpu;      /* also read sleeping threads' stacks at sample_hz (flame offcpu) */
	bool gc;                  /* V8's garbage collections (uprobes) */
};

/* Where a collector reports what happens between windows. Any callback may be NULL. */
struct uvs_collect_sink {
	void *ctx;
	void (*block_ended)(void *ctx, const struct uvs_block_end *b);
	void (*record)(void *ctx, const struct uvs_record *r);
	/* A stack sample, named (core/profile.h); with sample_hz set. */
	void (*sample)(void *ctx, const struct uvs_sample *s);
	/*
	 * Called now and then during a long piece of a window's work (reading 18,000 fds takes
	 * a good part of 100 ms): the session checks for blocked loops there, so that an alert is
	 * not late because the agent's only thread was busy. It may call poll and loops_now.
	 */
	void (*keep_up)(void *ctx);
};

/* What attaching gave: the measuring mode and what is unavailable, one sentence each. */
#define UVS_MAX_MISSING 8

struct uvs_collect_report {
	const char *mode;        /* "epoll" or "exact-phases" */
	const char *epoll_hooks; /* "uprobes", "fentry" or "tracepoints" */
	int epoll_hooks_per_wait; /* uprobes: 1 (the return, with libuv's metrics) or 2 */
	/* Exact phases read each wait from libuv's metrics: the wait hook is in only while the
	 * phase uprobes are out (collect/loop_probes.h, wait_folded). */
	bool wait_in_phases;
	/* Default mode's form of it: a uprobe at uv__io_poll's entry alone reads each wait, one
	 * hit per iteration, and the epoll calls have no hook (collect/loop_probes.h, poll_entry). */
	bool waits_at_poll_entry;
	char stacks[400];        /* how stacks are sampled and named; "" when they are not */
	uint32_t phase_hits_per_iteration; /* probe hits exact phases add per loop iteration */
	/*
	 * The overhead guard may take the loops' wait hooks out, libuv's metrics read in their
	 * stead (collect/loop_memory.h); when not, why not.
	 */
	bool loop_hooks_removable;
	char loop_hooks_why[200];
	bool pool_on;            /* the thread pool is followed, as `pool` says */
	bool pool_steppable;     /* ... and the overhead guard may take its probes out */
	struct uvs_pool_hooks pool; /* its strings live as long as the collector */
	size_t nmissing;
	char missing[UVS_MAX_MISSING][400];
	struct uvs_figures figures; /* strings static; set false: everything is exact */
};

struct uvs_collector;

struct uvs_collector_ops {
	const char *name;
	/* Attaches to t (opened, with its threads listed). 0, or -errno with `why` set. */
	int (*attach)(struct uvs_collector *c, struct uvs_target *t,
		      const struct uvs_collect_options *o, const struct uvs_collect_sink *sink,
		      char *why, size_t cap);
	void (*report)(struct uvs_collector *c, struct uvs_collect_report *r);
	/* The fd the session waits on for events between windows; -1 when there is none. */
	int (*event_fd)(struct uvs_collector *c);
	/* Takes the events that are ready (called when event_fd is readable, and before reads). */
	void (*poll)(struct uvs_collector *c);
	/* The loop threads and whether each is busy now; writes at most cap, returns how many. */
	size_t (*loops_now)(struct uvs_collector *c, struct uvs_loop_busy *out, size_t cap,
			    uint64_t *now_mono);
	/* Fills s with the window since the previous call (or since attach). */
	int (*window)(struct uvs_collector *c, struct uvs_snapshot *s);
	/* Fills s with the figures since attach, as of the last window. */
	int (*totals)(struct uvs_collector *c, struct uvs_snapshot *s);
	/*
	 * Measures with other settings from now on (the overhead guard): exact phases in or out,
	 * the stack sampling rates, the loops' wait hooks in or out. Only what was attached can
	 * change. 0, or -errno with `why`.
	 */
	int (*adjust)(struct uvs_collector *c, const struct uvs_guard_settings *g, char *why,
		      size_t cap);
	/*
	 * Takes every probe out of the target and keeps the maps and rings, before the last
	 * window: counts that no longer move agree with the records already sent (a trace has a
	 * slice for every iteration the summary counts), and the target pays nothing while the
	 * agent writes its summary. Idempotent; destroy follows.
	 */
	void (*quiesce)(struct uvs_collector *c);
	/* Detaches everything and frees the collector; safe after a failed attach. */
	void (*destroy)(struct uvs_collector *c);
};

struct uvs_collector {
	const struct uvs_collector_ops *ops;
	void *priv;
};

struct uvs_bpf_shared;

/*
 * The BPF collector (collect/bpf_collector.c) of one target, on the BPF objects every target of
 * the agent shares (sh, collect/bpf_shared.h: it outlives the collector). NULL and errno on
 * failure to allocate.
 */
struct uvs_collector *uvs_bpf_collector_new(struct uvs_bpf_shared *sh);

#endif
