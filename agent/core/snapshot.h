/* SPDX-License-Identifier: MIT */
/*
 * Plain structs that collection fills and every output renders. Nothing here touches BPF, so
 * a unit test can build a snapshot by hand and check what an output makes of it.
 */
#ifndef UVSCOPE_SNAPSHOT_H
#define UVSCOPE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "uvscope/fd.h"
#include "uvscope/loop.h"
#include "uvscope/pool.h"
#include "util/hist_math.h"

struct uvs_frame;

#define UVS_SCHEMA_VERSION 1
#define UVS_MAX_LOOPS 64

enum uvs_role {
	UVS_ROLE_OTHER = 0, /* a thread we could not place */
	UVS_ROLE_MAIN,       /* the main thread's event loop */
	UVS_ROLE_WORKER,     /* a worker_threads Worker's event loop */
	UVS_ROLE_THREADPOOL, /* a libuv thread-pool thread */
	UVS_ROLE_LOOP,       /* another libuv loop (Node's platform timer thread, inspector) */
};

/* A thread of the target and what it does, as listed at attach. */
struct uvs_thread_brief {
	int tid;
	enum uvs_role role;
	bool role_known; /* false: the thread was running, its stack could not be read yet */
	char comm[16];
};

struct uvs_phase_snapshot {
	uint64_t count;
	uint64_t total_ns;
	uint64_t p50_ns;
	uint64_t p99_ns;
	uint64_t max_ns;
};

/* V8 garbage collections on one loop thread. */
struct uvs_gc_snapshot {
	uint64_t count;    /* collections that ended */
	uint64_t major;    /* of which full mark-compacts */
	uint64_t total_ns; /* time inside the collector */
	uint64_t max_ns;   /* the longest one */
};

struct uvs_loop_snapshot {
	int tid;
	enum uvs_role role;
	char comm[16];
	uint64_t iterations;
	uint64_t busy_ns;      /* includes the part of a busy span still running */
	uint64_t idle_ns;      /* includes the part of a wait still running */
	double utilization;    /* busy / (busy + idle), 0..1 */
	uint64_t busy_p50_ns;  /* per-iteration busy time, from the histogram */
	uint64_t busy_p99_ns;
	uint64_t busy_max_ns;
	uint64_t blocks;       /* blocked episodes that ended in this window */
	uint64_t blocked_ns;   /* ... and their total length */
	bool blocked_now;      /* busy past the threshold right now */
	uint64_t blocked_for_ns; /* how long, when blocked_now */
	bool has_phases;       /* phase figures are valid (exact-phase probes attached) */
	struct uvs_phase_snapshot phases[UVS_PHASE_COUNT];
	bool has_gc;           /* GC figures are valid (V8's collector is probed) */
	struct uvs_gc_snapshot gc;
	struct uvs_hist_pow2 busy_hist; /* busy time per iteration (sum: completed busy spans) */
	/* What the collector could not measure (the proc backend): rendered as unavailable. */
	bool no_iterations;    /* iterations (libuv < 1.45 keeps no loop count) */
	bool no_busy_dist;     /* per-iteration busy time: p50, p99, max and busy_hist */
	bool sampled;          /* busy and idle from samples of the thread's state, not exact */
	bool exited;           /* totals: its thread has exited (kept for the summary) */
};

struct uvs_pool_kind_snapshot {
	uint64_t submitted;
	uint64_t completed;
	uint64_t wait_p50_ns;    /* queue wait: submit -> a pool thread starts the work */
	uint64_t wait_p99_ns;
	uint64_t service_p50_ns; /* service: the work function's run time */
	uint64_t service_p99_ns;
	uint64_t completion_p50_ns; /* end of service -> its callback on the loop */
	uint64_t completion_p99_ns;
	struct uvs_hist_pow2 wait_hist;    /* queue wait, in Prometheus buckets */
	struct uvs_hist_pow2 service_hist; /* service time */
};

#define UVS_DNS_TOP 5

struct uvs_dns_name {
	char name[UVS_DNS_NAME_LEN]; /* from the target: NUL-terminated, may be cut */
	uint64_t count;
};

struct uvs_pool_snapshot {
	bool available;        /* the pool probes are attached */
	bool fs_io_uring;      /* fs work goes through io_uring and is not in these figures */
	bool completion;       /* completion delays measured (the done callbacks are probed) */
	uint32_t size;         /* pool threads (libuv's nthreads; 0 until the pool starts) */
	int64_t queued;        /* jobs waiting now */
	int64_t running;       /* jobs being served now */
	uint64_t queued_max;   /* most jobs waiting at once within the window */
	double saturation;     /* share of the window with work queued (all threads busy) */
	uint64_t submitted;
	uint64_t completed;
	uint64_t sync_fs_on_loop;    /* fs calls run synchronously on a loop thread */
	uint64_t sync_fs_on_loop_ns;
	uint64_t sync_fs_other;      /* ... and on other threads (e.g. inside pool work) */
	struct uvs_pool_kind_snapshot kinds[UVS_POOL_KINDS];
	uint64_t fs_ops[UVS_FS_OPS]; /* fs jobs and sync fs calls by uv_fs_type */
	size_t ndns;                 /* the most looked-up host names, most first */
	struct uvs_dns_name dns[UVS_DNS_TOP];
	/*
	 * The host names' counts are estimates: past UVS_DNS_NAMES_EXACT lookups in an interval,
	 * one in UVS_DNS_NAME_STRIDE is counted, for that many (include/uvscope/pool.h).
	 */
	bool dns_estimated;
	/*
	 * From libuv's statics (the proc backend): size, queued, running, queued_max and
	 * saturation only (the last two from the readings at each block check); jobs per kind,
	 * submitted and completed, sync fs calls, fs ops and host names are unavailable.
	 */
	bool statics_only;
};

struct uvs_fd_snapshot {
	bool available;    /* a baseline was read from /proc/PID/fd */
	bool from_syscalls; /* counts kept current from the syscalls (else a /proc scan) */
	bool rescanned;    /* /proc/PID/fd was read again at the end of this window */
	int64_t drift;     /* at that rescan: counted from syscalls minus found in /proc */
	uint64_t open;
	uint64_t limit;    /* soft RLIMIT_NOFILE; UINT64_MAX when unlimited */
	int64_t growth;    /* open now minus open at the previous window */
	uint64_t by_type[UVS_FD_TYPES];
};

/* One job the pool served (--pool-jobs), reported when its service ended. */
struct uvs_pool_job_record {
	uint64_t ts_ns;      /* CLOCK_REALTIME at the end of service */
	int tid;             /* the pool thread */
	enum uvs_pool_kind kind;
	int fs_type;         /* uv_fs_type of an fs job, else -1 */
	uint64_t wait_ns;    /* queue wait */
	uint64_t service_ns;
	/* The end of service on CLOCK_MONOTONIC, as BPF took it: for a timeline, where the jitter
	 * of each record's conversion to the wall clock made back-to-back jobs overlap. */
	uint64_t end_mono_ns;
};

/* Syscalls are grouped by what the calling thread does. */
enum uvs_sys_role {
	UVS_SYS_LOOP = 0, /* threads that run JavaScript: the main thread, worker_threads */
	UVS_SYS_POOL,     /* the libuv thread pool */
	UVS_SYS_OTHER,    /* V8's platform workers, the inspector, anything else */
	UVS_SYS_ROLES,
};

struct uvs_syscall_row {
	uint32_t nr;
	enum uvs_sys_role role;
	uint64_t count;
	uint64_t errors;
	uint64_t total_ns;
	uint64_t p50_ns;  /* latency, from the histogram (bucket midpoints, within 6.25%) */
	uint64_t p99_ns;
	uint64_t max_ns;
};

/* One slow syscall on a loop thread. */
struct uvs_slow_call {
	int tid;
	enum uvs_role role;
	uint32_t nr;
	int64_t ret;          /* its return value (-errno on failure) */
	uint64_t duration_ns;
	uint64_t ts_ns;       /* CLOCK_REALTIME when it returned */
};

#define UVS_MAX_SYSCALL_ROWS 256
#define UVS_MAX_SLOW_CALLS 16

struct uvs_syscalls_snapshot {
	bool available;            /* the syscall tracepoints are attached */
	uint64_t slow_threshold_ns;
	uint64_t count;
	uint64_t errors;
	uint64_t role_count[UVS_SYS_ROLES];
	uint64_t role_ns[UVS_SYS_ROLES];
	size_t nrows;              /* (role, syscall) rows, most time first */
	uint64_t rows_dropped;     /* rows past UVS_MAX_SYSCALL_ROWS */
	struct uvs_syscall_row rows[UVS_MAX_SYSCALL_ROWS];
	size_t nslow;              /* slow syscalls on loop threads, in the order they ended */
	uint64_t slow_count;       /* all of them (the summary lists none, only counts) */
	struct uvs_slow_call slow[UVS_MAX_SLOW_CALLS];
	uint64_t lost;             /* syscalls not counted (the statistics map was full) */
};

#define UVS_SOCK_STATES 13 /* TCP states 1..12, by number (enum uvs_tcp_state, core/socket_list.h) */
#define UVS_TOP_PEERS 5

/* A remote endpoint and how often something happened with it. */
struct uvs_peer {
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
	uint64_t count;
};

/* The target's sockets: a snapshot of the kernel's tables, plus transitions when traced. */
struct uvs_sockets_snapshot {
	bool available;               /* the socket tables could be read */
	uint64_t tcp_open;
	uint64_t tcp_states[UVS_SOCK_STATES];
	uint64_t listeners;
	uint64_t accept_queue_max;    /* the longest accept queue of a listener now */
	uint64_t accept_queue_limit;  /* that listener's limit (its backlog) */
	uint64_t accept_queue_full;   /* listeners whose queue is at its limit */
	bool accept_limit_unknown;    /* no backlog in the table read (/proc/PID/net): the limit
				       * and full are unavailable */
	uint64_t udp_open;
	uint64_t udp_drops;           /* datagrams dropped, summed over the open UDP sockets */
	uint64_t unix_open;
	uint64_t other_open;          /* socket fds in no table read (netlink, packet, ...) */
	/* From the TCP state-change tracepoints (--sockets), per window. */
	bool traced;
	uint64_t connects;            /* SYN_SENT -> ESTABLISHED */
	uint64_t connect_p50_ns;
	uint64_t connect_p99_ns;
	uint64_t connect_max_ns;
	struct uvs_hist_pow2 connect_hist; /* connect latency, in Prometheus buckets */
	uint64_t connect_failed;      /* SYN_SENT -> CLOSE */
	uint64_t connect_refused;     /* ... with ECONNREFUSED */
	uint64_t connect_timed_out;   /* ... with ETIMEDOUT */
	uint64_t accepted;            /* SYN_RECV -> ESTABLISHED on the target's listeners */
	uint64_t close_wait_entered;
	uint64_t close_wait_p99_ns;   /* time in CLOSE_WAIT of the sockets that left it */
	uint64_t time_wait_entered;   /* connections the target closed first, now in TIME_WAIT */
	uint64_t retransmits;
	/* retransmits (not their peers) from tcp_info deltas, without the tracepoints */
	bool retrans_from_info;
	size_t npeers;                /* remote endpoints with the most retransmits */
	struct uvs_peer peers[UVS_TOP_PEERS];
};

/*
 * What the agent itself lost, in the window (or the session): every drop and failed insert of
 * the BPF side and of the agent's own bounded tables. All zero in a healthy session.
 */
struct uvs_agent_snapshot {
	uint64_t events;               /* loop probe hits of the target */
	uint64_t drops;                /* loop events the ring buffer had no room for */
	uint64_t insert_failures;      /* loop threads not followed: the map was full */
	uint64_t pool_jobs_lost;       /* pool jobs not followed: the map of jobs was full */
	/* uv_queue_work jobs of a caller loaded after attach, whose service no probe sees */
	uint64_t pool_jobs_unfollowed;
	uint64_t pool_jobs_unseen;     /* pool jobs in flight as the overhead guard put the pool's
					* probes back: their submit unseen, left out of the figures */
	uint64_t pool_records_dropped; /* --pool-jobs records the ring buffer had no room for */
	uint64_t slow_syscalls_dropped; /* slow-syscall events the ring buffer had no room for */
	uint64_t syscall_pairs_unfit;  /* (thread, syscall) statistics the agent had no slot for */
	uint64_t sockets_lost;         /* sockets not followed: the map of sockets was full */
	uint64_t stack_samples;        /* stack samples taken (0 when not sampling) */
	uint64_t stack_samples_lost;   /* stack samples the ring buffer had no room for */
	uint64_t gc_threads_lost;      /* GC of threads not followed: no room for the thread */
	uint64_t gc_records_dropped;   /* GC records the ring buffer had no room for */
	uint64_t probe_hits;           /* uprobe and return-probe hits on the target: the loop
					* hooks, pool and GC probes (the overhead guard's measure,
					* with stack_samples) */
	uint64_t pool_probe_hits;      /* of which the pool's */
	uint64_t gc_probe_hits;        /* of which the GC probes' (the rest: the loop hooks) */
};

/*
 * The overhead guard (core/overhead_guard.h): what was in force during the window, or, in a
 * summary, the session.
 */
struct uvs_guard_snapshot {
	bool enabled;          /* the guard ran (watch and top, without --no-guard) */
	uint64_t budget;       /* probe hits per second */
	uint32_t max_overhead_ppm; /* and this share of the target's CPU, when lower; 0: none */
	uint64_t rate;         /* probe hits per second in the window (the session's average),
				* a stack sample counting as UVS_GUARD_SAMPLE_HITS */
	int level;             /* steps in force (the summary: at the end) */
	bool phases_asked;     /* exact phases were attached at the start */
	bool phases_off;       /* ... and the guard had them out during the window */
	uint32_t sample_hz;    /* sampling rates in force (0: not sampling) */
	uint32_t blocked_hz;
	bool sampling_low;     /* the guard had lowered them */
	bool pool_asked;       /* the pool's probes can be stepped (attached, statics found) */
	bool pool_off;         /* ... and the guard had them out during the window */
	bool loop_hooks_off;   /* the guard had the loops' wait hooks out (libuv's metrics) */
	/* The summary only. */
	uint64_t steps_down;
	uint64_t steps_up;
	uint64_t phases_off_ns;   /* how long exact phases were out */
	uint64_t sampling_low_ns; /* how long sampling was at the low rates */
	uint64_t pool_off_ns;     /* how long the pool's probes were out */
	uint64_t loop_hooks_off_ns; /* how long the wait hooks were out */
};

/* One interval (or, for the final summary, the whole session). */
struct uvs_snapshot {
	uint64_t ts_ns;       /* CLOCK_REALTIME at the end of the window */
	uint64_t window_ns;   /* length of the window */
	int pid;
	size_t nloops;
	struct uvs_loop_snapshot loops[UVS_MAX_LOOPS];
	/*
	 * Loop threads not in `loops`: in a window, those running past the first UVS_MAX_LOOPS;
	 * in the summary, also the exited ones a full table dropped to make room.
	 */
	uint64_t loops_left_out;
	struct uvs_pool_snapshot pool;
	struct uvs_fd_snapshot fds;
	struct uvs_syscalls_snapshot syscalls;
	struct uvs_sockets_snapshot sockets;
	struct uvs_agent_snapshot agent;
	struct uvs_guard_snapshot guard;
};

/* Everything the agent lost in a snapshot, all counters together (syscalls.lost included). */
uint64_t uvs_agent_losses(const struct uvs_snapshot *s);

/*
 * The kinds of alert. Every renderer switches on the kind without a default, compiled with
 * -Wswitch-enum: a new kind that some output cannot render does not build.
 */
enum uvs_alert_kind {
	UVS_ALERT_LOOP_BLOCKED = 1,
	UVS_ALERT_POOL_SATURATED,    /* work waited in the pool's queue most of a window */
	UVS_ALERT_SYNC_IO_ON_LOOP,   /* fs calls ran synchronously on a loop thread */
	UVS_ALERT_FD_LIMIT,          /* open fds reached 80% of RLIMIT_NOFILE */
	UVS_ALERT_FD_GROWTH,         /* the fd count grew in every one of several windows */
	UVS_ALERT_CLOSE_WAIT_GROWTH, /* sockets in CLOSE_WAIT grew in several windows in a row */
	UVS_ALERT_ACCEPT_QUEUE_FULL, /* a listener's accept queue is over its limit */
	UVS_ALERT_RETRANSMIT_RATE,   /* TCP retransmits at a high rate */
	UVS_ALERT_LOOP_UTILIZATION,  /* a loop busy most of the time, for a while */
	UVS_ALERT_POOL_QUEUE_WAIT,   /* pool jobs waited long in the queue before a thread took them */
	UVS_ALERT_GC_SHARE,          /* a loop spent a large share of its time in V8's collector */
};

#define UVS_ALERT_KIND_LAST UVS_ALERT_GC_SHARE
#define UVS_ALERT_KINDS (UVS_ALERT_KIND_LAST + 1) /* arrays indexed by kind (0 unused) */

/* An alert begins (firing) and ends (resolved); loop_blocked: ongoing, then ended. */
enum uvs_alert_status {
	UVS_ALERT_FIRING = 0,
	UVS_ALERT_RESOLVED,
};

enum uvs_severity {
	UVS_SEVERITY_INFO = 0,
	UVS_SEVERITY_WARNING,
	UVS_SEVERITY_CRITICAL,
};

/* One stack sampled during a block, and how many of the block's samples had it. */
struct uvs_alert_stack {
	uint64_t samples;
	uint64_t off_cpu;                     /* of which the thread was asleep */
	uint64_t time_ns;                     /* the time its samples stand for (each its period) */
	size_t nframes;
	const struct uvs_frame *const *frames; /* innermost first (core/profile.h) */
};

#define UVS_ALERT_MAX_STACKS 8
#define UVS_ALERT_PLACES 3
#define UVS_PLACE_FRAMES 3

/*
 * The stacks of a block, most frequent first. Whole stacks split one hot function over many
 * leaves (the builtin or C++ function it was in at each sample); places do not: a place is a
 * stack cut to its UVS_PLACE_FRAMES innermost JavaScript frames (native ones when it has no
 * JavaScript), counted over every sample of the block.
 */
struct uvs_alert_stacks {
	uint64_t samples;      /* every sample taken in the block (and kept: see from_ns) */
	uint64_t time_ns;      /* the time they stand for: shares are of this, not of counts, as
				  the rate may change within a block (the overhead guard) */
	uint64_t cover_ns;     /* when the block is longer than the samples kept per thread
				  cover (about 2 s at the blocked rate): the length of its last
				  part they cover; 0 when they cover it whole */
	size_t nstacks;
	struct uvs_alert_stack stacks[UVS_ALERT_MAX_STACKS];
	size_t nplaces;
	struct uvs_alert_stack places[UVS_ALERT_PLACES];
};

/*
 * A loop over the threshold whose thread is not running at all: a blocked loop to the requests
 * that wait on it, but not one that runs something, and the alert says which.
 */
enum uvs_loop_stop {
	UVS_LOOP_RUNNING = 0,
	UVS_LOOP_STOPPED_SIGNAL,   /* state T: SIGSTOP, SIGTSTP, ... */
	UVS_LOOP_STOPPED_DEBUGGER, /* state t: a ptrace stop (gdb, strace) */
	UVS_LOOP_FROZEN,           /* its cgroup is frozen (docker pause, the cgroup v2 freezer) */
};

struct uvs_alert_loop_blocked {
	int tid;
	enum uvs_role role;
	bool ongoing;          /* true: still blocked now; false: the loop came back */
	uint64_t blocked_ns;   /* so far (ongoing) or in total (ended) */
	uint64_t threshold_ns;
	/* Busy already when uvscope attached: blocked_ns counts from then, a lower bound. */
	bool since_attach;
	/* Ended without the collector's end (uvs_alerts_blocks): its start, CLOCK_MONOTONIC. */
	uint64_t since_ns;
	/* What the sampler saw in the block; NULL when not sampling. Valid during the alert call
	 * only: an output that keeps the alert must not keep this pointer. */
	const struct uvs_alert_stacks *stacks;
	bool has_gc;           /* GC is measured: gc_ns is the block's time in V8's collector */
	uint64_t gc_ns;
	/* Not running: now (ongoing), or at some check during the block (ended). */
	enum uvs_loop_stop stopped;
};

struct uvs_alert_pool_saturated {
	double saturation;     /* share of the window with work queued */
	uint64_t queued_max;
	uint32_t size;
	int64_t running;       /* jobs served at the window's end: below size, threads idled */
	uint64_t window_ns;
};

struct uvs_alert_sync_io {
	uint64_t count;        /* sync fs calls on loop threads in the window */
	uint64_t total_ns;
	uint64_t window_ns;
};

struct uvs_alert_fds {
	uint64_t open;
	uint64_t limit;        /* RLIMIT_NOFILE (UINT64_MAX: unlimited, 0: unknown) */
	int windows;           /* fd_growth: windows in a row with growth */
};

struct uvs_alert_close_wait {
	uint64_t close_wait;   /* sockets in CLOSE_WAIT now */
	int windows;
	uint64_t window_ns;
};

struct uvs_alert_accept_queue {
	uint64_t queued;       /* connections waiting in the longest accept queue */
	uint64_t limit;        /* its listener's backlog */
	uint64_t window_ns;
};

struct uvs_alert_retransmits {
	uint64_t retransmits;  /* in the window */
	uint64_t window_ns;
};

/* loop_utilization and gc_share: one loop's share of the window (busy, or in GC). */
struct uvs_alert_loop_share {
	int tid;
	enum uvs_role role;
	double share;          /* utilization, or GC time over the window */
	double threshold;
	uint64_t window_ns;
};

struct uvs_alert_queue_wait {
	enum uvs_pool_kind pool_kind; /* the kind of work that waited longest */
	uint64_t wait_p99_ns;
	uint64_t threshold_ns;
	uint64_t window_ns;
};

struct uvs_alert {
	enum uvs_alert_kind kind;
	int pid;
	uint64_t ts_ns;        /* CLOCK_REALTIME when the alert was raised */
	enum uvs_alert_status state;
	enum uvs_severity severity;
	uint64_t firing_ns;    /* resolved: how long it was firing (0 for loop_blocked) */
	uint64_t suppressed;   /* alerts of this rule the rate limit held back since the last one */
	/*
	 * resolved because uvscope stopped watching the process (it exited, or uvscope ended),
	 * not because the condition ended: the figures are of its last window
	 */
	bool detached;
	union {
		struct uvs_alert_loop_blocked loop_blocked;
		struct uvs_alert_pool_saturated pool_saturated;
		struct uvs_alert_sync_io sync_io;
		struct uvs_alert_fds fd_limit;
		struct uvs_alert_fds fd_growth;
		struct uvs_alert_close_wait close_wait_growth;
		struct uvs_alert_accept_queue accept_queue_full;
		struct uvs_alert_retransmits retransmit_rate;
		struct uvs_alert_loop_share loop_utilization;
		struct uvs_alert_queue_wait pool_queue_wait;
		struct uvs_alert_loop_share gc_share;
	};
};

/* "loop_blocked", "threadpool_saturated", ...: the JSON "kind" (a schema value). */
const char *uvs_alert_kind_name(enum uvs_alert_kind kind);
/* "firing", "resolved"; "info", "warning", "critical". */
const char *uvs_alert_status_name(enum uvs_alert_status state);
const char *uvs_severity_name(enum uvs_severity severity);

/*
 * Discrete events, one record each as they happen (an output that draws a timeline wants every
 * one; the others may ignore them).
 */
enum uvs_record_kind {
	UVS_RECORD_POOL_JOB = 1, /* a job the pool served (--pool-jobs) */
	UVS_RECORD_SLOW_SYSCALL, /* a slow syscall on a loop thread (--syscalls) */
	UVS_RECORD_ITERATION,    /* one loop iteration, when a timeline asks for them (trace) */
	UVS_RECORD_PHASE,        /* one phase of one iteration (trace with exact phases) */
	UVS_RECORD_GC,           /* one V8 garbage collection on a loop thread */
	UVS_RECORD_GUARD,        /* the overhead guard stepped down or up, or can do no more */
};

/* One loop iteration: busy from the return of one epoll wait to the entry of the next. */
struct uvs_iteration_record {
	int tid;
	uint64_t wait_start_ns; /* monotonic: the wait that ended this iteration's idle part began */
	uint64_t busy_start_ns; /* the wait returned: the iteration's callbacks begin */
	uint64_t busy_end_ns;   /* the next wait began */
};

/* One phase span inside an iteration (exact phases only). */
struct uvs_phase_record {
	int tid;
	int phase;              /* enum uvs_phase */
	uint64_t start_ns;      /* monotonic */
	uint64_t end_ns;
};

/* One garbage collection, from the entry to the return of V8's collector. */
struct uvs_gc_record {
	int tid;
	bool major;             /* a full mark-compact; minor: a scavenge or minor mark-sweep */
	uint64_t start_ns;      /* monotonic */
	uint64_t end_ns;
};

enum uvs_guard_record_action {
	UVS_GUARD_RECORD_DOWN = 1, /* a step taken */
	UVS_GUARD_RECORD_UP,       /* a step undone */
	UVS_GUARD_RECORD_EXHAUSTED, /* over the budget with every step taken */
	UVS_GUARD_RECORD_FAILED,   /* a step could not be taken or undone (error says why) */
};

/* What the overhead guard just did, and the settings it left in force. */
struct uvs_guard_record {
	uint64_t ts_ns;          /* CLOCK_REALTIME */
	enum uvs_guard_record_action action;
	const char *step;        /* "phases_off", "sampling_low", "pool_jobs_off",
				  * "loop_hooks_off"; NULL for
				  * EXHAUSTED */
	bool step_down;          /* FAILED: the step was being taken (else undone) */
	int level;               /* steps in force now */
	uint64_t rate;           /* probe hits per second in the window that decided */
	uint64_t predicted;      /* UP: the rate predicted with the step undone */
	/* The deciding window's rate by source, per second: the loop hooks (epoll call sites,
	 * phase boundaries), the pool's probes, the GC probes, and stack samples counted as
	 * UVS_GUARD_SAMPLE_HITS hits each. They add up to rate. */
	uint64_t rate_loop, rate_pool, rate_gc, rate_samples;
	uint64_t budget;
	unsigned int windows;    /* windows in a row that led to it */
	bool phases_asked;
	bool phases_off;
	uint32_t sample_hz;      /* rates in force now (0: not sampling) */
	uint32_t blocked_hz;
	bool pool_asked;         /* the pool step could be taken */
	bool pool_off;           /* the pool's probes out now */
	bool loop_hooks_off;     /* the wait hooks are out now */
	char error[200];         /* FAILED: why */
};

struct uvs_record {
	enum uvs_record_kind kind;
	int pid;
	union {
		struct uvs_pool_job_record pool_job;
		struct uvs_slow_call slow_syscall;
		struct uvs_iteration_record iteration;
		struct uvs_phase_record phase;
		struct uvs_gc_record gc;
		struct uvs_guard_record guard;
	};
};

const char *uvs_role_name(enum uvs_role role);
const char *uvs_phase_name(enum uvs_phase phase);
/* JSON's word for a stopped loop ("signal", "debugger", "frozen"), NULL when it runs. */
const char *uvs_loop_stop_name(enum uvs_loop_stop stop);
/* What watch says of it: "stopped by a signal (SIGSTOP, SIGTSTP)", ...; NULL when it runs. */
const char *uvs_loop_stop_text(enum uvs_loop_stop stop);
/* The name of a uv_fs_type value ("open", "stat", ...), or NULL for an unknown one. */
const char *uvs_fs_op_name(unsigned int type);
/* The name of a pool kind ("fs", "dns", "crypto", "zlib", "other", "random"). */
const char *uvs_pool_kind_name(enum uvs_pool_kind kind);
/* "loop", "pool", "other". */
const char *uvs_sys_role_name(enum uvs_sys_role role);
/* "file", "socket", "pipe", "anon", "other". */
const char *uvs_fd_type_name(enum uvs_fd_type type);

#endif /* UVSCOPE_SNAPSHOT_H */
