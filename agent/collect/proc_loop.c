// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collect/proc_loop.h"
#include "target/default_loop.h"
#include "target/procfs.h"
#include "util/clock.h"
#include "util/log.h"

#define NR_EPOLL_WAIT 232
#define NR_EPOLL_PWAIT 281
#define NR_EPOLL_PWAIT2 441

/* Waits a thread is searched in before it is taken for a loop of another kind. */
#define MAX_TRIES 3
/*
 * Looks in a row (one a window) that find a thread placed in Worker::Run out of its epoll wait
 * before its state is sampled instead: its loop cannot be found without a wait, and one that
 * never waits (stuck before attach, or a task pool that takes tasks in Atomics.wait) would
 * otherwise never be shown. A busy Worker that does wait is found by then, and keeps the
 * metrics.
 */
#define STUCK_LOOKS 3
/*
 * Grabs asked to place one thread that runs outside any syscall: one that did not stop in
 * time (busy CPUs: it waits for one to take the interrupt) is asked again STUCK_LOOKS looks
 * later, this many times in all.
 */
#define PLACE_TRIES 3
/*
 * Without the metrics, a loop thread's /proc syscall file is read at most this often (200 Hz:
 * a few microseconds of the agent's time each, nothing of the target's).
 */
#define SAMPLE_PERIOD_NS 5000000ULL

/* A loop is given up only once /proc says its thread is gone, not when /proc cannot say. */
static bool thread_alive(const struct uvs_target *t, int tid)
{
	return uvs_thread_presence(t->pid, tid) != UVS_THREAD_GONE;
}

/* A loop whose thread is gone and whose last window was shown (or that never had one). */
static bool shown_last(const struct uvs_proc_loop *p)
{
	if (!p->gone)
		return false;
	if (p->sampled)
		return !p->strack.seen || p->strack.win_mono == p->strack.last;
	return !p->track.seen || p->track.win_mono == p->track.last.now;
}

static struct uvs_proc_loop *add_loop(struct uvs_proc_loops *l, int tid, enum uvs_role role,
				      uint64_t loop, uint64_t lfields, int epfd)
{
	struct uvs_proc_loop *p = NULL;
	size_t i;

	if (l->n < UVS_MAX_LOOPS)
		p = &l->loops[l->n++];
	/* Full: a loop gone whose last window was shown makes room (the summary counts it). */
	for (i = 0; !p && i < l->n; i++)
		if (shown_last(&l->loops[i]))
			p = &l->loops[i];
	if (!p)
		return NULL;
	if (p->tid)
		l->evicted++;
	*p = (struct uvs_proc_loop){ .tid = tid, .role = role, .loop = loop, .lfields = lfields,
				     .epfd = epfd };
	uvs_read_thread_comm(l->target->pid, tid, p->comm, sizeof(p->comm));
	uvs_debug("pid %d: %s loop of thread %d at 0x%llx, its metrics at 0x%llx (epoll fd %d)",
		  (int)l->target->pid, uvs_role_name(role), tid, (unsigned long long)loop,
		  (unsigned long long)lfields, epfd);
	return p;
}

static bool followed(const struct uvs_proc_loops *l, int tid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->loops[i].tid == tid && !l->loops[i].gone)
			return true;
	return false;
}

/* Whether tid is among the threads the last refresh listed. */
static bool listed(const struct uvs_target *t, int tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return true;
	return false;
}

/*
 * Forgets the threads tried that are gone (no longer listed): after hundreds of short-lived
 * Workers the table would hold only the dead, and no new thread would ever be looked at.
 */
static void forget_gone(struct uvs_proc_loops *l)
{
	size_t kept = 0;

	for (size_t i = 0; i < l->ntried; i++)
		if (listed(l->target, l->tried[i].tid))
			l->tried[kept++] = l->tried[i];
	l->ntried = kept;
}

static struct uvs_proc_tried *tried_of(struct uvs_proc_loops *l, int tid)
{
	size_t i;

	for (i = 0; i < l->ntried; i++)
		if (l->tried[i].tid == tid)
			return &l->tried[i];
	if (l->ntried == UVS_PROC_TRIED)
		forget_gone(l);
	if (l->ntried == UVS_PROC_TRIED)
		return NULL;
	l->tried[l->ntried] = (struct uvs_proc_tried){ .tid = tid };
	return &l->tried[l->ntried++];
}

/* The epoll fd thread tid waits on now and its stack pointer; -EAGAIN when not in a wait. */
static int epoll_wait_of(const struct uvs_target *t, int tid, int *epfd, uint64_t *sp)
{
	char path[96], text[512];
	uint64_t pc, fd;
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)t->pid, tid);
	if (uvs_read_file(path, text, sizeof(text)) < 0 ||
	    uvs_parse_syscall_args(text, &nr, &fd, sp, &pc))
		return -EAGAIN;
	if ((nr != NR_EPOLL_WAIT && nr != NR_EPOLL_PWAIT && nr != NR_EPOLL_PWAIT2) ||
	    fd > 0x7fffffff)
		return -EAGAIN;
	*epfd = (int)fd;
	return 0;
}

/*
 * A thread whose role no read in a syscall told (classify_unknown reads every thread found in
 * one), out of its wait at STUCK_LOOKS looks in a row: it never makes a syscall (a Worker
 * spinning since before attach), and only a grab of its stack while it runs places it. Asked
 * once (uvs_proc_loops_to_place).
 */
static void ask_placing(struct uvs_proc_tried *tr)
{
	if (tr->place_done || tr->place_tries >= PLACE_TRIES ||
	    (tr->place_tries && tr->busy_looks < tr->asked_at_look + STUCK_LOOKS))
		return;
	tr->wants_placing = true;
}

/*
 * A Worker's loop: its thread waiting in epoll says on which fd, and the loop with that
 * backend_fd sits in Worker::Run's frame on the same stack. Threads of other roles run no
 * loop with metrics (the pool, V8's platform) or one Node does not measure (its own timer
 * loop, the inspector's): those that are placed are not searched.
 */
static void find_worker(struct uvs_proc_loops *l, const struct uvs_thread *th)
{
	struct uvs_proc_tried *tr;
	uint64_t sp, loop, lfields;
	int epfd;

	if (th->tid == l->target->pid || followed(l, th->tid) ||
	    (th->role_known && th->role != UVS_ROLE_WORKER))
		return;
	tr = tried_of(l, th->tid);
	if (!tr || tr->tries >= MAX_TRIES)
		return;
	if (epoll_wait_of(l->target, th->tid, &epfd, &sp)) {
		struct uvs_proc_loop *p;

		if (++tr->busy_looks < STUCK_LOOKS)
			return;
		if (!th->role_known) {
			ask_placing(tr);
			return;
		}
		tr->tries = MAX_TRIES;
		p = add_loop(l, th->tid, UVS_ROLE_WORKER, 0, 0, -1);
		if (p) {
			p->sampled = true;
			uvs_debug("pid %d: Worker thread %d not in its loop's wait at %d looks: its "
				  "state sampled", (int)l->target->pid, th->tid, STUCK_LOOKS);
		}
		return;
	}
	tr->busy_looks = 0;
	tr->tries++;
	if (uvs_lm_find_on_stack(&l->mem, sp, UVS_LM_WORKER_STACK_SCAN, epfd, &loop, &lfields))
		return;
	tr->tries = MAX_TRIES; /* found: not searched again if it goes */
	add_loop(l, th->tid, UVS_ROLE_WORKER, loop, lfields, epfd);
}

/* Without the metrics, a Worker is any thread placed in Worker::Run: its state is sampled. */
static void sample_worker(struct uvs_proc_loops *l, const struct uvs_thread *th)
{
	struct uvs_proc_loop *p;
	struct uvs_proc_tried *tr;

	if (th->tid == l->target->pid || followed(l, th->tid))
		return;
	if (!th->role_known) {
		tr = tried_of(l, th->tid);
		if (tr && ++tr->busy_looks >= STUCK_LOOKS)
			ask_placing(tr);
		return;
	}
	if (th->role != UVS_ROLE_WORKER)
		return;
	p = add_loop(l, th->tid, UVS_ROLE_WORKER, 0, 0, -1);
	if (p)
		p->sampled = true;
}

size_t uvs_proc_loops_to_place(struct uvs_proc_loops *l, int *tids, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < l->ntried && n < cap; i++) {
		struct uvs_proc_tried *tr = &l->tried[i];

		if (!tr->wants_placing)
			continue;
		tr->wants_placing = false;
		tr->place_tries++;
		tr->asked_at_look = tr->busy_looks;
		tids[n++] = tr->tid;
	}
	return n;
}

void uvs_proc_loops_place_settled(struct uvs_proc_loops *l, int tid)
{
	for (size_t i = 0; i < l->ntried; i++)
		if (l->tried[i].tid == tid)
			l->tried[i].place_done = true;
}

void uvs_proc_loops_find(struct uvs_proc_loops *l)
{
	for (size_t i = 0; i < l->target->nthreads; i++) {
		if (l->sampled)
			sample_worker(l, &l->target->threads[i]);
		else
			find_worker(l, &l->target->threads[i]);
	}
}

/* The metrics cannot be read: the main thread (and Workers) are sampled instead. */
static int fall_back_to_samples(struct uvs_proc_loops *l)
{
	struct uvs_proc_loop *p = add_loop(l, l->target->pid, UVS_ROLE_MAIN, 0, 0, -1);

	if (!p)
		return -ENOMEM;
	p->sampled = true;
	l->sampled = true;
	l->available = true;
	uvs_proc_loops_find(l);
	return 0;
}

int uvs_proc_loops_attach(struct uvs_proc_loops *l, struct uvs_target *t, uint64_t block_ns,
			  const struct uvs_collect_sink *sink)
{
	struct uvs_default_loop dl;
	struct uvs_lm_reading r;
	uint32_t flags;
	int err;

	memset(l, 0, sizeof(*l));
	l->target = t;
	l->sink = sink;
	l->block_ns = block_ns;
	l->mem = uvs_mem_reader_pid(t->pid);
	l->layout = uvs_lm_layout_for(t->libuv_hex);
	if (!l->layout.known) {
		snprintf(l->why, sizeof(l->why), "libuv %s keeps its loop metrics where this "
			 "uvscope does not know (1.44 and later are known)", t->libuv_version);
		return fall_back_to_samples(l);
	}
	err = uvs_default_loop_read(t, &dl);
	if (err == -ENOENT) {
		snprintf(l->why, sizeof(l->why), "%s has no symbol default_loop_struct (stripped): "
			 "libuv's loop metrics cannot be found", t->uv.path);
		return fall_back_to_samples(l);
	}
	/* Whatever keeps the metrics from us, the loop threads' state can still be sampled. */
	if (err) {
		snprintf(l->why, sizeof(l->why), "cannot read the default loop: %s", strerror(-err));
		return fall_back_to_samples(l);
	}
	if (uvs_mem_read_u32(&l->mem, dl.internal_fields, &flags) || !(flags & 1)) {
		snprintf(l->why, sizeof(l->why), "the default loop's idle-time metrics are off "
			 "(a libuv program that is not Node.js?)");
		return fall_back_to_samples(l);
	}
	err = uvs_lm_read(&l->mem, &l->layout, dl.internal_fields, uvs_now_mono(), &r);
	if (err) {
		snprintf(l->why, sizeof(l->why), "the default loop's metrics do not read as such: %s",
			 strerror(-err));
		return fall_back_to_samples(l);
	}
	add_loop(l, t->pid, UVS_ROLE_MAIN, dl.addr, dl.internal_fields, dl.epfd);
	l->available = true;
	uvs_proc_loops_find(l);
	return 0;
}

/* A loop whose metrics no longer read: its thread went, or it was caught mid-update. */
static void read_failed(struct uvs_proc_loops *l, struct uvs_proc_loop *p)
{
	if (!thread_alive(l->target, p->tid))
		p->gone = true;
	else
		l->read_failures++;
}

static void block_ended(struct uvs_proc_loops *l, const struct uvs_proc_loop *p,
			const struct uvs_lm_span *sp)
{
	struct uvs_block_end b = { .tid = p->tid, .role = p->role,
				   .duration_ns = sp->end - sp->start, .end_ns = sp->end };

	if (l->sink && l->sink->block_ended)
		l->sink->block_ended(l->sink->ctx, &b);
}

/*
 * One sample of a loop thread without the metrics: in its epoll wait it is idle, anywhere else
 * (running, or in another syscall: a futex of Atomics.wait, a read) busy. At most one sample
 * per SAMPLE_PERIOD_NS; in between it is as the last one said. 0, or -ESRCH when it is gone.
 */
static int sample(struct uvs_proc_loops *l, struct uvs_proc_loop *p, uint64_t *since,
		  bool *busy)
{
	uint64_t now = uvs_now_mono(), sp;
	struct uvs_lm_span span;
	int epfd;

	if (now >= p->next_sample) {
		bool in_wait = epoll_wait_of(l->target, p->tid, &epfd, &sp) == 0;

		if (!in_wait && !thread_alive(l->target, p->tid))
			return -ESRCH;
		p->next_sample = now + SAMPLE_PERIOD_NS;
		if (uvs_ls_step(&p->strack, now, in_wait, l->block_ns, &span))
			block_ended(l, p, &span);
	}
	*busy = p->strack.seen && p->strack.busy;
	*since = p->strack.busy_since;
	return 0;
}

size_t uvs_proc_loops_check(struct uvs_proc_loops *l, struct uvs_loop_busy *out, size_t cap,
			    uint64_t *now_mono)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++) {
		struct uvs_proc_loop *p = &l->loops[i];
		struct uvs_lm_reading r;
		struct uvs_lm_span span;
		uint64_t since;
		bool busy;

		if (p->gone)
			continue;
		if (p->sampled) {
			if (sample(l, p, &since, &busy))
				p->gone = true;
			else if (busy && n < cap)
				out[n++] = (struct uvs_loop_busy){ .tid = p->tid, .role = p->role,
								   .busy = true,
								   .busy_since_ns = since };
			continue;
		}
		/*
		 * The loop must still be the one found (a Worker's loop is closed when it exits, and
		 * its stack reused), and each reading must be able to follow the last.
		 */
		if (!uvs_lm_still_loop(&l->mem, p->loop, p->lfields, p->epfd)) {
			uvs_debug("thread %d: the loop at 0x%llx no longer reads as the loop found: "
				  "closed", p->tid, (unsigned long long)p->loop);
			p->gone = true; /* closed: a thread runs one loop, and this one ended */
			continue;
		}
		if (uvs_lm_read(&l->mem, &l->layout, p->lfields, uvs_now_mono(), &r) ||
		    (p->track.seen && !uvs_lm_plausible(&p->track.last, &r))) {
			uvs_debug("thread %d: a reading of its loop's metrics does not follow the last",
				  p->tid);
			read_failed(l, p);
			continue;
		}
		if (uvs_lm_step(&p->track, &r, l->block_ns, &span))
			block_ended(l, p, &span);
		if (!uvs_lm_busy(&p->track, &since) || n == cap)
			continue;
		/*
		 * A thread that exited leaves its loop's memory as it was, busy for ever (glibc
		 * keeps the stacks of exited threads): a long span is only a block while its
		 * thread lives.
		 */
		if (r.now - since >= l->block_ns / 2 && !thread_alive(l->target, p->tid)) {
			p->gone = true;
			continue;
		}
		out[n++] = (struct uvs_loop_busy){ .tid = p->tid, .role = p->role, .busy = true,
						   .busy_since_ns = since };
	}
	*now_mono = uvs_now_mono();
	return n;
}

static void head(const struct uvs_proc_loop *p, struct uvs_loop_snapshot *ls)
{
	memset(ls, 0, sizeof(*ls));
	ls->tid = p->tid;
	ls->role = p->role;
	memcpy(ls->comm, p->comm, sizeof(ls->comm));
}

void uvs_proc_loops_window(struct uvs_proc_loops *l, struct uvs_snapshot *s)
{
	size_t i;

	for (i = 0; i < l->n && s->nloops < UVS_MAX_LOOPS; i++) {
		struct uvs_proc_loop *p = &l->loops[i];
		struct uvs_loop_snapshot *ls;

		/* A loop gone before this window has shown its last one. */
		if ((p->sampled ? !p->strack.seen : !p->track.seen) || shown_last(p))
			continue;
		ls = &s->loops[s->nloops++];
		head(p, ls);
		if (p->sampled)
			uvs_ls_window(&p->strack, l->block_ns, ls);
		else
			uvs_lm_window(&p->track, l->layout.has_count, l->block_ns, ls);
		if (p->gone)
			ls->blocked_now = false;
		p->last_blocked_now = ls->blocked_now;
		p->last_blocked_for_ns = ls->blocked_now ? ls->blocked_for_ns : 0;
	}
}

void uvs_proc_loops_totals(struct uvs_proc_loops *l, struct uvs_snapshot *s)
{
	size_t i;

	s->loops_left_out = l->evicted;
	for (i = 0; i < l->n && s->nloops < UVS_MAX_LOOPS; i++) {
		struct uvs_proc_loop *p = &l->loops[i];

		if (p->sampled ? !p->strack.seen : !p->track.seen)
			continue;
		head(p, &s->loops[s->nloops]);
		if (p->sampled)
			uvs_ls_totals(&p->strack, &s->loops[s->nloops]);
		else
			uvs_lm_totals(&p->track, l->layout.has_count, &s->loops[s->nloops]);
		s->loops[s->nloops].blocked_now = p->last_blocked_now;
		s->loops[s->nloops].exited = p->gone;
		s->loops[s->nloops++].blocked_for_ns = p->last_blocked_for_ns;
	}
}
