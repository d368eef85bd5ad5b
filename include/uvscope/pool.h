/* SPDX-License-Identifier: MIT */
/*
 * Types shared by bpf/pool.bpf.c and the agent: the libuv thread pool, measured per kind of
 * work from uprobes on the submit points and on the entry and return of the work functions.
 */
#ifndef UVSCOPE_POOL_H
#define UVSCOPE_POOL_H

#include "hist.h"

enum uvs_pool_kind {
	UVS_POOL_FS = 0,  /* uv_fs_* (libuv kind FAST_IO) */
	UVS_POOL_DNS,     /* getaddrinfo, getnameinfo (SLOW_IO) */
	UVS_POOL_CRYPTO,  /* node's ThreadPoolWork "crypto" */
	UVS_POOL_ZLIB,    /* node's ThreadPoolWork "zlib" */
	UVS_POOL_OTHER,   /* other uv_queue_work: N-API, addons, node's other work */
	UVS_POOL_RANDOM,  /* uv_random */
	UVS_POOL_KINDS,
};

/*
 * Work functions whose entry and return mark a job's service (the uprobe cookie). The first
 * UVS_POOL_FNS are libuv's, whose argument is the struct uv__work; node's work callback takes
 * the uv_work_t the uv__work is part of.
 */
enum uvs_pool_fn {
	UVS_POOL_FN_FS = 0,    /* uv__fs_work */
	UVS_POOL_FN_GETADDRINFO, /* uv__getaddrinfo_work */
	UVS_POOL_FN_GETNAMEINFO, /* uv__getnameinfo_work */
	UVS_POOL_FN_QUEUE,     /* uv__queue_work (uv_queue_work's wrapper) */
	UVS_POOL_FN_RANDOM,    /* uv__random_work */
	UVS_POOL_FNS,
	UVS_POOL_FN_NODE_WORK = UVS_POOL_FNS, /* node::ThreadPoolWork's work callback */
};

/* The done callbacks libuv calls on the loop thread (uv__work_done): the completion. */
#define UVS_POOL_DONE_FNS 5

/*
 * The cookie of a done-callback probe: where the uv__work is, in bytes from the callback's
 * first argument (libuv's done callbacks take it; node's after-work callback takes the
 * uv_work_t, UVS_UV_WORK_T_WORK_REQ bytes before it).
 */
#define UVS_UV_WORK_T_WORK_REQ 88 /* uv_work_t.work_req (uv.h of libuv 1.x, x86-64) */

#define UVS_FS_OPS 64 /* a power of two: the BPF side masks the index */

struct uvs_pool_kind_stats {
	__u64 submitted;
	__u64 started;
	__u64 completed;
	__u64 done;              /* done callbacks run on the loop */
	__u64 wait_total_ns;
	__u64 service_total_ns;
	__u64 delay_total_ns;
	struct uvs_hist wait;    /* submit -> start of service on a pool thread */
	struct uvs_hist service; /* start -> end of the work function */
	struct uvs_hist delay;   /* end of service -> its done callback on the loop */
};

/* One process's pool statistics (under its slot; updated atomically from every thread). */
struct uvs_pool_stats {
	__s64 queued;          /* submitted and not yet started (a gauge; 4-probe plan) */
	__s64 running;         /* started and not yet returned (a gauge; 4-probe plan) */
	/*
	 * The 2-probe plan (no probe at the start of service): submitted and not yet ended, less
	 * the agent's `swept` (struct uvs_pool_gauge). The agent makes queued and running of it:
	 * beyond the pool's size the rest waits.
	 */
	__s64 inflight;
	/*
	 * Time with work waiting in the queue. libuv hands a job to an idle thread at once, so
	 * a job waits only while every thread is busy (or, for dns, while the slow-I/O cap is
	 * reached): this is the pool's saturated time.
	 */
	__u64 queued_since;    /* ktime the queue last became non-empty */
	__u64 queued_ns;       /* completed spans of a non-empty queue */
	__u64 sync_fs;         /* uv__fs_work calls never submitted: run on the calling thread */
	__u64 sync_fs_ns;
	/*
	 * ... of which on a loop thread: one the loop object knows (it has waited in its loop's
	 * epoll), looked up when the call returns, so a Worker that exits before the agent reads
	 * the window is still placed right.
	 */
	__u64 sync_fs_loop;
	__u64 sync_fs_loop_ns;
	__u64 lost;            /* jobs we could not track (map full) */
	/*
	 * uv_queue_work jobs with a work callback that is not node's while CPU work is followed
	 * at node's callbacks: from an addon loaded after attach. Not followed (no probe sees
	 * their service), so not counted as submitted either.
	 */
	__u64 unfollowed;
	__u64 job_event_drops; /* per-job records the ring buffer had no room for */
	__u64 fs_ops[UVS_FS_OPS];
	struct uvs_pool_kind_stats kind[UVS_POOL_KINDS];
};

/*
 * Per process, written by the agent only (one writer, plain stores): what the 2-probe plan's
 * programs need beyond the configuration.
 */
struct uvs_pool_gauge {
	__u64 swept;     /* jobs the agent removed from `jobs` (never reached the pool; see pool.c) */
	__u32 nthreads;  /* libuv's pool size once it started, else 0 */
	__u32 pad;
};

/*
 * The 2-probe plan's start of service, which no probe sees: a pool thread runs its jobs one
 * after another, so job J ending at `end` on thread T started at max(submit(J), end of T's
 * previous job) (prev_end; 0 when T has ended none yet). Exact when J waited for a thread (T
 * took it as soon as its previous job ended; libuv's bookkeeping between two jobs counts as
 * J's service); when T was idle, J starts at its submit: T's wake-up counts as service.
 */
static inline __u64 uvs_pool_inferred_start(__u64 submit, __u64 prev_end, __u64 end)
{
	__u64 start = prev_end > submit ? prev_end : submit;

	return start > end ? end : start;
}

/*
 * The addresses of the names node gives its crypto and zlib work (string literals: one address
 * each for the life of the process), per slot, learned by the programs from the first job of
 * each: later jobs are told apart by the pointer alone. The agent zeroes them at attach.
 */
struct uvs_pool_work_names {
	__u64 crypto;
	__u64 zlib;
};

/* Cookie of an entry point of libuv's API (the 2-probe plan's submit sessions). */
#define UVS_POOL_API_CB_ARG(c)   ((__u32)(c) & 0xf)          /* 1-7: which argument is cb */
#define UVS_POOL_API_KIND(c)     (((__u32)(c) >> 4) & 0xf)   /* enum uvs_pool_kind */
#define UVS_POOL_API_FS_TYPE(c)  (((__u32)(c) >> 8) & 0xff)  /* uv_fs_type of an fs call */
#define UVS_POOL_API_HOST        (1ull << 16)                 /* arg 4 is a host name */
#define UVS_POOL_API_WORK_REQ(c) (((c) >> 32) & 0xffff)       /* offsetof(req, work_req) */
#define UVS_POOL_API_COOKIE(cb_arg, kind, fs_type, work_req) \
	((__u64)(cb_arg) | ((__u64)(kind) << 4) | ((__u64)(fs_type) << 8) | ((__u64)(work_req) << 32))

/* Cookie of the end-of-service site in worker(): the uv__work is register reg + disp. */
#define UVS_POOL_END_COOKIE(reg, disp) ((__u64)(__u32)(reg) | ((__u64)(__u32)(__s32)(disp) << 32))
#define UVS_POOL_END_REG(c)  ((__u32)(c) & 0xff)
#define UVS_POOL_END_DISP(c) ((__s64)(__s32)(__u32)((c) >> 32))

/*
 * Jobs in flight: a table of UVS_POOL_MAX_JOBS entries (an array, shared by every watched
 * process), each entry held by one job while it is in flight. The job is named by its owner
 * word: the process's slot and its struct uv__work pointer (addresses are per process), which
 * every probe of the job can make from what it sees. A job's entry is one of the
 * UVS_POOL_JOB_PROBES after its home (uvs_pool_job_home). An entry is taken by an atomic
 * compare-and-swap of its owner word from 0, with UVS_POOL_JOB_FILLING set while the submit
 * writes the rest, and given back by one from its owner to 0: whoever gives it back accounts
 * for the job (end of service, done callback, the agent's sweep), once. The agent reads and
 * sweeps the table through a shared mapping of it (collect/pool.c).
 */
struct uvs_pool_job {
	__u64 owner;      /* uvs_pool_job_owner(), 0 while free */
	__u64 submit_ns;
	__u64 start_ns;
	__u64 end_ns;
	__u32 kind;
	__u32 fs_type;
};
_Static_assert(sizeof(struct uvs_pool_job) == 40, "uvs_pool_job layout");

#define UVS_POOL_JOB_BITS 14
#define UVS_POOL_MAX_JOBS (1u << UVS_POOL_JOB_BITS)
#define UVS_POOL_JOB_PROBES 8
#define UVS_POOL_JOB_FILLING (1ull << 63)
/* uv__work >> 3 (it holds pointers: 8-byte aligned) below bit 44: user addresses below 2^47. */
#define UVS_POOL_JOB_W_BITS 44

/* The owner word of job w of the process at `slot`; 0 for an address it cannot name. */
static inline __u64 uvs_pool_job_owner(__u32 slot, __u64 w)
{
	if (!w || (w & 7) || (w >> (UVS_POOL_JOB_W_BITS + 3)))
		return 0;
	return (w >> 3) | ((__u64)(slot + 1) << UVS_POOL_JOB_W_BITS);
}

/* The slot of the process an owner word (FILLING or not) is of; -1 for a free entry. */
static inline int uvs_pool_job_owner_slot(__u64 owner)
{
	return (int)((owner & ~UVS_POOL_JOB_FILLING) >> UVS_POOL_JOB_W_BITS) - 1;
}

/* Where the search for a job's entry starts (a multiplicative hash of its owner word). */
static inline __u32 uvs_pool_job_home(__u64 owner)
{
	return (__u32)((owner * 0x9E3779B97F4A7C15ull) >> (64 - UVS_POOL_JOB_BITS));
}

/* One served job, sent to the agent when its service ends (only with per-job records on). */
struct uvs_pool_job_event {
	__u64 end_ns;     /* CLOCK_MONOTONIC at the end of service */
	__u64 wait_ns;    /* submit -> start of service */
	__u64 service_ns; /* start -> end of service */
	__u32 tgid;       /* the process */
	__u32 tid;        /* the pool thread that served it */
	__u32 kind;       /* enum uvs_pool_kind */
	__s32 fs_type;    /* uv_fs_type for fs jobs, else -1 */
};
_Static_assert(sizeof(struct uvs_pool_job_event) == 40, "uvs_pool_job_event layout");

/* getaddrinfo host names, counted per name (the key, NUL-padded, cut at this length). */
#define UVS_DNS_NAME_LEN 64
#define UVS_DNS_MAX_NAMES 1024
/*
 * Host names are counted exactly for the first UVS_DNS_NAMES_EXACT lookups of each second (per
 * process; the agent sets the budget at each interval, scaled to its length), then for one in
 * UVS_DNS_NAME_STRIDE at random, each of those counting for UVS_DNS_NAME_STRIDE.
 */
#define UVS_DNS_NAMES_EXACT 200
#define UVS_DNS_NAME_STRIDE 16

/* A host name looked up by a process. */
struct uvs_dns_key {
	__u32 tgid;
	char name[UVS_DNS_NAME_LEN];
};
_Static_assert(sizeof(struct uvs_dns_key) == 4 + UVS_DNS_NAME_LEN, "uvs_dns_key layout");

#endif /* UVSCOPE_POOL_H */
