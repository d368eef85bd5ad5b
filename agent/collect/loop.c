// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/loop.h"
#include "util/hist_math.h"
#include "util/log.h"

#define NR_EPOLL_WAIT 232
#define NR_EPOLL_PWAIT 281
#define NR_EPOLL_PWAIT2 441

/* The "before" of a loop's first window and of the session summary. */
static const struct uvs_loop_stats no_stats;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t uvs_now_mono(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t uvs_now_real(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t uvs_mono_to_real(uint64_t mono_ns)
{
	uint64_t now_mono = uvs_now_mono(), now_real = uvs_now_real();

	/* An event is never from the future; clamp rather than wrap on a clock oddity. */
	return mono_ns <= now_mono ? now_real - (now_mono - mono_ns) : now_real;
}

int uvs_collector_init(struct uvs_collector *c, struct uvs_target *t, const struct uvs_probes *p,
		       uint64_t block_ns)
{
	memset(c, 0, sizeof(*c));
	c->target = t;
	c->probes = p;
	c->block_ns = block_ns;
	c->start_mono = c->last_mono = uvs_now_mono();
	c->scratch = calloc(1, sizeof(*c->scratch));
	return c->scratch ? 0 : -ENOMEM;
}

void uvs_collector_free(struct uvs_collector *c)
{
	size_t i;

	for (i = 0; i < c->nloops; i++)
		free(c->loops[i]);
	free(c->scratch);
	memset(c, 0, sizeof(*c));
}

static struct uvs_loop_track *track(struct uvs_collector *c, pid_t tid)
{
	struct uvs_loop_track *l;
	size_t i;

	/* An exited loop keeps its entry for the summary; a new thread may reuse its tid. */
	for (i = 0; i < c->nloops; i++)
		if (c->loops[i]->tid == tid && !c->loops[i]->exited)
			return c->loops[i];
	if (c->nloops == UVS_MAX_LOOPS) {
		if (!c->warned_full)
			uvs_warn("more than %d event loops: thread %d and later ones are not shown",
				 UVS_MAX_LOOPS, (int)tid);
		c->warned_full = true;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->tid = tid;
	l->role = uvs_target_role(c->target, tid, &l->role_known);
	c->loops[c->nloops++] = l;
	return l;
}

void uvs_collector_loop_seen(struct uvs_collector *c, pid_t tid)
{
	struct uvs_loop_track *l = track(c, tid);

	if (l && !l->role_known)
		l->role = uvs_target_role(c->target, tid, &l->role_known);
}

static bool in_epoll(const struct uvs_target *t, pid_t tid)
{
	char path[96], text[512];
	uint64_t sp, pc;
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)t->pid, (int)tid);
	if (uvs_read_file(path, text, sizeof(text)) < 0 ||
	    uvs_parse_syscall_file(text, &nr, &sp, &pc))
		return false;
	return nr == NR_EPOLL_WAIT || nr == NR_EPOLL_PWAIT || nr == NR_EPOLL_PWAIT2;
}

void uvs_collector_seed(struct uvs_collector *c)
{
	struct uvs_target *t = c->target;
	size_t i;

	for (i = 0; i < t->nthreads; i++) {
		const struct uvs_thread *th = &t->threads[i];
		struct uvs_loop_state st = { .epfd = -1, .phase = UVS_PHASE_NONE };
		__u32 key = (__u32)th->tid;

		if (th->role != UVS_ROLE_MAIN && th->role != UVS_ROLE_WORKER)
			continue;
		if (in_epoll(t, th->tid))
			continue;
		st.busy_since = uvs_now_mono();
		memset(c->scratch, 0, sizeof(*c->scratch));
		/* NOEXIST: if BPF saw the thread first, it knows better. */
		if (bpf_map_update_elem(c->probes->stats_fd, &key, c->scratch, BPF_NOEXIST) == 0 &&
		    bpf_map_update_elem(c->probes->state_fd, &key, &st, BPF_NOEXIST) == 0) {
			uvs_debug("thread %d (%s) is busy at attach: counting it busy from now",
				  (int)th->tid, uvs_role_name(th->role));
			track(c, th->tid);
		}
	}
}

/* Reads a loop's state and statistics as one consistent pair (the thread may move on). */
static int read_loop(struct uvs_collector *c, __u32 tid, struct uvs_loop_state *st, bool *alive)
{
	struct uvs_loop_state again;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		*alive = bpf_map_lookup_elem(c->probes->state_fd, &tid, st) == 0;
		if (bpf_map_lookup_elem(c->probes->stats_fd, &tid, c->scratch))
			return -ENOENT;
		if (!*alive)
			return 0;
		if (bpf_map_lookup_elem(c->probes->state_fd, &tid, &again) == 0 &&
		    again.busy_since == st->busy_since && again.wait_start == st->wait_start &&
		    again.phase_start == st->phase_start)
			return 0;
	}
	return 0;
}

/* Largest value the delta histogram can hold, for a window that set no new record. */
static uint64_t window_max(const struct uvs_hist *delta, uint64_t record, uint64_t prev_record)
{
	int i;

	if (record > prev_record)
		return record;
	for (i = UVS_HIST_BUCKETS - 1; i >= 0; i--) {
		if (delta->buckets[i]) {
			uint64_t high = uvs_hist_bucket_high((__u32)i) - 1;

			return high < record ? high : record;
		}
	}
	return 0;
}

static void fill_phases(struct uvs_loop_snapshot *ls, const struct uvs_loop_stats *now,
			const struct uvs_loop_stats *before)
{
	struct uvs_hist delta;
	int p;

	for (p = 0; p < UVS_PHASE_COUNT; p++) {
		struct uvs_phase_snapshot *ps = &ls->phases[p];

		uvs_hist_sub(&delta, &now->phase[p], &before->phase[p]);
		ps->count = now->phase_count[p] - before->phase_count[p];
		ps->total_ns = now->phase_total_ns[p] - before->phase_total_ns[p];
		ps->max_ns = window_max(&delta, now->phase_max_ns[p], before->phase_max_ns[p]);
		ps->p50_ns = uvs_hist_percentile_max(&delta, 0.50, ps->max_ns);
		ps->p99_ns = uvs_hist_percentile_max(&delta, 0.99, ps->max_ns);
	}
}

static void fill_loop(struct uvs_collector *c, struct uvs_loop_track *l,
		      const struct uvs_loop_state *st, bool alive, uint64_t now,
		      struct uvs_loop_snapshot *ls)
{
	const struct uvs_loop_stats *s = c->scratch;
	uint64_t run_busy = 0, run_idle = 0, busy, idle;
	struct uvs_hist delta;

	if (alive && !st->in_wait && st->busy_since && now > st->busy_since)
		run_busy = now - st->busy_since;
	if (alive && st->in_wait && now > st->wait_start)
		run_idle = now - st->wait_start;
	busy = s->busy_ns + run_busy;
	idle = s->idle_ns + run_idle;

	memset(ls, 0, sizeof(*ls));
	ls->tid = l->tid;
	ls->role = l->role;
	uvs_target_thread_comm(c->target, l->tid, ls->comm, sizeof(ls->comm));
	ls->iterations = s->iterations - l->prev.iterations;
	ls->busy_ns = busy > l->prev_busy ? busy - l->prev_busy : 0;
	ls->idle_ns = idle > l->prev_idle ? idle - l->prev_idle : 0;
	if (ls->busy_ns + ls->idle_ns)
		ls->utilization = (double)ls->busy_ns / (double)(ls->busy_ns + ls->idle_ns);
	uvs_hist_sub(&delta, &s->busy, &l->prev.busy);
	ls->busy_max_ns = window_max(&delta, s->busy_max_ns, l->prev.busy_max_ns);
	ls->busy_p50_ns = uvs_hist_percentile_max(&delta, 0.50, ls->busy_max_ns);
	ls->busy_p99_ns = uvs_hist_percentile_max(&delta, 0.99, ls->busy_max_ns);
	if (run_busy > ls->busy_max_ns)
		ls->busy_max_ns = run_busy;
	ls->blocks = s->blocks - l->prev.blocks;
	ls->blocked_now = run_busy >= c->block_ns;
	ls->blocked_for_ns = ls->blocked_now ? run_busy : 0;
	ls->has_phases = c->probes->phases;
	if (ls->has_phases)
		fill_phases(ls, s, &l->prev);

	l->prev_busy = busy;
	l->prev_idle = idle;
	memcpy(&l->prev, s, sizeof(*s));
}

static void read_counters(struct uvs_collector *c, struct uvs_bpf_counters *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct uvs_bpf_counters *percpu;
	__u32 zero = 0;
	int i;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return;
	if (bpf_map_lookup_elem(c->probes->counters_fd, &zero, percpu) == 0) {
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

/* Starts tracking every thread that has statistics in BPF (loops seen before we looked). */
static void discover(struct uvs_collector *c)
{
	__u32 key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(c->probes->stats_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		track(c, (pid_t)key);
	}
	qsort(c->loops, c->nloops, sizeof(c->loops[0]), loop_order);
}

int uvs_collector_interval(struct uvs_collector *c, struct uvs_snapshot *s)
{
	struct uvs_bpf_counters counters;
	uint64_t now;
	size_t i;

	discover(c);
	now = uvs_now_mono();
	memset(s, 0, offsetof(struct uvs_snapshot, loops));
	s->pid = c->target->pid;
	s->ts_ns = uvs_now_real();
	s->window_ns = now - c->last_mono;
	c->last_mono = now;
	for (i = 0; i < c->nloops; i++) {
		struct uvs_loop_track *l = c->loops[i];
		struct uvs_loop_state st;
		bool alive;
		__u32 key = (__u32)l->tid;

		if (l->exited)
			continue;
		if (!l->role_known)
			l->role = uvs_target_role(c->target, l->tid, &l->role_known);
		if (read_loop(c, key, &st, &alive))
			continue;
		fill_loop(c, l, &st, alive, now, &s->loops[s->nloops++]);
		if (!alive) {
			/* The thread exited: this was its last window. */
			l->exited = true;
			bpf_map_delete_elem(c->probes->stats_fd, &key);
		}
	}
	read_counters(c, &counters);
	s->agent.events = counters.events - c->prev_counters.events;
	s->agent.drops = counters.ringbuf_drops - c->prev_counters.ringbuf_drops;
	s->agent.insert_failures = counters.insert_failures - c->prev_counters.insert_failures;
	c->prev_counters = counters;
	return 0;
}

void uvs_collector_summary(struct uvs_collector *c, struct uvs_snapshot *s)
{
	size_t i;

	memset(s, 0, offsetof(struct uvs_snapshot, loops));
	s->pid = c->target->pid;
	s->ts_ns = uvs_now_real();
	s->window_ns = c->last_mono - c->start_mono;
	for (i = 0; i < c->nloops && s->nloops < UVS_MAX_LOOPS; i++) {
		const struct uvs_loop_track *l = c->loops[i];
		const struct uvs_loop_stats *st = &l->prev;
		struct uvs_loop_snapshot *ls = &s->loops[s->nloops++];

		memset(ls, 0, sizeof(*ls));
		ls->tid = l->tid;
		ls->role = l->role;
		uvs_target_thread_comm(c->target, l->tid, ls->comm, sizeof(ls->comm));
		ls->iterations = st->iterations;
		ls->busy_ns = l->prev_busy;
		ls->idle_ns = l->prev_idle;
		if (ls->busy_ns + ls->idle_ns)
			ls->utilization = (double)ls->busy_ns / (double)(ls->busy_ns + ls->idle_ns);
		ls->busy_max_ns = st->busy_max_ns;
		ls->busy_p50_ns = uvs_hist_percentile_max(&st->busy, 0.50, st->busy_max_ns);
		ls->busy_p99_ns = uvs_hist_percentile_max(&st->busy, 0.99, st->busy_max_ns);
		ls->blocks = st->blocks;
		ls->has_phases = c->probes->phases;
		if (ls->has_phases)
			fill_phases(ls, st, &no_stats);
	}
	s->agent.events = c->prev_counters.events;
	s->agent.drops = c->prev_counters.ringbuf_drops;
	s->agent.insert_failures = c->prev_counters.insert_failures;
}

size_t uvs_collector_check_blocks(struct uvs_collector *c, struct uvs_alert *out, size_t cap)
{
	uint64_t now = uvs_now_mono();
	size_t i, n = 0;

	for (i = 0; i < c->nloops && n < cap; i++) {
		struct uvs_loop_track *l = c->loops[i];
		struct uvs_loop_state st;
		__u32 key = (__u32)l->tid;

		if (l->exited || bpf_map_lookup_elem(c->probes->state_fd, &key, &st))
			continue;
		if (st.in_wait || !st.busy_since || now < st.busy_since ||
		    now - st.busy_since < c->block_ns || l->alerted_since == st.busy_since)
			continue;
		l->alerted_since = st.busy_since;
		out[n++] = (struct uvs_alert){
			.kind = UVS_ALERT_LOOP_BLOCKED,
			.pid = c->target->pid,
			.tid = l->tid,
			.role = l->role,
			.ongoing = true,
			.blocked_ns = now - st.busy_since,
			.ts_ns = uvs_now_real(),
			.threshold_ns = c->block_ns,
		};
	}
	return n;
}

void uvs_collector_block_ended(struct uvs_collector *c, const struct uvs_event *e,
			       struct uvs_alert *out)
{
	struct uvs_loop_track *l = track(c, (pid_t)e->tid);

	*out = (struct uvs_alert){
		.kind = UVS_ALERT_LOOP_BLOCKED,
		.pid = c->target->pid,
		.tid = (int)e->tid,
		.role = l ? l->role : UVS_ROLE_OTHER,
		.ongoing = false,
		.blocked_ns = e->duration_ns,
		.ts_ns = uvs_now_real(),
		.threshold_ns = c->block_ns,
	};
}
