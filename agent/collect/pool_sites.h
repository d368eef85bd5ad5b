/* SPDX-License-Identifier: MIT */
/*
 * Where the thread pool's uprobes go (bpf/pool.bpf.c), chosen so that each job costs the
 * target as few probe hits, and as few single-stepped ones, as possible.
 *
 * The 2-probe plan, where the kernel has uprobe sessions (6.13+) and worker()'s end site is
 * proven (target/worker_site.h): a session on each of libuv's public entry points that submit
 * work (uv_fs_*, uv_getaddrinfo, uv_getnameinfo, uv_random; the position of each one's
 * callback argument from uv.h) and an entry uprobe on uv_queue_work: an async call is one hit
 * (its program asks for no return), a sync fs call two (its return times it); and one uprobe
 * at the end of service in worker(), for every kind of work. The start of service is inferred
 * (uvs_pool_inferred_start). Completion delay (the done callbacks) only when asked for.
 *
 * The 4-probe plan, elsewhere: a job passes four probes: its submission (uv__work_submit for
 * fs, dns and random work; uv_queue_work for CPU work), the entry and return of its work
 * function on a pool thread (the service), and the entry of its done callback on the loop (the
 * completion). Each function is probed at its cheapest proven entry site
 * (target/entry_site.h): its start when that is `push %rbp`, or a few instructions in
 * (uv_queue_work at its `je` on Node 18, 24 and 26).
 *
 * CPU work (crypto, zlib, N-API) runs through uv__queue_work and uv__queue_done, which have no
 * instruction the kernel emulates before they jump on to the job's own callbacks: a uprobe
 * there is single-stepped, 7-20 us more per job for the pair (3-9 us a hit on the machines
 * measured, against 0.5 for an emulated one). So the 4-probe plan follows CPU work at node's
 * own callbacks instead, the lambdas node::ThreadPoolWork::ScheduleWork gives uv_queue_work
 * (`push %rbp` on every version), which every job of node's passes. A job of another caller
 * (an addon calling uv_queue_work itself) would pass neither: when an object mapped in the
 * target imports uv_queue_work, or node's callbacks cannot be found in the libuv object, the
 * plan falls back to uv__queue_work and uv__queue_done and says what that costs.
 */
#ifndef UVSCOPE_POOL_SITES_H
#define UVSCOPE_POOL_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/entry_site.h"
#include "target/worker_site.h"
#include "target/process.h"
#include "uvscope/pool.h"

/* Which program of bpf/pool.bpf.c a site runs. */
enum uvs_pool_prog {
	UVS_POOL_PROG_SUBMIT,     /* uv__work_submit(loop, w, kind, work, done) */
	UVS_POOL_PROG_QUEUE_WORK, /* uv_queue_work(loop, req, work_cb, after_work_cb) */
	UVS_POOL_PROG_WORK,       /* entry and return of a work function */
	UVS_POOL_PROG_DONE,       /* entry of a done callback */
	/* The 2-probe plan: */
	UVS_POOL_PROG_API,        /* a session on uv_fs_*, uv_getaddrinfo, uv_getnameinfo, uv_random */
	UVS_POOL_PROG_QUEUE_WORK2, /* uv_queue_work: every job followed */
	UVS_POOL_PROG_END,        /* the end of service in worker() */
};

struct uvs_pool_site {
	char name[48];            /* the function ("uv__fs_work", "node's work callback") */
	enum uvs_pool_prog prog;
	uint64_t cookie;          /* the program's attach cookie */
	uint64_t file_offset;     /* in the libuv object */
	uint64_t offset;          /* bytes from the function's start */
	struct uvs_entry_site at; /* the site and whether the kernel emulates it */
	char why[200];            /* why the start was kept when a later site was refused */
};

#define UVS_POOL_SITES_MAX 56

struct uvs_pool_plan {
	struct uvs_pool_site sites[UVS_POOL_SITES_MAX];
	size_t nsites;
	/*
	 * The 2-probe plan: a session on each of libuv's public entry points that submit work (a
	 * sync fs call also takes its return) and one uprobe at the end of service in worker()
	 * (target/worker_site.h). Else the 4-probe plan, plan_why says why.
	 */
	bool two_probe;
	bool confirm_fs;                   /* async fs may go to io_uring: confirmed at return */
	struct uvs_worker_site worker;     /* the end-of-service site (2-probe plan) */
	char plan_why[320];
	bool cpu_at_node_cb;               /* CPU work at node's callbacks (else uv__queue_*) */
	bool delay_asked;                  /* completion delay wanted (--pool-delay, 4-probe plan) */
	bool track_done;                   /* the done callbacks are probed (completion delay) */
	uint64_t fn_addr[UVS_POOL_FNS];    /* runtime addresses of libuv's work functions */
	uint64_t node_work_cb;             /* runtime address of node's work callback, or 0 */
	char cpu_why[320];                 /* why CPU work is at uv__queue_work, when it is */
	char done_why[320];                /* why the done callbacks are not probed, when not */
};

/*
 * Resolves every site in t's libuv object and proves where each goes: the 2-probe plan when
 * the kernel has uprobe sessions (sessions) and worker()'s end site is proven, else the
 * 4-probe plan. delay: the done callbacks too (completion delay; always in the 4-probe plan
 * when they can be placed). Returns 0, or -errno with one sentence in why when the pool cannot
 * be followed at all (a stripped build, a function missing, code not running from the file).
 */
int uvs_pool_plan_make(struct uvs_pool_plan *plan, const struct uvs_target *t, bool sessions,
		       bool delay, char *why, size_t cap);

/* Probe hits per pool job of the plan (submit, service, done). */
unsigned uvs_pool_plan_hits_per_job(const struct uvs_pool_plan *plan);

/* The sites the kernel single-steps, "a, b" (at most cap bytes); returns how many there are. */
size_t uvs_pool_plan_stepped(const struct uvs_pool_plan *plan, char *out, size_t cap);

#endif
