/* SPDX-License-Identifier: MIT */
/*
 * Types shared by bpf/loop.bpf.c and the agent: per-thread loop state and statistics, phase
 * ids, and the ring-buffer events. Fixed-width types, widest fields first, sizes pinned.
 */
#ifndef UVSCOPE_LOOP_H
#define UVSCOPE_LOOP_H

#include "hist.h"

/* Loop phases, in the names the outputs use (uvs_phase_name() in the agent). */
enum uvs_phase {
	UVS_PHASE_TIMERS = 0,
	UVS_PHASE_PENDING,
	UVS_PHASE_IDLE,
	UVS_PHASE_PREPARE,
	UVS_PHASE_POLL_WAIT,
	UVS_PHASE_POLL_IO,
	UVS_PHASE_CHECK,
	UVS_PHASE_CLOSE,
	UVS_PHASE_COUNT,
	UVS_PHASE_NONE = UVS_PHASE_COUNT, /* not yet seen a boundary on this thread */
};

/*
 * Phase boundaries caught by uprobes, passed to the BPF program as the attach cookie. Each
 * names the phase that begins there; a phase ends where the next boundary (or epoll) begins.
 */
enum uvs_boundary {
	UVS_BOUND_TIMERS_ENTRY = 0, /* uv__run_timers entry: timers begin */
	UVS_BOUND_TIMERS_RETURN,    /* uv__run_timers return: inlined pending begins */
	UVS_BOUND_IDLE_ENTRY,       /* uv__run_idle entry */
	UVS_BOUND_IDLE_RETURN,      /* uv__run_idle return: prepare begins (uv__run_prepare next) */
	UVS_BOUND_POLL_ENTRY,       /* uv__io_poll entry: poll set-up, counted as poll_io */
	UVS_BOUND_CHECK_ENTRY,      /* uv__run_check entry */
	UVS_BOUND_CHECK_RETURN,     /* uv__run_check return: inlined close (and update_time) */
	UVS_BOUND_COUNT,
};

/* What BPF keeps per loop thread between events; the agent reads it to see blocks live. */
struct uvs_loop_state {
	__u64 busy_since;  /* ktime of the last return from the loop's epoll; 0 = unknown */
	__u64 wait_start;  /* ktime of the last entry into the loop's epoll */
	__u64 phase_start; /* ktime the current phase (or poll segment) began */
	__u64 iter_busy;   /* busy time carried into the current iteration (see below) */
	__u64 poll_wait;   /* exact phases: wait and I/O time of the uv__io_poll running now */
	__u64 poll_io;
	__s32 epfd;        /* the loop's epoll fd: the first one this thread waited on */
	__u32 in_wait;     /* 1 while the thread is inside the loop's epoll */
	__u32 phase;       /* enum uvs_phase */
	/*
	 * 1 after an epoll with a zero timeout that returned nothing. Node turns on libuv's
	 * idle-time metrics, which make every uv__io_poll try epoll(0) before the real wait; the
	 * wait that follows such a call belongs to the same loop iteration.
	 */
	__u32 empty_poll;
	__u32 zero_timeout; /* the current wait was called with a zero timeout */
	/*
	 * One hook per iteration (the wait's return hook reads libuv's metrics, see
	 * bpf/loop.bpf.c): the loop's uv__loop_internal_fields_t in the target, learnt at the
	 * first return, and whether its idle-time metrics are on (UVS_LOOP_METRICS_*). With them
	 * on, the loop is in its wait while provider_entry_time (in the target) is after
	 * busy_since; nothing here says so, the agent reads it.
	 */
	__u32 metrics;
	__u64 lfields;
	__u32 phase_epoch;  /* the agent's phase epoch the phase fields above belong to */
	/*
	 * Exact phases: the uv__io_poll running now has entered its epoll wait at least once.
	 * With the return hook alone, a wait that may not block (zero timeout) has no stamp and
	 * counts as 0 ns of poll_wait, so the wait is told by this flag, not by poll_wait > 0.
	 */
	__u32 poll_waited;
	/*
	 * Exact phases: spans that ended since the last flush into the statistics, one slot per
	 * phase (done_mask says which hold one). The phase uprobes then look up only this state;
	 * the statistics are written once per iteration, at the entry of uv__io_poll, before the
	 * wait (bpf/loop.bpf.c, flush_phases).
	 */
	__u64 done_ns[UVS_PHASE_COUNT];
	__u32 done_mask;
	__u32 tgid;         /* the process of the thread (one agent watches several) */
	/*
	 * Exact phases with the wait folded in (no wait hook: bpf/loop.bpf.c, fold_wait): set at
	 * each entry of uv__io_poll, busy_since is then that entry's time, and idle_seen libuv's
	 * provider_idle_time read there. A wait of that poll shows as provider_idle_time grown
	 * past idle_seen: it began at busy_since or a few set-up instructions later, and the
	 * loop is busy again since busy_since plus that growth (uvs_loop_live). The wait hook
	 * clears folded when it runs (the guard put it back while the phase uprobes are out).
	 */
	__u64 idle_seen;
	__u64 loop;         /* folded: the uv_loop_t whose uv__io_poll entries are this loop's */
	__u32 folded;
	/*
	 * Folded, and the uv__io_poll entered at busy_since was called with a zero timeout: it
	 * cannot wait (libuv stamps a wait only when the timeout is not 0), so its idle time is
	 * still idle_seen at the next entry. Whoever sets folded otherwise clears this.
	 */
	__u32 fold_no_wait;
	/*
	 * Folded: when a signal last interrupted the wait of the uv__io_poll entered at
	 * busy_since (its epoll returned EINTR; bpf/loop.bpf.c, uvs_wait_signalled), else 0 or
	 * older than busy_since. libuv then stamps the wait's start again, as if the wait began
	 * there, and adds only the part after it to the idle time (Node's ELU counts the part
	 * before as busy): the wait really ran from busy_since, and ended the idle time's growth
	 * after this.
	 */
	__u64 intr_ns;
};
_Static_assert(sizeof(struct uvs_loop_state) == 192, "uvs_loop_state layout");

/*
 * Where the wait of a folded poll ends, as libuv's idle time says (its growth d since
 * busy_since): d after its start, or after the last signal that interrupted it.
 */
static inline __u64 uvs_loop_wait_end(const struct uvs_loop_state *st, __u64 d)
{
	__u64 start = st->busy_since;

	if (!st->fold_no_wait && st->intr_ns > start)
		start = st->intr_ns;
	return start + d;
}

/*
 * A loop thread's state now, from its BPF state and libuv's provider_entry_time and
 * provider_idle_time read from the target after it (both 0 when not read): 1 and the wait's
 * start in *since while it waits, else 0 and the start of its busy span in *since (0: unknown).
 * With the wait hook, a wait in progress is a stamp after the last return (busy_since); with
 * the wait folded into the phase uprobes, a wait that ended since the last uv__io_poll entry
 * is the idle time libuv added since then.
 */
static inline int uvs_loop_live(const struct uvs_loop_state *st, __u64 entry, __u64 idle,
				__u64 *since)
{
	if (st->in_wait) {
		*since = st->wait_start;
		return 1;
	}
	if (entry && entry > st->busy_since) {
		/* A wait a signal interrupted goes on from its first start, not libuv's new one. */
		*since = st->folded && st->intr_ns > st->busy_since ? st->busy_since : entry;
		return 1;
	}
	*since = st->busy_since;
	if (st->folded && st->busy_since && idle > st->idle_seen)
		*since = uvs_loop_wait_end(st, idle - st->idle_seen);
	return 0;
}

enum uvs_loop_metrics {
	UVS_LOOP_METRICS_UNKNOWN = 0,
	UVS_LOOP_METRICS_ON,  /* UV_METRICS_IDLE_TIME set: the return hook alone suffices */
	UVS_LOOP_METRICS_OFF, /* not set: the wait's entry must be hooked too */
};

/* Cumulative statistics of one loop thread since attach. The agent takes deltas. */
struct uvs_loop_stats {
	__u64 iterations;  /* loop iterations: entries into the loop's poll */
	__u64 busy_ns;     /* completed busy spans (epoll exit -> next epoll entry) */
	__u64 idle_ns;     /* completed waits inside epoll */
	__u64 busy_max_ns; /* longest busy time of one iteration */
	__u64 blocks;      /* busy spans at or above the block threshold */
	__u64 blocked_ns;  /* ... and their total length */
	__u64 phase_count[UVS_PHASE_COUNT];
	__u64 phase_total_ns[UVS_PHASE_COUNT];
	__u64 phase_max_ns[UVS_PHASE_COUNT];
	struct uvs_hist busy;
	struct uvs_hist phase[UVS_PHASE_COUNT];
};
_Static_assert(sizeof(struct uvs_loop_stats) ==
		       8 * (6 + 3 * UVS_PHASE_COUNT + (1 + UVS_PHASE_COUNT) * UVS_HIST_BUCKETS),
	       "uvs_loop_stats layout");

/* Counters of the BPF side itself, per target (its slot) and per CPU. */
struct uvs_bpf_counters {
	__u64 events;          /* probe hits that belonged to the target */
	__u64 ringbuf_drops;   /* events and trace records lost because a ring buffer was full */
	__u64 insert_failures; /* map inserts that failed (too many threads) */
};

enum uvs_event_type {
	UVS_EV_BLOCK_END = 1, /* a busy span reached the threshold and just ended */
	UVS_EV_LOOP_SEEN,     /* a thread waited in epoll for the first time */
	UVS_EV_THREAD_EXIT,   /* a thread of the target exited */
	UVS_EV_NO_METRICS,    /* a loop without libuv's idle-time metrics: hook wait entries */
};

struct uvs_event {
	__u64 ts_ns;       /* ktime of the event */
	__u64 duration_ns; /* BLOCK_END: length of the busy span; THREAD_EXIT: its metrics
			    * (enum uvs_loop_metrics) */
	__u32 type;        /* enum uvs_event_type */
	__u32 tid;
	__u32 tgid;        /* its process: the agent hands the event to that target */
	__u32 pad;
};
_Static_assert(sizeof(struct uvs_event) == 32, "uvs_event layout");

/*
 * Timeline records (`uvscope trace` only): one per loop iteration and, with exact phases, one
 * per phase span, in their own ring buffer. Off unless the agent sets trace_records before load.
 */
enum uvs_trace_type {
	UVS_TRACE_ITERATION = 1, /* start: the wait returned; end: the next wait began */
	UVS_TRACE_PHASE,         /* one phase span; a poll's wait segments are not sent */
};

struct uvs_trace_record {
	__u64 start_ns;      /* ktime */
	__u64 end_ns;
	__u64 wait_start_ns; /* ITERATION: the wait before it began (0: not seen); PHASE: 0 */
	__u32 tid;
	__u16 type;          /* enum uvs_trace_type */
	__u16 phase;         /* PHASE: enum uvs_phase */
	__u32 tgid;          /* its process */
	__u32 pad;
};
_Static_assert(sizeof(struct uvs_trace_record) == 40, "uvs_trace_record layout");

/* Size of the trace ring buffer while tracing (a power of two, a multiple of the page size). */
#define UVS_TRACE_RING_BYTES (8u << 20)

/* Loop threads of all the processes one agent watches (main, Workers, node's own). */
#define UVS_MAX_LOOP_THREADS 1024

#endif /* UVSCOPE_LOOP_H */
