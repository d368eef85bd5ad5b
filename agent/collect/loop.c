// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/loop.h"
#include "collect/proc_loop_find.h"
#include "loop.skel.h"
#include "target/memory.h"
#include "target/procfs.h"
#include "target/thread_roles.h"
#include "uvscope/epoll_sites.h"
#include "util/clock.h"
#include "util/log.h"

#define NR_EPOLL_WAIT 232
#define NR_EPOLL_PWAIT 281
#define NR_EPOLL_PWAIT2 441

/*
 * Makes room in a full table: an exited loop's entry goes (its last window was shown), the
 * one that exited first. Its figures leave the summary, which counts it (loops_left_out): a
 * process that starts a Worker per job must not fill the table for good after 64 of them.
 */
static bool evict_exited(struct uvs_loops *l)
{
	size_t i, oldest = l->nloops;

	for (i = 0; i < l->nloops; i++)
		if (l->loops[i]->exited &&
		    (oldest == l->nloops || l->loops[i]->exit_seq < l->loops[oldest]->exit_seq))
			oldest = i;
	if (oldest == l->nloops)
		return false;
	free(l->loops[oldest]->last);
	free(l->loops[oldest]);
	l->loops[oldest] = l->loops[--l->nloops];
	l->evicted++;
	return true;
}

static void mark_exited(struct uvs_loops *l, struct uvs_loop_track *lt)
{
	if (!lt->exited)
		lt->exit_seq = ++l->exits;
	lt->exited = true;
}

/*
 * The loop of thread tid that was seen exit last, if it still has its entry (a later thread
 * may reuse the tid).
 */
static struct uvs_loop_track *exited_track(const struct uvs_loops *l, int tid)
{
	struct uvs_loop_track *last = NULL;

	for (size_t i = 0; i < l->nloops; i++)
		if (l->loops[i]->tid == tid && l->loops[i]->exited &&
		    (!last || l->loops[i]->exit_seq > last->exit_seq))
			last = l->loops[i];
	return last;
}

/* The loop of live thread tid, if followed (an exited one keeps its entry for the summary). */
static struct uvs_loop_track *followed(const struct uvs_loops *l, int tid)
{
	for (size_t i = 0; i < l->nloops; i++)
		if (l->loops[i]->tid == tid && !l->loops[i]->exited)
			return l->loops[i];
	return NULL;
}

static struct uvs_loop_track *track(struct uvs_loops *l, int tid)
{
	struct uvs_loop_track *lt = followed(l, tid);

	/* A new thread may reuse an exited loop's tid: it gets an entry of its own. */
	if (lt)
		return lt;
	if (l->nloops == UVS_MAX_LOOPS && !evict_exited(l)) {
		if (!l->warned_full)
			uvs_warn("more than %d event loops at once: loop thread %d is not shown, nor "
				 "any other past %d while they all run (JSON: loops_left_out)",
				 UVS_MAX_LOOPS, tid, UVS_MAX_LOOPS);
		l->warned_full = true;
		return NULL;
	}
	lt = calloc(1, sizeof(*lt));
	if (!lt)
		return NULL;
	lt->tid = tid;
	lt->role = uvs_target_role(l->target, tid, &lt->role_known);
	l->loops[l->nloops++] = lt;
	return lt;
}

/*
 * The loop's copy of its thread's role, while the target may still place it: unknown, or read
 * as "other" (a later stack read or sample can prove a role then). Every figure of the loop
 * (blocks, alerts, windows) takes the role from here.
 */
static void refresh_role(struct uvs_loops *l, struct uvs_loop_track *lt)
{
	if (!lt->role_known || lt->role == UVS_ROLE_OTHER)
		lt->role = uvs_target_role(l->target, lt->tid, &lt->role_known);
}

/* A loop thread's role from its loop's libuv metrics, where no stack proved it (uvs_role_by_loop_metrics). */
static void place_by_metrics(struct uvs_loops *l, struct uvs_loop_track *lt, uint32_t metrics)
{
	refresh_role(l, lt);
	if (!uvs_role_by_loop_metrics(l->target, lt->tid, lt->role, lt->role_known,
				      metrics == UVS_LOOP_METRICS_ON))
		return;
	lt->role = UVS_ROLE_WORKER;
	lt->role_known = true;
	/* The thread's own figures (syscalls, stacks) say Worker from now too. */
	uvs_target_place_thread(l->target, lt->tid, UVS_ROLE_WORKER);
}

enum thread_at_attach {
	THREAD_BUSY,         /* running, or in a wait that is not its loop's */
	THREAD_IN_LOOP_WAIT, /* waiting in its loop's epoll */
	THREAD_IN_MAIN_WAIT, /* the main thread, in the main loop's epoll (its fd known) */
};

/*
 * What thread tid does now, from its /proc syscall file. A wait on another epoll fd than
 * main_epfd (the main loop's, -1 when unknown) is busy time: on the main thread that is another
 * loop (execSync's) run while the main loop is stuck. In a wait, *epfd and *sp are the wait's.
 */
static enum thread_at_attach at_attach(const struct uvs_target *t, int tid, int main_epfd,
				       uint64_t *epfd, uint64_t *sp)
{
	char path[96], text[512];
	uint64_t pc;
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)t->pid, tid);
	if (uvs_read_file(path, text, sizeof(text)) < 0 ||
	    uvs_parse_syscall_args(text, &nr, epfd, sp, &pc))
		return THREAD_BUSY;
	if (nr != NR_EPOLL_WAIT && nr != NR_EPOLL_PWAIT && nr != NR_EPOLL_PWAIT2)
		return THREAD_BUSY;
	if (tid != t->pid || main_epfd < 0)
		return THREAD_IN_LOOP_WAIT;
	return *epfd == (uint64_t)main_epfd ? THREAD_IN_MAIN_WAIT : THREAD_BUSY;
}

/*
 * A loop waiting at attach (the main loop, or a Worker's found on its stack), when its wait is
 * folded into the probe at uv__io_poll's entry (nothing sees the wait's return): the state that
 * entry just before that wait would have left (bpf/loop.bpf.c, fold_wait), from libuv's stamp
 * and idle time. False when they cannot be read or say no wait (a zero-timeout poll, metrics
 * off).
 */
static bool seed_folded(struct uvs_loops *l, struct uvs_loop_state *st, uint64_t loop,
			uint64_t lfields)
{
	struct uvs_mem_reader mem = uvs_mem_reader_pid(l->target->pid);
	uint64_t m[2];
	uint32_t flags;

	if (!l->probes.wait_folded || !lfields || !loop ||
	    uvs_mem_read_u32(&mem, lfields + UVS_UV_LFIELDS_FLAGS, &flags) ||
	    !(flags & 1) ||
	    uvs_mem_read_exact(&mem, lfields + UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME, m, sizeof(m)) ||
	    !m[0])
		return false;
	st->loop = loop;
	st->lfields = lfields;
	st->metrics = UVS_LOOP_METRICS_ON;
	st->busy_since = m[0] - 1; /* the stamp is after it: a wait in progress */
	st->idle_seen = m[1];
	st->folded = 1;
	return true;
}

/*
 * A loop thread whose state outlived it: the agent writes the state of a loop thread it finds
 * (at attach, or a Worker placed later), and one that exited just before the write has no
 * exit event to delete it, so it would read as busy, then blocked, for ever. Its state goes
 * once /proc says the thread is gone; its next reading then finds it exited. True if gone.
 */
static bool drop_if_gone(struct uvs_loops *l, int tid)
{
	__u32 key = (__u32)tid;

	if (uvs_thread_presence(l->target->pid, tid) != UVS_THREAD_GONE)
		return false;
	bpf_map_delete_elem(l->probes.state_fd, &key);
	return true;
}

/*
 * A Worker waiting in its loop's epoll at attach: its loop, found on its stack from the wait's
 * fd (collect/proc_loop_find.h), seeded as in that wait, so the rest of the wait and the work
 * after it count from the attach on. Left to BPF, which takes it at its next poll, it lost
 * them: a first window with 40-60% of its time missing, its utilization 0.002 for a Worker
 * busy 30% of the time. False when no loop with metrics is found (execSync's has none).
 */
static bool seed_worker_wait(struct uvs_loops *l, struct uvs_loop_state *st, uint64_t epfd,
			     uint64_t sp)
{
	struct uvs_mem_reader mem = uvs_mem_reader_pid(l->target->pid);
	uint64_t loop, lfields;

	if (epfd > 0x7fffffff ||
	    uvs_lm_find_on_stack(&mem, sp, UVS_LM_WORKER_STACK_SCAN, (int)epfd, &loop, &lfields))
		return false;
	st->epfd = (__s32)epfd;
	if (seed_folded(l, st, loop, lfields))
		return true;
	/* The wait's return is hooked (Node 18's libuv): marked as in it, as the main loop is. */
	if (l->probes.wait_folded)
		return false;
	st->in_wait = 1;
	st->wait_start = uvs_now_mono();
	return true;
}

/*
 * Seeds BPF's state of loop thread th as it is now: busy from now, or in its wait (the main
 * loop, or a Worker whose loop is found). A thread otherwise waiting in a loop's epoll is left
 * to BPF, which takes it at its next poll. BPF's own state wins where it saw the thread first
 * (NOEXIST). True when seeded.
 */
static bool seed_thread(struct uvs_loops *l, const struct uvs_thread *th, const char *when)
{
	struct uvs_target *t = l->target;
	struct uvs_loop_state st = { .epfd = -1, .phase = UVS_PHASE_NONE, .tgid = (__u32)t->pid };
	struct uvs_loop_track *lt;
	__u32 key = (__u32)th->tid;
	uint64_t epfd = 0, sp = 0;

	switch (at_attach(t, th->tid, l->probes.main_epfd, &epfd, &sp)) {
	case THREAD_IN_LOOP_WAIT:
		if (th->tid == t->pid || !seed_worker_wait(l, &st, epfd, sp))
			return false;
		break;
	case THREAD_IN_MAIN_WAIT:
		st.epfd = l->probes.main_epfd;
		if (seed_folded(l, &st, l->probes.main_loop, l->probes.main_lfields))
			break;
		st.in_wait = 1;
		st.wait_start = uvs_now_mono();
		break;
	case THREAD_BUSY:
		st.busy_since = uvs_now_mono();
		break;
	}
	memset(l->scratch, 0, sizeof(*l->scratch));
	if (bpf_map_update_elem(l->probes.stats_fd, &key, l->scratch, BPF_NOEXIST) ||
	    bpf_map_update_elem(l->probes.state_fd, &key, &st, BPF_NOEXIST))
		return false;
	/* Exited before the write: no exit event will come for it (after it, one does). */
	if (drop_if_gone(l, th->tid)) {
		bpf_map_delete_elem(l->probes.stats_fd, &key);
		return false;
	}
	uvs_debug("thread %d (%s) %s: %s", (int)th->tid, uvs_role_name(th->role), when,
		  st.in_wait || st.folded ? "waiting in its loop" : "busy, counted busy from now");
	lt = track(l, th->tid);
	/*
	 * A wait seeded from libuv's stamp began before the figures do (seed_folded): before the
	 * attach, or (a Worker placed later) before the window it is first shown in, which starts
	 * at the last window's end (the first window's start at attach).
	 */
	if (lt && st.folded && st.busy_since < l->last_mono)
		lt->idle_before_attach = l->last_mono - (st.busy_since + 1);
	if (lt && !st.folded && !st.in_wait)
		lt->seeded_busy_ns = st.busy_since;
	return true;
}

/*
 * Loop threads busy at attach count as busy from now, so a loop already blocked is seen. The
 * main loop waiting at attach is marked as in its wait, when its fd is known: BPF then takes
 * no return for the main loop's without an entry (it may be execSync's loop returning).
 */
static void seed(struct uvs_loops *l)
{
	struct uvs_target *t = l->target;
	size_t i;

	for (i = 0; i < t->nthreads; i++)
		if (t->threads[i].role == UVS_ROLE_MAIN || t->threads[i].role == UVS_ROLE_WORKER)
			seed_thread(l, &t->threads[i], "at attach");
}

/*
 * A Worker placed after attach (by a stack read in a syscall, or by a sample's stack) that is
 * still unknown to BPF has not come to its loop's poll since the hooks went in: it was busy at
 * attach and never returned (a script that spins, a Worker that takes tasks in Atomics.wait and
 * never yields to its loop), or it is still starting. Seeded busy from now, as at attach, so a
 * Worker blocked for ever is reported; one found in its epoll wait is left to BPF. Each window,
 * only for placed Workers not followed yet; not while the wait hooks are out (nothing would
 * follow the state).
 */
static void adopt_placed(struct uvs_loops *l)
{
	struct uvs_target *t = l->target;
	size_t i;

	if (l->probes.waits_out || l->end_mono)
		return;
	for (i = 0; i < t->nthreads; i++) {
		const struct uvs_thread *th = &t->threads[i];

		if (th->role_known && th->role == UVS_ROLE_WORKER && !followed(l, th->tid))
			seed_thread(l, th, "placed after attach, its loop not seen polling since");
	}
}

int uvs_loops_attach(struct uvs_loops *l, struct uvs_bpf_shared *sh, int slot,
		     struct uvs_target_cfg *cfg, struct uvs_target *t,
		     const struct uvs_loop_probe_options *o, const struct uvs_collect_sink *sink,
		     char *why, size_t cap)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->target = t;
	l->sink = sink;
	l->block_ns = o->block_ns;
	l->scratch = calloc(1, sizeof(*l->scratch));
	if (!l->scratch) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	err = uvs_loop_probes_attach(&l->probes, sh, slot, cfg, t, o, why, cap);
	if (err)
		return err;
	l->sh = sh;
	l->mem = uvs_mem_reader_pid(t->pid);
	l->layout = uvs_lm_layout_for(t->libuv_hex);
	uvs_bpf_shared_set_inst(sh, slot, UVS_OBJ_LOOP, l);
	l->start_mono = l->last_mono = uvs_now_mono();
	return 0;
}

void uvs_loops_start(struct uvs_loops *l)
{
	/*
	 * The programs count the process from its publication, just before this: the first
	 * window starts here, not at the loop object's attach, which the pool's, the stacks' and
	 * the sockets' attach follow (up to seconds on a big target).
	 */
	l->start_mono = l->last_mono = uvs_now_mono();
	seed(l);
}

void uvs_loops_mark_end(struct uvs_loops *l)
{
	if (!l->end_mono)
		l->end_mono = uvs_now_mono();
}

static int read_loop(struct uvs_loops *l, __u32 tid, struct uvs_loop_reading *r);

void uvs_loops_take_last(struct uvs_loops *l)
{
	for (size_t i = 0; i < l->nloops; i++) {
		struct uvs_loop_track *lt = l->loops[i];

		if (lt->exited || lt->mem.on || lt->last || l->probes.waits_out ||
		    !(lt->last = calloc(1, sizeof(*lt->last))))
			continue;
		lt->last->err = read_loop(l, (__u32)lt->tid, &lt->last->r);
		if (lt->last->err)
			continue;
		lt->last->stats = *lt->last->r.stats;
		lt->last->r.stats = &lt->last->stats;
	}
}

/* A loop's reading for a window: the one kept at the end (uvs_loops_take_last), or one now. */
static int reading_of(struct uvs_loops *l, const struct uvs_loop_track *lt,
		      struct uvs_loop_reading *r)
{
	if (!lt->last)
		return read_loop(l, (__u32)lt->tid, r);
	*r = lt->last->r;
	return lt->last->err;
}

void uvs_loops_quiesce(struct uvs_loops *l)
{
	uvs_loops_mark_end(l);
	uvs_loop_probes_quiesce(&l->probes);
}

/*
 * The maps are every target's: this one's entries leave with it, or the entries of threads
 * gone (and of a process that exited while watched) would pile up to the maps' size, after
 * which no new loop is measured, and a reused tid would find an old entry.
 */
static void forget_entries(struct uvs_loops *l)
{
	__u32 key, next;
	void *prev = NULL;
	struct uvs_loop_state st;

	for (size_t i = 0; i < l->nloops; i++) {
		key = (__u32)l->loops[i]->tid;
		bpf_map_delete_elem(l->probes.state_fd, &key);
		bpf_map_delete_elem(l->probes.stats_fd, &key);
	}
	/* Loop threads never tracked (the table full): their state names the process. */
	while (bpf_map_get_next_key(l->probes.state_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(l->probes.state_fd, &key, &st) == 0 &&
		    st.tgid == (__u32)l->target->pid) {
			bpf_map_delete_elem(l->probes.state_fd, &key);
			bpf_map_delete_elem(l->probes.stats_fd, &key);
			prev = NULL; /* deleting under the walk restarts it */
		}
	}
}

void uvs_loops_detach(struct uvs_loops *l)
{
	size_t i;

	/* Quiesced before (the programs no longer count it), while the maps are still open. */
	if (l->probes.state_fd > 0 && l->target)
		forget_entries(l);
	uvs_loop_probes_detach(&l->probes);
	for (i = 0; i < l->nloops; i++) {
		free(l->loops[i]->last);
		free(l->loops[i]);
	}
	free(l->scratch);
	l->nloops = 0;
	l->scratch = NULL;
}

int uvs_loops_state_map_fd(const struct uvs_loops *l)
{
	return l->probes.state_fd;
}

int uvs_loops_events_fd(const struct uvs_loops *l)
{
	return uvs_loop_probes_events_fd(&l->probes);
}

int uvs_loops_on_event(void *ctx, void *data, size_t len)
{
	const struct uvs_event *e = data;
	struct uvs_loop_track *lt;
	struct uvs_loops *l;

	if (len < sizeof(*e))
		return 0;
	/* The target the event is of; none when it was detached meanwhile. */
	l = uvs_bpf_shared_inst_of(ctx, (pid_t)e->tgid, UVS_OBJ_LOOP);
	if (!l)
		return 0;
	switch (e->type) {
	case UVS_EV_BLOCK_END: {
		struct uvs_block_end b = { .tid = (int)e->tid, .duration_ns = e->duration_ns,
					   .end_ns = e->ts_ns };

		lt = track(l, (int)e->tid);
		/* Seen by the hook as it went out: the metrics, which follow it now, say it. */
		if (lt && lt->mem.on)
			break;
		if (lt)
			refresh_role(l, lt);
		b.role = lt ? lt->role : UVS_ROLE_OTHER;
		b.since_attach = lt && lt->seeded_busy_ns &&
				 e->ts_ns - e->duration_ns == lt->seeded_busy_ns;
		if (l->sink->block_ended)
			l->sink->block_ended(l->sink->ctx, &b);
		break;
	}
	case UVS_EV_LOOP_SEEN:
		/* It waits in epoll now: the best moment to read its stack and learn its role. */
		uvs_target_learn_thread(l->target, (int)e->tid);
		lt = track(l, (int)e->tid);
		if (lt)
			refresh_role(l, lt);
		break;
	case UVS_EV_THREAD_EXIT:
		/*
		 * Tracked now if not yet (it may have lived between two windows): its last window
		 * shows what it did, and its statistics leave the map with it.
		 */
		uvs_debug("thread %u exited", e->tid);
		/*
		 * When a window saw it gone first its last window was shown, not tracked again;
		 * what its exit says of its role still places it (uvs_loops_window asks).
		 */
		lt = exited_track(l, (int)e->tid);
		if (!lt)
			lt = track(l, (int)e->tid);
		if (lt)
			place_by_metrics(l, lt, (uint32_t)e->duration_ns);
		break;
	case UVS_EV_NO_METRICS:
		/*
		 * Node turns the metrics on for the main loop and every Worker's; its own internal
		 * loop thread (delayed platform tasks) has none, and hooking every wait's entry
		 * for it would double what every loop pays. A main or Worker loop without them
		 * (a libuv program other than Node) gets the entries hooked. In Node a Worker's
		 * loop has them: one without on a Worker's thread is a second loop it runs
		 * (execSync's), which BPF drops for the Worker's own when that one polls.
		 */
		lt = track(l, (int)e->tid);
		if (lt)
			refresh_role(l, lt);
		if (lt && lt->role == UVS_ROLE_WORKER && l->target->node_version[0]) {
			uvs_debug("Worker thread %u ran a loop without libuv's metrics (execSync's?): "
				  "its own loop is followed when it polls", e->tid);
		} else if (lt && (lt->role == UVS_ROLE_MAIN || lt->role == UVS_ROLE_WORKER)) {
			uvs_loop_probes_hook_entries(&l->probes);
		} else {
			uvs_debug("loop thread %u (%s) has no libuv idle-time metrics: its busy time is "
				  "not measured", e->tid, lt ? uvs_role_name(lt->role) : "unknown");
		}
		break;
	}
	return 0;
}

int uvs_loops_trace_fd(const struct uvs_loops *l)
{
	return uvs_loop_probes_trace_fd(&l->probes);
}

int uvs_loops_trace_record(const void *data, size_t len, struct uvs_record *out)
{
	const struct uvs_trace_record *t = data;

	if (len < sizeof(*t) || t->end_ns < t->start_ns)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->pid = (int)t->tgid;
	switch (t->type) {
	case UVS_TRACE_ITERATION:
		out->kind = UVS_RECORD_ITERATION;
		out->iteration = (struct uvs_iteration_record){ .tid = (int)t->tid,
								.wait_start_ns = t->wait_start_ns,
								.busy_start_ns = t->start_ns,
								.busy_end_ns = t->end_ns };
		return 0;
	case UVS_TRACE_PHASE:
		if (t->phase >= UVS_PHASE_COUNT)
			return -EINVAL;
		out->kind = UVS_RECORD_PHASE;
		out->phase = (struct uvs_phase_record){ .tid = (int)t->tid,
							.phase = t->phase,
							.start_ns = t->start_ns,
							.end_ns = t->end_ns };
		return 0;
	}
	return -EINVAL;
}

int uvs_loops_on_trace(void *ctx, void *data, size_t len)
{
	struct uvs_loops *l;
	struct uvs_record r;

	if (uvs_loops_trace_record(data, len, &r))
		return 0;
	l = uvs_bpf_shared_inst_of(ctx, r.pid, UVS_OBJ_LOOP);
	if (l && l->sink->record)
		l->sink->record(l->sink->ctx, &r);
	return 0;
}

/* How long to let a loop thread finish libuv's update of its metrics before reading again. */
#define METRICS_LOCK_PAUSE_NS 200000ULL

/*
 * The state of loop thread tid, with a wait in progress made visible: when only the wait's
 * return is hooked (bpf/loop.bpf.c, wait_returned), the BPF state shows the loop busy since its
 * last return, and libuv's own stamp in the target says whether it has entered a wait since
 * (provider_entry_time, after busy_since). The state is read again after the stamp: a wait that
 * ended in between (libuv clears the stamp) must not make a long-gone busy span look current.
 * 0; -ENOENT when the thread has no state; -EAGAIN when libuv held the metrics' lock at every
 * try, *st then BPF's own state (good for a window's totals, not for saying the loop is busy).
 */
static int read_state(struct uvs_loops *l, __u32 tid, struct uvs_loop_state *st,
		      struct uvs_loop_state *raw)
{
	struct uvs_mem_reader mem = uvs_mem_reader_pid(l->target->pid);
	struct uvs_loop_state again;
	/* provider_entry_time, provider_idle_time and the lock's first word (epoll_sites.h) */
	struct {
		uint64_t entry, idle;
		int32_t lock;
	} m = { 0 };
	__u64 since;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		if (bpf_map_lookup_elem(l->probes.state_fd, &tid, st))
			return -ENOENT;
		*raw = *st;
		if (st->in_wait || !st->lfields || st->metrics != UVS_LOOP_METRICS_ON)
			return 0;
		if (uvs_mem_read_exact(&mem, st->lfields + UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME, &m,
				       UVS_UV_LFIELDS_METRICS_LOCK + sizeof(m.lock) -
					       UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME))
			return 0;
		/*
		 * libuv clears the stamp, then adds the wait to the idle time, under this lock: a
		 * loop thread stopped between the two (preempted, a vCPU the host took away) shows
		 * a long wait as busy time for as long as it stays there. Let it finish.
		 */
		if (m.lock) {
			if (tries < 3)
				uvs_sleep_ns(METRICS_LOCK_PAUSE_NS);
			continue;
		}
		if (bpf_map_lookup_elem(l->probes.state_fd, &tid, &again))
			return -ENOENT;
		if (again.busy_since != st->busy_since || again.idle_seen != st->idle_seen)
			continue;
		/* The same between two reads of ours, if the lock was taken and let go between. */
		if (st->folded && !m.entry && m.idle == st->idle_seen && tries < 3 &&
		    uvs_now_mono() - st->busy_since >= l->block_ns / 2)
			continue;
		if (uvs_loop_live(st, m.entry, m.idle, &since)) {
			st->in_wait = 1;
			st->wait_start = since;
		} else {
			st->busy_since = since;
		}
		return 0;
	}
	*st = *raw;
	return m.lock ? -EAGAIN : 0;
}

/*
 * A loop followed from libuv's metrics (the wait hooks are out): one reading now, a block that
 * ended said as BPF would. 0, or -errno when there is no reading (a thread that exited has no
 * BPF state left: uvs_thread_exit).
 */
static int mem_check(struct uvs_loops *l, struct uvs_loop_track *lt)
{
	struct uvs_loop_state st;
	struct uvs_lm_span span;
	__u32 key = (__u32)lt->tid;
	uint64_t since;
	int got = uvs_loop_mem_check(&lt->mem, &l->mem, &l->layout, l->block_ns, uvs_now_mono(),
				     &span);

	if (got == 1 && l->sink->block_ended) {
		struct uvs_block_end b = { .tid = lt->tid, .role = lt->role,
					   .duration_ns = span.end - span.start,
					   .end_ns = span.end };

		l->sink->block_ended(l->sink->ctx, &b);
	}
	if (got < 0 && bpf_map_lookup_elem(l->probes.state_fd, &key, &st))
		return -ESRCH;
	/*
	 * A thread that exited leaves its loop's memory as it was, busy for ever (glibc keeps the
	 * stacks of exited threads, a Worker's loop is on its stack): a long span is only a block
	 * while its thread lives, which its BPF state says (uvs_thread_exit deletes it).
	 */
	if (got >= 0 && uvs_loop_mem_busy(&lt->mem, &since) &&
	    lt->mem.track.last.now - since >= l->block_ns / 2 &&
	    bpf_map_lookup_elem(l->probes.state_fd, &key, &st))
		return -ESRCH;
	return got < 0 ? got : 0;
}

size_t uvs_loops_now(struct uvs_loops *l, struct uvs_loop_busy *out, size_t cap,
		     uint64_t *now_mono)
{
	size_t i, n = 0;

	*now_mono = uvs_now_mono();
	for (i = 0; i < l->nloops && n < cap; i++) {
		struct uvs_loop_track *lt = l->loops[i];
		struct uvs_loop_state st, raw;
		__u32 key = (__u32)lt->tid;
		uint64_t since;

		if (lt->exited)
			continue;
		/* The alert of a block takes its role from here: placed since, it says so. */
		refresh_role(l, lt);
		if (lt->mem.on) {
			bool busy;

			/* What the sampler and the alerts see of it, from libuv's own stamps. */
			if (mem_check(l, lt) == -ESRCH)
				continue;
			busy = uvs_loop_mem_busy(&lt->mem, &since);
			out[n++] = (struct uvs_loop_busy){ .tid = lt->tid, .role = lt->role,
							   .busy = busy, .busy_since_ns = since };
			continue;
		}
		if (l->probes.waits_out || read_state(l, key, &st, &raw))
			continue;
		/* Busy long enough to be a block: only while its thread lives (drop_if_gone). */
		if (!st.in_wait && st.busy_since && *now_mono > st.busy_since &&
		    *now_mono - st.busy_since >= l->block_ns / 2 && drop_if_gone(l, lt->tid))
			continue;
		out[n++] = (struct uvs_loop_busy){ .tid = lt->tid, .role = lt->role,
						   .busy = !st.in_wait,
						   .busy_since_ns = st.busy_since,
						   .since_attach = lt->seeded_busy_ns &&
								   st.busy_since == lt->seeded_busy_ns };
	}
	/* The metrics' readings were taken after the clock above: their starts are before now. */
	if (l->probes.waits_out)
		*now_mono = uvs_now_mono();
	return n;
}

/* Reads a loop's state and statistics as one consistent pair (the thread may move on). */
static int read_loop(struct uvs_loops *l, __u32 tid, struct uvs_loop_reading *r)
{
	struct uvs_loop_state st, again, raw;
	int tries, err;

	memset(r, 0, sizeof(*r));
	r->stats = l->scratch;
	for (tries = 0; tries < 4; tries++) {
		err = read_state(l, tid, &st, &raw);
		r->alive = err == 0 || err == -EAGAIN;
		if (bpf_map_lookup_elem(l->probes.stats_fd, &tid, l->scratch))
			return -ENOENT;
		if (!r->alive)
			return 0;
		if (bpf_map_lookup_elem(l->probes.state_fd, &tid, &again) == 0 &&
		    again.busy_since == raw.busy_since && again.wait_start == raw.wait_start &&
		    again.phase_start == raw.phase_start)
			break;
	}
	r->in_wait = st.in_wait;
	r->metrics = st.metrics;
	r->busy_since = st.busy_since;
	r->wait_start = st.wait_start;
	/*
	 * uvs_loop_live moved busy_since to the end of a wait BPF has not folded in yet. Once the
	 * programs stopped counting (end_mono), libuv's idle time read now also holds the waits
	 * since, which no window has: the wait is cut there.
	 */
	if (!st.in_wait && raw.folded && raw.busy_since && st.busy_since > raw.busy_since) {
		uint64_t end = l->end_mono && l->end_mono < st.busy_since ? l->end_mono :
									      st.busy_since;

		r->ended_idle_ns = end > raw.busy_since ? end - raw.busy_since : 0;
	}
	return 0;
}

/* The window of a loop followed from libuv's metrics; one that exited shows its last. */
static void mem_window(struct uvs_loops *l, struct uvs_loop_track *lt,
		       struct uvs_loop_snapshot *out)
{
	char comm[16];
	bool gone;
	int err, tries;

	/*
	 * A window ends at the last good reading: one refused now (libuv between its stores)
	 * would leave this window short and the next one long. Let libuv finish, as read_state.
	 */
	for (tries = 0; (err = mem_check(l, lt)) == -EAGAIN && tries < 3; tries++)
		uvs_sleep_ns(METRICS_LOCK_PAUSE_NS);
	gone = err == -ESRCH;

	memset(out, 0, sizeof(*out));
	out->tid = lt->tid;
	out->role = lt->role;
	uvs_target_thread_comm(l->target, lt->tid, comm, sizeof(comm));
	if (comm[0])
		memcpy(lt->comm, comm, sizeof(lt->comm));
	memcpy(out->comm, lt->comm, sizeof(out->comm));
	uvs_loop_mem_window(&lt->mem, l->block_ns, out);
	if (gone) {
		__u32 key = (__u32)lt->tid;

		out->blocked_now = false;
		lt->mem.on = false;
		mark_exited(l, lt);
		bpf_map_delete_elem(l->probes.stats_fd, &key);
	}
}

bool uvs_loops_waits_removable(const struct uvs_loops *l, char *why, size_t cap)
{
	if (!l->layout.known || !l->layout.has_count) {
		snprintf(why, cap, "libuv %s keeps no loop count (1.45 and later do): iterations, "
			 "and what putting the hooks back would cost, would be unknown",
			 l->target->libuv_version);
		return false;
	}
	return uvs_loop_probes_waits_removable(&l->probes, why, cap);
}

/* The hooks are out as of now: BPF's share of the window so far is kept, the metrics go on. */
static void hand_to_memory(struct uvs_loops *l, struct uvs_loop_track *lt, uint64_t now)
{
	struct uvs_loop_reading r;
	struct uvs_loop_state st;
	__u32 key = (__u32)lt->tid;
	struct uvs_loop_mem *m = &lt->mem;
	struct uvs_loop_snapshot part;
	int err;

	if (lt->exited || bpf_map_lookup_elem(l->probes.state_fd, &key, &st) ||
	    !st.lfields || st.metrics != UVS_LOOP_METRICS_ON) {
		uvs_debug("loop thread %d: its libuv metrics are not located: left out while the "
			  "wait hooks are out", lt->tid);
		return;
	}
	if (read_loop(l, key, &r) || !r.alive)
		return;
	uvs_loop_window(lt, &r, now, l->block_ns, false, lt->comm, &part);
	part.blocked_now = false;
	part.blocked_for_ns = 0;
	/* A part the metrics left (putting the hooks back failed) stays in the window too. */
	if (m->has_part)
		uvs_loop_mem_add_part(&m->part, &part);
	else
		m->part = part;
	m->has_part = true;
	err = uvs_loop_mem_begin(m, &l->mem, &l->layout, st.lfields,
				 !r.in_wait ? r.busy_since : 0, uvs_now_mono());
	if (err) {
		uvs_debug("loop thread %d: its libuv metrics do not read (%s): left out while the "
			  "wait hooks are out", lt->tid, strerror(-err));
		return;
	}
	/* Up to now BPF measured the span or wait in progress; it counts only when it ends. */
	if (!r.in_wait && r.busy_since && now > r.busy_since)
		m->carried_busy_ns += now - r.busy_since;
	if (r.in_wait && now > r.wait_start)
		m->carried_idle_ns += now - r.wait_start;
}

/*
 * The hooks are about to come back: a last reading, the metrics' share of the window kept,
 * and BPF's state of the loop set to what they said: busy since the span's start (a block in
 * progress keeps it), or in the wait stamped at E, as the return hook reads it (busy_since just
 * before E: libuv's stamp after it is the wait). The statistics BPF counts from here are taken
 * from here: the span or wait in progress, up to now, was the metrics'.
 */
static void hand_to_bpf(struct uvs_loops *l, struct uvs_loop_track *lt)
{
	struct uvs_loop_mem *m = &lt->mem;
	struct uvs_loop_state st;
	__u32 key = (__u32)lt->tid;
	uint64_t since = 0, t2, entry, idle_at, from, run_busy = 0, run_idle = 0;
	bool busy;

	if (!m->on)
		return;
	mem_check(l, lt);
	busy = uvs_loop_mem_busy(m, &since);
	t2 = m->track.last.now;
	entry = m->track.last.entry_ns;
	idle_at = m->track.last.idle_ns;
	from = m->track.start_mono;
	uvs_loop_mem_end(m, l->block_ns);
	if (bpf_map_lookup_elem(l->probes.state_fd, &key, &st) ||
	    bpf_map_lookup_elem(l->probes.stats_fd, &key, l->scratch))
		return;
	st.in_wait = 0;
	st.iter_busy = 0;
	st.empty_poll = 0;
	st.zero_timeout = 0;
	if (busy && since) {
		st.busy_since = since;
		run_busy = t2 > since ? t2 - since : 0;
		m->overlap_busy_ns += t2 > (since > from ? since : from) ?
					      t2 - (since > from ? since : from) : 0;
	} else if (!busy && entry > 1) {
		st.busy_since = entry - 1;
		st.wait_start = entry;
		run_idle = t2 > entry ? t2 - entry : 0;
		m->overlap_idle_ns += t2 > (entry > from ? entry : from) ?
					      t2 - (entry > from ? entry : from) : 0;
	} else {
		st.busy_since = 0; /* unknown until its next wait */
	}
	/*
	 * Default mode's uv__io_poll probe reads the waits (bpf/loop.bpf.c, fold_wait): the idle
	 * time libuv adds from this reading on is the waits it has not seen, each taken to begin
	 * at busy_since (a wait in progress, just before its stamp); a loop whose span is unknown
	 * starts afresh at its next entry.
	 */
	if (l->probes.poll_entry) {
		st.idle_seen = idle_at;
		st.folded = st.busy_since != 0;
		st.fold_no_wait = 0; /* the polls since the hooks went out are unknown */
	}
	if (bpf_map_update_elem(l->probes.state_fd, &key, &st, BPF_EXIST))
		return;
	memcpy(&lt->prev, l->scratch, sizeof(lt->prev));
	lt->prev_busy = l->scratch->busy_ns + run_busy;
	/* As uvs_loop_window counts it: the first window after lost the wait before attach. */
	lt->prev_idle = uvs_loop_idle_shown(lt, l->scratch->idle_ns + run_idle);
}

int uvs_loops_set_waits(struct uvs_loops *l, bool on, char *why, size_t cap)
{
	uint64_t now;
	size_t i;
	int err;

	if (on != l->probes.waits_out)
		return 0;
	if (!uvs_loops_waits_removable(l, why, cap))
		return -ENOENT;
	if (on) {
		/* State first: a hook that runs as they go in must find it as the metrics said. */
		for (i = 0; i < l->nloops; i++)
			hand_to_bpf(l, l->loops[i]);
		err = uvs_loop_probes_set_waits(&l->probes, true, why, cap);
		if (!err)
			return 0;
		/* They stay out: the metrics go on from here. */
		now = uvs_now_mono();
		for (i = 0; i < l->nloops; i++)
			hand_to_memory(l, l->loops[i], now);
		return err;
	}
	/*
	 * The metrics take over before the hooks go (that takes the kernel's grace period, tens of
	 * milliseconds, and iterations go on meanwhile): what BPF counts after this moment is not
	 * taken (hand_to_bpf starts from its statistics as they are then). Blocks that ended
	 * before are read first; one the hook sees end from now on is the metrics' to say.
	 */
	uvs_bpf_shared_poll(l->sh);
	now = uvs_now_mono();
	for (i = 0; i < l->nloops; i++)
		hand_to_memory(l, l->loops[i], now);
	err = uvs_loop_probes_set_waits(&l->probes, false, why, cap);
	if (err) {
		for (i = 0; i < l->nloops; i++)
			l->loops[i]->mem.on = false;
		return err;
	}
	return 0;
}

static void read_counters(struct uvs_loops *l, struct uvs_bpf_counters *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct uvs_bpf_counters *percpu;
	__u32 slot = (__u32)l->probes.slot;
	int i;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return;
	if (bpf_map_lookup_elem(l->probes.counters_fd, &slot, percpu) == 0) {
		for (i = 0; i < ncpu; i++) {
			sum->events += percpu[i].events;
			sum->ringbuf_drops += percpu[i].ringbuf_drops;
			sum->insert_failures += percpu[i].insert_failures;
		}
	}
	free(percpu);
}

/* Main loop first, then by thread id: a stable order for every output. */
static int loop_order(const void *a, const void *b)
{
	const struct uvs_loop_track *x = *(struct uvs_loop_track *const *)a;
	const struct uvs_loop_track *y = *(struct uvs_loop_track *const *)b;

	if ((x->role == UVS_ROLE_MAIN) != (y->role == UVS_ROLE_MAIN))
		return x->role == UVS_ROLE_MAIN ? -1 : 1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Whether loop thread tid is of this target (the map holds every target's loop threads). */
static bool ours(const struct uvs_loops *l, __u32 tid)
{
	struct uvs_loop_state st;
	size_t i;

	for (i = 0; i < l->nloops; i++)
		if (l->loops[i]->tid == (int)tid)
			return true;
	if (bpf_map_lookup_elem(l->probes.state_fd, &tid, &st) == 0)
		return st.tgid == (__u32)l->target->pid;
	/*
	 * Its state went with the thread: /proc says whose it was, while the process lives. Only a
	 * task /proc shows is ours: another target's loop must not be taken for one.
	 */
	return uvs_thread_presence(l->target->pid, (pid_t)tid) == UVS_THREAD_PRESENT;
}

/* Starts tracking every thread that has statistics in BPF (loops seen before we looked). */
static void discover(struct uvs_loops *l)
{
	__u32 key, next;
	void *prev = NULL;

	l->left_out = 0;
	while (bpf_map_get_next_key(l->probes.stats_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (ours(l, key) && !track(l, (int)key))
			l->left_out++;
	}
	qsort(l->loops, l->nloops, sizeof(l->loops[0]), loop_order);
}

/*
 * A loop whose thread exited between the window's read of the events and its read of the loop,
 * its role not proven by then, was shown as "other": the exit's event, which says whether the
 * loop had libuv's metrics on (so, in Node, whether it was a Worker's), was still in the ring.
 * Read once the walk over the loops is done (the events may add and evict loops), it places
 * them, and the window shows the role their exit proved.
 */
static void place_exited_shown(struct uvs_loops *l, struct uvs_snapshot *s)
{
	struct uvs_loop_track *lt;
	size_t k;

	uvs_bpf_shared_poll(l->sh);
	for (k = 0; k < s->nloops; k++) {
		if (s->loops[k].role != UVS_ROLE_OTHER)
			continue;
		lt = exited_track(l, s->loops[k].tid);
		if (lt && lt->role_known)
			s->loops[k].role = lt->role;
	}
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

void uvs_loops_window(struct uvs_loops *l, struct uvs_snapshot *s)
{
	struct uvs_bpf_counters counters;
	char comm[16];
	uint64_t now;
	size_t i;
	/*
	 * Phase figures only for a window the phase uprobes were in for all of: the overhead guard
	 * takes them out and puts them back between windows, and the window after they came back
	 * holds only part of its phases.
	 */
	bool phases = l->probes.phases && l->probes.phase_changes == l->phase_changes;
	bool unplaced_exits = false;

	l->phase_changes = l->probes.phase_changes;
	adopt_placed(l);
	discover(l);
	now = uvs_now_mono();
	/*
	 * The last window ends where the programs stopped counting (uvs_loops_mark_end), not
	 * after the probes came out: that takes a few hundred ms, which would show as a last
	 * window of zeros for a busy target.
	 */
	if (l->end_mono && l->end_mono < now)
		now = l->end_mono;
	s->pid = l->target->pid;
	s->ts_ns = uvs_now_real();
	s->window_ns = now > l->last_mono ? now - l->last_mono : 0;
	l->last_mono = now;
	s->nloops = 0;
	for (i = 0; i < l->nloops; i++) {
		struct uvs_loop_track *lt = l->loops[i];
		struct uvs_loop_reading r;
		__u32 key = (__u32)lt->tid;

		if (lt->exited)
			continue;
		refresh_role(l, lt);
		if (lt->mem.on) {
			mem_window(l, lt, &s->loops[s->nloops++]);
			continue;
		}
		/* Not followed while the hooks are out: BPF's state of it is as old as the step. */
		if (l->probes.waits_out)
			continue;
		/* A state that outlived its thread goes: this window is its last. */
		drop_if_gone(l, lt->tid);
		if (reading_of(l, lt, &r)) {
			/*
			 * No statistics, and no thread: nothing more will come (room for another).
			 * One never measured (its exit seen after its entry went) stays out of the
			 * summary too. A thread /proc cannot speak for is not called exited.
			 */
			if (uvs_thread_presence(l->target->pid, lt->tid) == UVS_THREAD_GONE) {
				mark_exited(l, lt);
				if (!lt->prev_busy && !lt->prev_idle && !lt->prev.iterations)
					lt->unmeasured = true;
			}
			continue;
		}
		/* Once its thread is gone its state is too: it stays as it was last seen. */
		if (r.alive) {
			lt->unmeasured = uvs_loop_unmeasured(&r);
			place_by_metrics(l, lt, r.metrics);
		} else if (!lt->prev_busy && !lt->prev_idle && !r.stats->iterations &&
			   !r.stats->busy_ns && !r.stats->idle_ns) {
			/* Gone having measured nothing (Node's own loop, first seen at its exit). */
			lt->unmeasured = true;
		}
		if (lt->unmeasured) {
			if (!r.alive) {
				mark_exited(l, lt);
				bpf_map_delete_elem(l->probes.stats_fd, &key);
			}
			continue;
		}
		uvs_target_thread_comm(l->target, lt->tid, comm, sizeof(comm));
		if (comm[0])
			memcpy(lt->comm, comm, sizeof(lt->comm));
		uvs_loop_window(lt, &r, now, l->block_ns, phases, lt->comm, &s->loops[s->nloops]);
		/* The hooks came back in this window: the metrics measured its first part. */
		if (lt->mem.has_part) {
			uvs_loop_mem_recount(&lt->mem, &l->mem, &l->layout, uvs_now_mono(),
					     &s->loops[s->nloops]);
			uvs_loop_mem_add_part(&s->loops[s->nloops], &lt->mem.part);
			lt->mem.has_part = false;
		}
		s->nloops++;
		if (!r.alive) {
			/* The thread exited: this was its last window. */
			mark_exited(l, lt);
			bpf_map_delete_elem(l->probes.stats_fd, &key);
			unplaced_exits |= !lt->role_known || lt->role == UVS_ROLE_OTHER;
		}
	}
	if (unplaced_exits)
		place_exited_shown(l, s);
	s->loops_left_out = l->left_out;
	read_counters(l, &counters);
	s->agent.events = delta(counters.events, l->prev_counters.events);
	s->agent.drops = delta(counters.ringbuf_drops, l->prev_counters.ringbuf_drops);
	s->agent.insert_failures = delta(counters.insert_failures,
					 l->prev_counters.insert_failures);
	l->prev_counters = counters;
}

void uvs_loops_totals(struct uvs_loops *l, struct uvs_snapshot *s)
{
	/* Phases that the guard took out for a while still count for the time they were in. */
	bool phases = l->probes.phases || l->probes.phase_changes;
	size_t i;

	s->pid = l->target->pid;
	s->ts_ns = uvs_now_real();
	s->window_ns = l->last_mono - l->start_mono;
	s->nloops = 0;
	for (i = 0; i < l->nloops && s->nloops < UVS_MAX_LOOPS; i++) {
		if (l->loops[i]->unmeasured)
			continue;
		uvs_loop_totals(l->loops[i], phases, l->loops[i]->comm, &s->loops[s->nloops]);
		s->loops[s->nloops].exited = l->loops[i]->exited;
		uvs_loop_mem_totals(&l->loops[i]->mem, &s->loops[s->nloops++]);
	}
	s->loops_left_out = l->evicted + l->left_out;
	s->agent.events = l->prev_counters.events;
	s->agent.drops = l->prev_counters.ringbuf_drops;
	s->agent.insert_failures = l->prev_counters.insert_failures;
}
