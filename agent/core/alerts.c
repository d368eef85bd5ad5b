// SPDX-License-Identifier: MIT
#include <string.h>

#include "core/alerts.h"
#include "core/socket_list.h"

enum step { STEP_NONE, STEP_FIRE, STEP_RESOLVE };

/*
 * The rate limit: at most rate_max alerts fire per period of rate_per_ns, the period beginning
 * at the first alert after the last one ended. Time is the alerts' own stamps.
 */
static bool rate_allow(const struct uvs_rule *r, struct uvs_alert_rule_state *rs, uint64_t ts)
{
	if (!r->rate_max)
		return true;
	if (!rs->in_period || ts < rs->period_start || ts - rs->period_start >= r->rate_per_ns) {
		rs->period_start = ts;
		rs->in_period = 0;
	}
	if (rs->in_period >= r->rate_max)
		return false;
	rs->in_period++;
	return true;
}

/*
 * One window of one subject's condition: it fires after holding for `for` (in window time, so
 * a long window counts for its length; within a tenth of a window, so that a measured window a
 * little short of the interval still counts for it), and resolves after being gone for `hold`
 * (the same way); a window with
 * the condition back while firing starts the hold-down over. A firing the rate limit holds back
 * is muted: neither it nor its resolution goes out, and it is counted.
 */
static enum step step(const struct uvs_rule *r, struct uvs_alert_rule_state *rs,
		      struct uvs_alert_track *t, bool cond, uint64_t window_ns, uint64_t ts)
{
	t->seen = true;
	if (cond) {
		t->windows++;
		t->true_ns += window_ns;
		t->false_ns = 0;
		/*
		 * Windows are measured, a few microseconds to milliseconds off the interval: `for`
		 * holds within a tenth of one (a 1 s interval of 999.97 ms holds `for = 1s`).
		 */
		if (t->firing || t->true_ns + window_ns / 10 < r->for_ns)
			return STEP_NONE;
		t->firing = true;
		t->fired_ts = ts;
		t->muted = !rate_allow(r, rs, ts);
		if (t->muted) {
			rs->held_back++;
			rs->suppressed++;
			return STEP_NONE;
		}
		rs->fired++;
		return STEP_FIRE;
	}
	t->windows = 0;
	t->true_ns = 0;
	if (!t->firing)
		return STEP_NONE;
	t->false_ns += window_ns;
	if (t->false_ns + window_ns / 10 < r->hold_ns)
		return STEP_NONE;
	t->firing = false;
	t->false_ns = 0;
	if (t->muted)
		return STEP_NONE;
	rs->resolved++;
	return STEP_RESOLVE;
}

/* Where a judged alert goes: the caller's array, with the rule's stamp on it. */
struct judge {
	const struct uvs_alert_config *c;
	struct uvs_alert_state *st;
	const struct uvs_snapshot *s;
	struct uvs_alert *out;
	size_t cap, n;
};

static void put(struct judge *j, enum step what, const struct uvs_alert_track *t,
		struct uvs_alert *a)
{
	struct uvs_alert_rule_state *rs = &j->st->rule[a->kind];

	if (what == STEP_NONE || j->n == j->cap)
		return;
	a->pid = j->s->pid;
	a->ts_ns = j->s->ts_ns;
	a->severity = j->c->rule[a->kind].severity;
	a->state = what == STEP_FIRE ? UVS_ALERT_FIRING : UVS_ALERT_RESOLVED;
	a->firing_ns = what == STEP_RESOLVE && a->ts_ns > t->fired_ts ? a->ts_ns - t->fired_ts : 0;
	a->suppressed = rs->held_back;
	rs->held_back = 0;
	j->out[j->n++] = *a;
}

/* ---- process-wide rules: each says whether its condition holds and fills the alert ---------- */

typedef bool (*process_rule)(const struct uvs_rule *r, struct uvs_alert_state *st,
			     const struct uvs_snapshot *s, struct uvs_alert *a);

/* threadpool_saturated: work waited in the queue for a share of the window. */
static bool pool_saturated(const struct uvs_rule *r, struct uvs_alert_state *st,
			   const struct uvs_snapshot *s, struct uvs_alert *a)
{
	const struct uvs_pool_snapshot *p = &s->pool;

	(void)st;
	a->pool_saturated = (struct uvs_alert_pool_saturated){ .saturation = p->saturation,
		.queued_max = p->queued_max, .size = p->size, .running = p->running,
		.window_ns = s->window_ns };
	return p->available && p->saturation >= r->threshold;
}

/* pool_queue_wait: some kind of pool work had a p99 queue wait this long. */
static bool pool_queue_wait(const struct uvs_rule *r, struct uvs_alert_state *st,
			    const struct uvs_snapshot *s, struct uvs_alert *a)
{
	const struct uvs_pool_snapshot *p = &s->pool;
	struct uvs_alert_queue_wait *w = &a->pool_queue_wait;
	int k;

	(void)st;
	*w = (struct uvs_alert_queue_wait){ .threshold_ns = (uint64_t)r->threshold,
					    .window_ns = s->window_ns };
	for (k = 0; p->available && k < UVS_POOL_KINDS; k++)
		if ((p->kinds[k].submitted || p->kinds[k].completed) &&
		    p->kinds[k].wait_p99_ns > w->wait_p99_ns) {
			w->wait_p99_ns = p->kinds[k].wait_p99_ns;
			w->pool_kind = (enum uvs_pool_kind)k;
		}
	return p->available && (double)w->wait_p99_ns >= r->threshold;
}

/* sync_io_on_loop: fs calls ran synchronously on a loop thread in the window. */
static bool sync_io(const struct uvs_rule *r, struct uvs_alert_state *st,
		    const struct uvs_snapshot *s, struct uvs_alert *a)
{
	const struct uvs_pool_snapshot *p = &s->pool;

	(void)st;
	a->sync_io = (struct uvs_alert_sync_io){ .count = p->sync_fs_on_loop,
		.total_ns = p->sync_fs_on_loop_ns, .window_ns = s->window_ns };
	return p->available && (double)p->sync_fs_on_loop >= r->threshold;
}

/* fd_limit: open fds at a share of RLIMIT_NOFILE (never when it is unlimited or unknown). */
static bool fd_limit(const struct uvs_rule *r, struct uvs_alert_state *st,
		     const struct uvs_snapshot *s, struct uvs_alert *a)
{
	const struct uvs_fd_snapshot *f = &s->fds;

	(void)st;
	a->fd_limit = (struct uvs_alert_fds){ .open = f->open, .limit = f->limit };
	return f->available && f->limit && f->limit != UINT64_MAX &&
	       (double)f->open >= r->threshold * (double)f->limit;
}

/* fd_growth: the count grew by the threshold or more since the window before. */
static bool fd_growth(const struct uvs_rule *r, struct uvs_alert_state *st,
		      const struct uvs_snapshot *s, struct uvs_alert *a)
{
	const struct uvs_fd_snapshot *f = &s->fds;
	bool grew = f->available && st->fds_seen && f->open > st->fds_prev_open &&
		    (double)(f->open - st->fds_prev_open) >= r->threshold;

	if (f->available) {
		st->fds_seen = true;
		st->fds_prev_open = f->open;
	}
	a->fd_growth = (struct uvs_alert_fds){ .open = f->open, .limit = f->limit };
	return grew;
}

/* close_wait_growth: sockets in CLOSE_WAIT grew by the threshold since the window before. */
static bool close_wait(const struct uvs_rule *r, struct uvs_alert_state *st,
		       const struct uvs_snapshot *s, struct uvs_alert *a)
{
	const struct uvs_sockets_snapshot *k = &s->sockets;
	uint64_t cw = k->tcp_states[UVS_TCP_CLOSE_WAIT];
	bool grew = k->available && st->cw_seen && cw > st->cw_prev &&
		    (double)(cw - st->cw_prev) >= r->threshold;

	if (k->available) {
		st->cw_seen = true;
		st->cw_prev = cw;
	}
	a->close_wait_growth = (struct uvs_alert_close_wait){ .close_wait = cw,
							      .window_ns = s->window_ns };
	return grew;
}

/* accept_queue_full: listeners whose accept queue is at its limit. */
static bool accept_queue(const struct uvs_rule *r, struct uvs_alert_state *st,
			 const struct uvs_snapshot *s, struct uvs_alert *a)
{
	const struct uvs_sockets_snapshot *k = &s->sockets;

	(void)st;
	a->accept_queue_full = (struct uvs_alert_accept_queue){ .queued = k->accept_queue_max,
		.limit = k->accept_queue_limit, .window_ns = s->window_ns };
	return k->available && (double)k->accept_queue_full >= r->threshold;
}

/* retransmit_rate: retransmits per second over the window, whatever its length. */
static bool retransmits(const struct uvs_rule *r, struct uvs_alert_state *st,
			const struct uvs_snapshot *s, struct uvs_alert *a)
{
	const struct uvs_sockets_snapshot *k = &s->sockets;

	(void)st;
	a->retransmit_rate = (struct uvs_alert_retransmits){ .retransmits = k->retransmits,
							     .window_ns = s->window_ns };
	return (k->traced || k->retrans_from_info) && s->window_ns &&
	       (double)k->retransmits * 1e9 >= r->threshold * (double)s->window_ns;
}

/*
 * Whether the window has the figure a process rule judges. One it cannot have (the pool's
 * per-job probes out: a guard step, or the proc backend's statics alone) holds the rule as it
 * stands: an alert firing on sync fs calls is not resolved because they stopped being counted.
 */
static bool figure_measured(enum uvs_alert_kind kind, const struct uvs_snapshot *s)
{
	if (kind == UVS_ALERT_POOL_QUEUE_WAIT || kind == UVS_ALERT_SYNC_IO_ON_LOOP)
		return s->pool.available && !s->pool.statics_only;
	return true;
}

static void judge_process(struct judge *j, enum uvs_alert_kind kind, process_rule fn)
{
	const struct uvs_rule *r = &j->c->rule[kind];
	struct uvs_alert_rule_state *rs = &j->st->rule[kind];
	struct uvs_alert_track *t = &rs->track[0];
	struct uvs_alert a = { .kind = kind };
	bool cond;
	enum step what;

	if (!r->enabled || !figure_measured(kind, j->s))
		return;
	t->used = true;
	cond = fn(r, j->st, j->s, &a);
	what = step(r, rs, t, cond, j->s->window_ns, j->s->ts_ns);
	/* The growth rules say how many windows in a row it grew. */
	if (kind == UVS_ALERT_FD_GROWTH)
		a.fd_growth.windows = (int)t->windows;
	else if (kind == UVS_ALERT_CLOSE_WAIT_GROWTH)
		a.close_wait_growth.windows = (int)t->windows;
	put(j, what, t, &a);
}

/* ---- per-loop rules --------------------------------------------------------------------------- */

/* A loop's share of the window for a rule; false when the rule does not apply to it. */
typedef bool (*loop_share)(const struct uvs_snapshot *s, const struct uvs_loop_snapshot *l,
			   double *share);

static bool utilization(const struct uvs_snapshot *s, const struct uvs_loop_snapshot *l,
			double *share)
{
	(void)s;
	*share = l->utilization;
	return l->role != UVS_ROLE_THREADPOOL;
}

static bool gc_share(const struct uvs_snapshot *s, const struct uvs_loop_snapshot *l,
		     double *share)
{
	*share = s->window_ns ? (double)l->gc.total_ns / (double)s->window_ns : 0;
	return l->has_gc && s->window_ns;
}

/* The track of loop tid, made if new; NULL when every one is taken. */
static struct uvs_alert_track *loop_track(struct uvs_alert_rule_state *rs, int tid)
{
	struct uvs_alert_track *free_slot = NULL;
	size_t i;

	for (i = 0; i < UVS_MAX_LOOPS; i++) {
		if (rs->track[i].used && rs->track[i].key == tid)
			return &rs->track[i];
		if (!rs->track[i].used && !free_slot)
			free_slot = &rs->track[i];
	}
	if (free_slot)
		*free_slot = (struct uvs_alert_track){ .key = tid, .used = true };
	return free_slot;
}

static void loop_alert(struct judge *j, enum uvs_alert_kind kind, enum step what,
		       const struct uvs_alert_track *t, double share)
{
	struct uvs_alert a = { .kind = kind };
	struct uvs_alert_loop_share v = { .tid = t->key, .role = t->role, .share = share,
					  .threshold = j->c->rule[kind].threshold,
					  .window_ns = j->s->window_ns };

	if (kind == UVS_ALERT_GC_SHARE)
		a.gc_share = v;
	else
		a.loop_utilization = v;
	put(j, what, t, &a);
}

/*
 * Every loop of the window is judged on its own; a loop that is gone (its thread exited, or it
 * no longer applies) counts as its condition gone, so its alert resolves too.
 */
static void judge_loops(struct judge *j, enum uvs_alert_kind kind, loop_share fn)
{
	const struct uvs_rule *r = &j->c->rule[kind];
	struct uvs_alert_rule_state *rs = &j->st->rule[kind];
	size_t i, n = j->s->nloops < UVS_MAX_LOOPS ? j->s->nloops : UVS_MAX_LOOPS;

	if (!r->enabled)
		return;
	for (i = 0; i < UVS_MAX_LOOPS; i++)
		rs->track[i].seen = false;
	for (i = 0; i < n; i++) {
		const struct uvs_loop_snapshot *l = &j->s->loops[i];
		struct uvs_alert_track *t;
		double share;

		if (!fn(j->s, l, &share) || !(t = loop_track(rs, l->tid)) || t->seen)
			continue;
		t->role = l->role;
		loop_alert(j, kind, step(r, rs, t, share >= r->threshold, j->s->window_ns,
					 j->s->ts_ns), t, share);
	}
	for (i = 0; i < UVS_MAX_LOOPS; i++) {
		struct uvs_alert_track *t = &rs->track[i];

		if (!t->used || t->seen)
			continue;
		loop_alert(j, kind, step(r, rs, t, false, j->s->window_ns, j->s->ts_ns), t, 0);
		if (!t->firing)
			t->used = false;
	}
}

/* The process-wide rules, in the order their alerts of one window go out. */
static const struct {
	enum uvs_alert_kind kind;
	process_rule fn;
} process_rules[] = {
	{ UVS_ALERT_POOL_SATURATED, pool_saturated },
	{ UVS_ALERT_POOL_QUEUE_WAIT, pool_queue_wait },
	{ UVS_ALERT_SYNC_IO_ON_LOOP, sync_io },
	{ UVS_ALERT_FD_LIMIT, fd_limit },
	{ UVS_ALERT_FD_GROWTH, fd_growth },
	{ UVS_ALERT_CLOSE_WAIT_GROWTH, close_wait },
	{ UVS_ALERT_ACCEPT_QUEUE_FULL, accept_queue },
	{ UVS_ALERT_RETRANSMIT_RATE, retransmits },
};

size_t uvs_alerts_window(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			 const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap)
{
	struct judge j = { .c = c, .st = st, .s = s, .out = out, .cap = cap };

	size_t i;

	judge_loops(&j, UVS_ALERT_LOOP_UTILIZATION, utilization);
	for (i = 0; i < sizeof(process_rules) / sizeof(process_rules[0]); i++)
		judge_process(&j, process_rules[i].kind, process_rules[i].fn);
	judge_loops(&j, UVS_ALERT_GC_SHARE, gc_share);
	return j.n;
}

/*
 * The process is gone (it exited, or uvscope detaches from it): every alert of it still firing
 * resolves now, with the figures of its last window, so that each firing line and each
 * --on-alert firing has its resolution. Muted ones (held back by the rate limit) stay silent.
 */
static void resolve_process(struct judge *j, enum uvs_alert_kind kind, process_rule fn)
{
	struct uvs_alert_rule_state *rs = &j->st->rule[kind];
	struct uvs_alert_track *t = &rs->track[0];
	struct uvs_alert a = { .kind = kind };

	if (!t->used || !t->firing)
		return;
	fn(&j->c->rule[kind], j->st, j->s, &a);
	t->firing = false;
	if (t->muted)
		return;
	rs->resolved++;
	put(j, STEP_RESOLVE, t, &a);
}

static void resolve_loops(struct judge *j, enum uvs_alert_kind kind)
{
	struct uvs_alert_rule_state *rs = &j->st->rule[kind];
	size_t i;

	for (i = 0; i < UVS_MAX_LOOPS; i++) {
		struct uvs_alert_track *t = &rs->track[i];

		if (!t->used || !t->firing)
			continue;
		t->firing = false;
		if (t->muted)
			continue;
		rs->resolved++;
		loop_alert(j, kind, STEP_RESOLVE, t, 0);
	}
}

size_t uvs_alerts_gone(const struct uvs_alert_config *c, struct uvs_alert_state *st,
		       const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap)
{
	struct judge j = { .c = c, .st = st, .s = s, .out = out, .cap = cap };
	size_t i;

	resolve_loops(&j, UVS_ALERT_LOOP_UTILIZATION);
	for (i = 0; i < sizeof(process_rules) / sizeof(process_rules[0]); i++)
		resolve_process(&j, process_rules[i].kind, process_rules[i].fn);
	resolve_loops(&j, UVS_ALERT_GC_SHARE);
	for (i = 0; i < j.n; i++)
		out[i].detached = true;
	return j.n;
}

/* ---- loop_blocked ------------------------------------------------------------------------------ */

/* The episode slot of tid, made if new; -1 when every slot is taken. */
static int episode(struct uvs_alert_state *st, int tid)
{
	size_t i;

	for (i = 0; i < st->nalerted; i++)
		if (st->alerted[i].tid == tid)
			return (int)i;
	if (st->nalerted == UVS_MAX_LOOPS)
		return -1;
	memset(&st->alerted[st->nalerted], 0, sizeof(st->alerted[0]));
	st->alerted[st->nalerted].tid = tid;
	return (int)st->nalerted++;
}

/* An episode begins: the rate limit decides whether it is told; counted either way. */
static bool episode_allowed(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			    uint64_t now_real)
{
	const struct uvs_rule *r = &c->rule[UVS_ALERT_LOOP_BLOCKED];
	struct uvs_alert_rule_state *rs = &st->rule[UVS_ALERT_LOOP_BLOCKED];

	if (rate_allow(r, rs, now_real)) {
		rs->fired++;
		return true;
	}
	rs->held_back++;
	rs->suppressed++;
	return false;
}

static void blocked_alert(const struct uvs_alert_config *c, struct uvs_alert_state *st, int pid,
			  uint64_t now_real, struct uvs_alert *a)
{
	struct uvs_alert_rule_state *rs = &st->rule[UVS_ALERT_LOOP_BLOCKED];

	a->kind = UVS_ALERT_LOOP_BLOCKED;
	a->pid = pid;
	a->ts_ns = now_real;
	a->severity = c->rule[UVS_ALERT_LOOP_BLOCKED].severity;
	a->suppressed = rs->held_back;
	rs->held_back = 0;
}

/*
 * Episodes told as ongoing whose span is over with no end from the collector: the collector
 * measured the span under the threshold (a reading that made a wait look like busy time, or two
 * clocks a little apart at the threshold's edge). The first check that finds the loop out of
 * the span waits one more: an end the collector sent just after this check polled its events
 * is in by the next. A loop missing from `loops` (not read this time) says nothing.
 */
static size_t ends_never_told(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			      int pid, const struct uvs_loop_busy *loops, size_t nloops,
			      uint64_t now_real, struct uvs_alert *out, size_t cap)
{
	size_t e, i, n = 0;

	for (e = 0; e < st->nalerted && n < cap; e++) {
		const struct uvs_loop_busy *l = NULL;

		if (!st->alerted[e].open)
			continue;
		for (i = 0; i < nloops && !l; i++)
			if (loops[i].tid == st->alerted[e].tid)
				l = &loops[i];
		if (!l)
			continue;
		if (l->busy && l->busy_since_ns == st->alerted[e].busy_since_ns) {
			st->alerted[e].over_seen = false;
			continue;
		}
		if (!st->alerted[e].over_seen) {
			st->alerted[e].over_seen = true;
			continue;
		}
		st->alerted[e].open = false;
		if (st->alerted[e].muted)
			continue;
		st->rule[UVS_ALERT_LOOP_BLOCKED].resolved++;
		out[n] = (struct uvs_alert){
			.state = UVS_ALERT_RESOLVED,
			.loop_blocked = { .tid = l->tid, .role = l->role, .ongoing = false,
					  .blocked_ns = st->alerted[e].seen_ns,
					  .threshold_ns = uvs_alert_config_block_ns(c),
					  .since_attach = st->alerted[e].since_attach,
					  .since_ns = st->alerted[e].busy_since_ns,
					  .stopped = st->alerted[e].stopped },
		};
		blocked_alert(c, st, pid, now_real, &out[n++]);
	}
	return n;
}

size_t uvs_alerts_blocks(const struct uvs_alert_config *c, struct uvs_alert_state *st, int pid,
			 const struct uvs_loop_busy *loops, size_t nloops, uint64_t now_mono,
			 uint64_t now_real, struct uvs_alert *out, size_t cap)
{
	uint64_t block_ns = uvs_alert_config_block_ns(c);
	size_t i, n = 0;

	if (!c->rule[UVS_ALERT_LOOP_BLOCKED].enabled)
		return 0;
	n = ends_never_told(c, st, pid, loops, nloops, now_real, out, cap);
	for (i = 0; i < nloops && n < cap; i++) {
		const struct uvs_loop_busy *l = &loops[i];
		int e;

		if (!l->busy || !l->busy_since_ns || now_mono < l->busy_since_ns ||
		    now_mono - l->busy_since_ns < block_ns)
			continue;
		e = episode(st, l->tid);
		if (e < 0)
			continue;
		/*
		 * A span that began before the end of one already told is that span, read a little
		 * late (its start 5-10 ms off BPF's): one block over the threshold by less than a
		 * check's lag was told twice, the second with samples of the wait after it.
		 */
		if (l->busy_since_ns < st->alerted[e].told_end_ns)
			continue;
		if (st->alerted[e].busy_since_ns == l->busy_since_ns) {
			if (now_mono - l->busy_since_ns > st->alerted[e].seen_ns)
				st->alerted[e].seen_ns = now_mono - l->busy_since_ns;
			if (!st->alerted[e].stopped)
				st->alerted[e].stopped = l->stopped;
			continue;
		}
		st->alerted[e].busy_since_ns = l->busy_since_ns;
		st->alerted[e].since_attach = l->since_attach;
		st->alerted[e].open = true;
		st->alerted[e].over_seen = false;
		st->alerted[e].seen_ns = now_mono - l->busy_since_ns;
		st->alerted[e].stopped = l->stopped;
		st->alerted[e].muted = !episode_allowed(c, st, now_real);
		if (st->alerted[e].muted)
			continue;
		out[n] = (struct uvs_alert){
			.state = UVS_ALERT_FIRING,
			.loop_blocked = { .tid = l->tid, .role = l->role, .ongoing = true,
					  .blocked_ns = now_mono - l->busy_since_ns,
					  .threshold_ns = block_ns,
					  .since_attach = l->since_attach,
					  .stopped = l->stopped },
		};
		blocked_alert(c, st, pid, now_real, &out[n++]);
	}
	return n;
}

size_t uvs_alerts_block_ended(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			      int pid, const struct uvs_block_end *b, uint64_t now_real,
			      struct uvs_alert *out)
{
	enum uvs_loop_stop stopped = UVS_LOOP_RUNNING;
	int e;
	bool told;

	if (!c->rule[UVS_ALERT_LOOP_BLOCKED].enabled)
		return 0;
	/* An episode alerted as ongoing ends as it began; one that ended unseen begins now. */
	e = episode(st, b->tid);
	if (e >= 0 && st->alerted[e].open) {
		told = !st->alerted[e].muted;
		stopped = st->alerted[e].stopped;
	} else {
		told = episode_allowed(c, st, now_real);
	}
	if (e >= 0) {
		st->alerted[e].open = false;
		if (b->end_ns > st->alerted[e].told_end_ns)
			st->alerted[e].told_end_ns = b->end_ns;
	}
	if (!told)
		return 0;
	st->rule[UVS_ALERT_LOOP_BLOCKED].resolved++;
	*out = (struct uvs_alert){
		.state = UVS_ALERT_RESOLVED,
		.loop_blocked = { .tid = b->tid, .role = b->role, .ongoing = false,
				  .blocked_ns = b->duration_ns,
				  .threshold_ns = uvs_alert_config_block_ns(c),
				  .since_attach = b->since_attach, .stopped = stopped },
	};
	blocked_alert(c, st, pid, now_real, out);
	return 1;
}
