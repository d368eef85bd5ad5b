/* SPDX-License-Identifier: MIT */
/*
 * The event loops of a target without BPF: the default loop (libuv's `default_loop_struct`)
 * and each Worker's (found on the Worker thread's stack from the epoll fd it waits on, per
 * /proc/PID/task/TID/syscall), their libuv metrics read with process_vm_readv at every block
 * check, and the busy spans, blocks and window figures made of them (collect/proc_loop_math.h).
 * Stops nothing and writes nothing in the target.
 */
#ifndef UVSCOPE_PROC_LOOP_H
#define UVSCOPE_PROC_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/collector.h"
#include "collect/proc_loop_find.h"
#include "collect/proc_loop_math.h"
#include "core/alerts.h"
#include "core/snapshot.h"
#include "target/memory.h"
#include "target/process.h"

struct uvs_proc_loop {
	int tid;
	enum uvs_role role;
	char comm[16];
	uint64_t loop;       /* the uv_loop_t in the target */
	uint64_t lfields;    /* its internal fields, where the metrics are */
	int epfd;
	bool gone;           /* its thread exited: its figures are final */
	struct uvs_lm_track track;
	/* Without the metrics: the thread's state sampled (uvs_ls_track), not faster than this. */
	bool sampled;
	uint64_t next_sample;
	struct uvs_ls_track strack;
	/* Blocked at the end of its last window, and for how long: the summary says it too. */
	bool last_blocked_now;
	uint64_t last_blocked_for_ns;
};

/* Threads looked at for a Worker's loop that had none, so they are not searched forever. */
#define UVS_PROC_TRIED 128

struct uvs_proc_tried {
	int tid;
	unsigned int tries;
	unsigned int busy_looks; /* looks in a row that found it out of its epoll wait */
	/* Never read in a syscall by STUCK_LOOKS looks: a grab is asked to place it. */
	bool wants_placing;      /* asked, not taken yet (uvs_proc_loops_to_place) */
	unsigned int place_tries;   /* grabs handed out for it */
	unsigned int asked_at_look; /* its busy_looks when the last one was */
	bool place_done;         /* placed, or no grab can (uvs_proc_loops_place_settled) */
};

struct uvs_proc_loops {
	struct uvs_target *target;
	struct uvs_mem_reader mem;
	struct uvs_lm_layout layout;
	const struct uvs_collect_sink *sink;
	uint64_t block_ns;
	bool available;          /* some loop is followed */
	bool sampled;            /* ... from samples of its thread's state, not libuv's metrics */
	char why[300];           /* why the metrics are unavailable (then sampled), when they are */
	size_t n;
	struct uvs_proc_loop loops[UVS_MAX_LOOPS];
	uint64_t evicted;        /* loops gone and shown, whose slot a new loop took */
	size_t ntried;
	struct uvs_proc_tried tried[UVS_PROC_TRIED];
	uint64_t read_failures;  /* readings that did not validate (counted, then retried) */
};

/*
 * Finds the target's loops (the default loop, and the Workers waiting in their loops now;
 * later ones at each window). Where libuv's metrics cannot be had (a stripped build, a libuv
 * we do not know, metrics off, a default loop not set up yet), the main and Worker threads
 * are sampled instead (l->sampled, l->why says why). 0, or -ENOMEM.
 */
int uvs_proc_loops_attach(struct uvs_proc_loops *l, struct uvs_target *t, uint64_t block_ns,
			  const struct uvs_collect_sink *sink);

/* Looks for the loops of Worker threads not followed yet (once per window). */
void uvs_proc_loops_find(struct uvs_proc_loops *l);

/*
 * Threads whose role no read in a syscall could tell, found out of any wait at STUCK_LOOKS
 * looks in a row (a Worker spinning in JavaScript since before attach never makes a syscall):
 * their tids into tids (at most cap; the rest come next time). The caller places them from a
 * stack taken while they run (uvs_proc_block_stacks_role, uvs_target_place_thread) and says
 * when that is settled (placed, or no grab can: uvs_proc_loops_place_settled); one not settled
 * is handed out again a few looks later, a few times at most. The next uvs_proc_loops_find
 * follows a Worker placed so. Returns how many.
 */
size_t uvs_proc_loops_to_place(struct uvs_proc_loops *l, int *tids, size_t cap);
void uvs_proc_loops_place_settled(struct uvs_proc_loops *l, int tid);

/*
 * Reads every loop's metrics now: blocks that ended go to the sink. The loops busy now, and
 * since when, go to out (at most cap; returns how many).
 */
size_t uvs_proc_loops_check(struct uvs_proc_loops *l, struct uvs_loop_busy *out, size_t cap,
			    uint64_t *now_mono);

/* The window since the last one (after a check), and the session's totals. */
void uvs_proc_loops_window(struct uvs_proc_loops *l, struct uvs_snapshot *s);
void uvs_proc_loops_totals(struct uvs_proc_loops *l, struct uvs_snapshot *s);

#endif
