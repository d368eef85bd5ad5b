/* SPDX-License-Identifier: MIT */
/*
 * One interface for every output. The session holds a list of outputs and hands each the same
 * calls; any number may run at once (JSON lines to a file while `top` draws). An output renders
 * what it is given into its FILE; it never reads a map or the target.
 *
 * A session watches one or more target processes (-p PID,PID..., --all) through one set of
 * outputs. The calls, per target and in this order:
 *
 *   begin(info)        once, when the target is attached (with --all, whenever it appears)
 *   interval(s)        once per interval while it is attached; s->pid says which target
 *   alert(a), record(r) any time between its begin and its summary; a->pid, r->pid say whose
 *   summary(s)         once, when the target is detached: it exited, or the session ends.
 *                      After it, nothing more comes for s->pid (a new process that reuses the
 *                      pid begins again, as a new target)
 *
 * and end() once, when the session ends, after every target's summary. Calls for different
 * targets interleave freely. Outputs that draw a single process (top, trace, flame) are only
 * ever given one target: the command line refuses more for them.
 *
 * A timeline wants every discrete event as it happens (`record`), and a /metrics endpoint
 * builds its page from cumulative figures, pulled through `source->totals` for one target
 * (between that target's begin and its summary) instead of summed from intervals.
 */
#ifndef UVSCOPE_OUTPUT_H
#define UVSCOPE_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/snapshot.h"

/* How the thread pool is followed: where its uprobes went and which the kernel single-steps. */
#define UVS_POOL_HOOKS_MAX 16

struct uvs_pool_hooks {
	size_t sites;             /* uprobe sites in the target (a return probe shares its entry's) */
	const char *plan;         /* "2-probe" (sessions + worker's end) or "4-probe" */
	const char *plan_why;     /* why the 4-probe plan; NULL otherwise */
	unsigned hits_per_job;    /* probe hits a pool job costs (fs jobs, the most) */
	bool delay;               /* completion delay measured (done callbacks probed) */
	const char *delay_why;    /* why not; NULL when it is */
	bool fs_confirmed;        /* async fs calls also pass a return probe (io_uring possible) */
	const char *cpu_work;     /* "worker", "node_callbacks", or "uv__queue_work" (single-stepped) */
	const char *cpu_work_why; /* why CPU work is at uv__queue_work; NULL otherwise */
	size_t nstepped;
	const char *stepped[UVS_POOL_HOOKS_MAX]; /* the sites the kernel single-steps */
};

/*
 * What the session says once it is attached to a target: the target, and what is measured and
 * what not. The strings and arrays are the session's: an output copies what it keeps.
 */
/* Which figures a collector measures exactly, which it samples, which it cannot give. */
#define UVS_FIGURES_MAX 12

struct uvs_figures {
	bool set;                  /* the collector says (the bpf one does not: all exact) */
	size_t nexact, nsampled, nunavailable;
	const char *exact[UVS_FIGURES_MAX];
	const char *sampled[UVS_FIGURES_MAX];
	const char *unavailable[UVS_FIGURES_MAX];
};

struct uvs_attach_info {
	int pid;
	int ns_pid;                 /* its pid in its own PID namespace (== pid when not in one) */
	const char *container;      /* its container's id (target/container.h); "" when none */
	const char *comm;           /* sanitized where read */
	const char *exe;            /* path of the executable */
	const char *build_id;       /* of the libuv object, hex */
	const char *libuv_version;  /* "1.46.0" or "unknown" */
	const char *libuv_path;     /* the object that holds libuv */
	const char *node_version;   /* "v20.20.2", NULL when unknown */
	const char *mode;           /* "epoll" or "exact-phases" */
	const char *epoll_hooks;    /* "uprobes", "fentry" or "tracepoints": how epoll waits are caught */
	int epoll_hooks_per_wait;   /* how many of those run per wait: 1 or 2 */
	bool wait_in_phases;        /* ... only while the exact-phase uprobes are out */
	bool waits_at_poll_entry;   /* ... none: one uprobe at uv__io_poll's entry reads the waits */
	const char *host_cost;      /* what other processes pay for those hooks; NULL: nothing */
	const char *stacks;         /* how stacks are sampled and named; NULL when they are not */
	const struct uvs_pool_hooks *pool; /* NULL when the thread pool is not followed */
	const char *collector;      /* which collector measures ("bpf" or "proc") */
	const struct uvs_figures *figures; /* NULL when the collector does not say */
	const char *const *missing; /* what is unavailable and why, one sentence each */
	size_t nmissing;
	uint64_t block_threshold_ns;
	uint64_t interval_ns;
	uint64_t guard_budget;      /* the overhead guard's probe hits per second; 0: no guard */
	uint64_t attach_ns;         /* how long attaching took */
	const struct uvs_thread_brief *threads; /* every thread of the target, with its role */
	size_t nthreads;
};

/* What an output may ask of the session at any time. */
struct uvs_output_source {
	void *ctx;
	/*
	 * Fills *out with the figures of target `pid` since it was attached, as of its last
	 * interval. Returns 0, or -ESRCH for a pid that is not an attached target, or -errno.
	 */
	int (*totals)(void *ctx, int pid, struct uvs_snapshot *out);
};

struct uvs_output;

/* Every operation may be NULL: the output has nothing to do then. All return 0 or -errno. */
struct uvs_output_ops {
	const char *name;
	int (*begin)(struct uvs_output *o, const struct uvs_attach_info *a);
	int (*interval)(struct uvs_output *o, const struct uvs_snapshot *s);
	int (*alert)(struct uvs_output *o, const struct uvs_alert *a);
	int (*record)(struct uvs_output *o, const struct uvs_record *r);
	int (*summary)(struct uvs_output *o, const struct uvs_snapshot *s);
	int (*end)(struct uvs_output *o);
	void (*destroy)(struct uvs_output *o); /* releases what priv holds (not priv, not out) */
};

struct uvs_output {
	const struct uvs_output_ops *ops;
	FILE *out;                             /* NULL for an output that writes no file */
	bool owns_out;                         /* close out when the output goes */
	bool alerts_only;                      /* no intervals (serve: they are on /metrics) */
	const struct uvs_output_source *source; /* set by the session */
	void *priv;
};

#define UVS_MAX_OUTPUTS 4

struct uvs_outputs {
	size_t n;
	struct uvs_output *list[UVS_MAX_OUTPUTS];
	int failed; /* the first error an output returned (-EIO: its file is in error) */
};

/* Adds an output (taking ownership); -E2BIG when the list is full, -EINVAL for NULL. */
int uvs_outputs_add(struct uvs_outputs *l, struct uvs_output *o,
		    const struct uvs_output_source *source);

/* Each call goes to every output in the order they were added, then each FILE is flushed. */
void uvs_outputs_begin(struct uvs_outputs *l, const struct uvs_attach_info *a);
void uvs_outputs_interval(struct uvs_outputs *l, const struct uvs_snapshot *s);
void uvs_outputs_alert(struct uvs_outputs *l, const struct uvs_alert *a);
void uvs_outputs_record(struct uvs_outputs *l, const struct uvs_record *r);
void uvs_outputs_summary(struct uvs_outputs *l, const struct uvs_snapshot *s);
void uvs_outputs_end(struct uvs_outputs *l);

/* Destroys every output (closing the files it owns); safe on an empty list. */
void uvs_outputs_free(struct uvs_outputs *l);

/* A new output with zeroed private state of priv_size bytes; NULL and errno on failure. */
struct uvs_output *uvs_output_new(const struct uvs_output_ops *ops, FILE *out, size_t priv_size);

#endif
