/* SPDX-License-Identifier: MIT */
/*
 * The libuv thread pool: attaching its uprobes (bpf/pool.bpf.c) to the target and reading the
 * cumulative BPF statistics each window (the math is collect/pool_window.c). Formats nothing.
 *
 * The BPF object is the agent's, shared by every target (collect/bpf_shared.h): the first
 * target's attach loads it, later ones take it from the host; each target has its uprobes,
 * its slot's statistics and its entries in the shared maps, and nothing else.
 */
#ifndef UVSCOPE_POOL_PROBES_H
#define UVSCOPE_POOL_PROBES_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/bpf_shared.h"
#include "collect/collector.h"
#include "collect/pool_sites.h"
#include "collect/pool_statics.h"
#include "collect/pool_window.h"
#include "core/snapshot.h"
#include "target/process.h"
#include "target/uprobe_set.h"
#include "uvscope/pool.h"

struct pool_bpf;

struct uvs_pool {
	struct pool_bpf *skel;           /* the host's (not freed here) */
	struct uvs_bpf_shared *sh;
	int slot;                        /* the target's slot in sh */
	const struct uvs_target *target;
	const struct uvs_collect_sink *sink; /* where per-job records go */
	struct uvs_uprobe_set uprobes; /* submit, work entry and return, done callbacks */
	bool attached;
	bool fs_io_uring;        /* seen: fs work goes to io_uring, not the pool */
	bool dns_estimated;      /* some interval's host name counts were sampled (dns_names_budget) */
	char why[320];           /* why the pool is not measured, when it is not */
	uint64_t nthreads_addr;  /* runtime address of libuv's `nthreads` static, 0 if unknown */
	uint32_t size_seen;      /* the pool's size once it started (libuv zeroes it at exit) */
	uint64_t idle_threads_addr; /* ... of `idle_threads` */
	uint64_t wq_addr;        /* ... of `wq`, the queue (a struct uv__queue: next, prev) */
	uint64_t slow_wq_addr;   /* ... of `slow_io_pending_wq` (dns jobs held back), 0 if none */
	struct uvs_pool_gauge gauge; /* what the agent last told the programs */
	uint64_t swept_total;    /* jobs swept from `jobs` since attach (see uvs_pool_window) */
	struct uvs_pool_job *jobs; /* the jobs in flight of every process, mapped (see pool.c) */
	struct uvs_pool_plan plan; /* where the uprobes go (collect/pool_sites.h) */
	int stats_fd;                    /* its statistics' map, at its slot of pool_stats */
	struct uvs_pool_stats *now;      /* the last reading */
	struct uvs_pool_history *history; /* what the window math keeps */
	/*
	 * The overhead guard's step (uvs_pool_set_probes): the per-job probes out, the pool's
	 * gauge read from libuv's statics (collect/pool_statics.h) at each block check instead.
	 */
	int file_fd;             /* the probed file, held open (O_PATH) to put them back ... */
	bool file_held;          /* ... once privileges are dropped; false: file_fd is not ours */
	struct uvs_pool_statics statics;
	bool probes_out;         /* the guard took them out */
	/*
	 * Back in, but a job submitted while they were out may still be in flight: its end is
	 * ignored (no submit seen), and the probes' queue depth leaves it out, so the gauge comes
	 * from the statics until they show the pool idle (uvs_pool_statics_idle): from then on
	 * every job in flight was submitted with the probes in.
	 */
	bool settling;
	bool out_in_window;      /* the probes were out for some of this window: no job figures */
	bool statics_in_window;  /* the gauge of this window is the statics' (out or settling) */
	uint64_t unseen;         /* jobs in flight as the probes came back, not yet reported */
	uint64_t unseen_total;   /* ... the session's */
	uint64_t queued_max_all; /* the most queued of any window: the session's */
	uint64_t end_mono;       /* when the programs stopped counting (mark_end); 0: still */
	/* libuv's busy threads (nthreads - idle_threads) at the last window; -1: not read. */
	int64_t busy_at_window;
	/*
	 * At each block check with the probes in: whether dns waited at libuv's cap while a thread
	 * idled (uvs_pool_statics_capped), in the window and in the session.
	 */
	uint64_t cap_checks, cap_waits, all_cap_checks, all_cap_waits;
};

/*
 * Attaches the pool probes of target t (slot `slot` of sh) and fills the pool's part of its
 * configuration (cfg, published later by the caller); on failure p->attached is false and
 * p->why says why. The object is loaded with the first target and shares the loop object's
 * maps, so the loop object must be loaded and its maps handed to sh first. With job_records
 * (the same for every target of an agent), every served job is also sent to the agent
 * (uvs_pool_records_fd, read by uvs_pool_on_record) and handed to sink->record. delay: the
 * done callbacks are probed too (completion delay; --pool-delay).
 */
void uvs_pool_attach(struct uvs_pool *p, const struct uvs_target *t, struct uvs_bpf_shared *sh,
		     int slot, struct uvs_target_cfg *cfg, bool job_records, bool delay,
		     const struct uvs_collect_sink *sink);

/* Where the attached pool's uprobes are, for the attach line (strings owned by p). */
void uvs_pool_hooks(const struct uvs_pool *p, struct uvs_pool_hooks *out);

/* The ring buffer of per-job records (one for every target), and its callback (ctx: the sh). */
int uvs_pool_records_fd(const struct uvs_pool *p);
int uvs_pool_on_record(void *ctx, void *data, size_t len);

/*
 * Turns one ring-buffer record into a uvs_pool_job_record, and its process into *tgid;
 * -EINVAL when malformed.
 */
int uvs_pool_record_from_event(const void *data, size_t len, struct uvs_pool_job_record *out,
			       pid_t *tgid);

/*
 * quiesce removes this target's uprobes; detach also clears its entries from the shared maps
 * and frees. Neither touches the object or another target. Safe on a zeroed struct.
 */
/* The process is published to the programs: its windows start now. */
void uvs_pool_start(struct uvs_pool *p);
/*
 * The programs stop counting the process now: the last window ends here, not once the probes
 * are out (that takes a few hundred ms). uvs_pool_quiesce marks it too, if not yet.
 */
void uvs_pool_mark_end(struct uvs_pool *p);
void uvs_pool_quiesce(struct uvs_pool *p);
void uvs_pool_detach(struct uvs_pool *p);

/*
 * Whether the overhead guard may take the per-job probes out: attached on the 2-probe plan,
 * libuv's statics found (the gauge then comes from them) and the probed file held open (they
 * can go back in).
 */
bool uvs_pool_can_step(const struct uvs_pool *p);

/*
 * The overhead guard's step. Out: the uprobes detached, this process's jobs in flight swept
 * from the maps and its gauges in the statistics set to nothing in flight, so that nothing
 * taken before lingers; the windows' size and queue then come from libuv's statics, and their
 * per-job figures are unavailable. In: the uprobes attached again; jobs already in flight are
 * ignored (counted in the next window's agent figures), and the gauge stays the statics' until
 * the pool is seen idle. 0, or -errno with why (out: cannot fail).
 */
int uvs_pool_set_probes(struct uvs_pool *p, bool in, char *why, size_t cap);

/* At each block check: a reading of the statics while they make the gauge. */
void uvs_pool_check(struct uvs_pool *p);

/* Whether this libuv may send fs work to io_uring, so an io_uring fd is worth looking for. */
bool uvs_pool_wants_io_uring_check(const struct uvs_pool *p);

/*
 * Fills *out with the window since the last call, and the pool's losses into *agent.
 * io_uring_seen: the target has an io_uring fd (from this window's /proc/PID/fd read).
 */
void uvs_pool_window(struct uvs_pool *p, bool io_uring_seen, struct uvs_pool_snapshot *out,
		     struct uvs_agent_snapshot *agent);

/*
 * The probe hits on the target that a window's figures stand for (the overhead guard): what the
 * probes add_all() places cost per job and per sync fs call.
 */
uint64_t uvs_pool_probe_hits(const struct uvs_pool *p, const struct uvs_pool_snapshot *w);

/* Fills *out with the session, as of the last window. */
void uvs_pool_totals(struct uvs_pool *p, struct uvs_pool_snapshot *out,
		     struct uvs_agent_snapshot *agent);

#endif
