// SPDX-License-Identifier: MIT
#include <string.h>

#include "core/alerts.h"
#include "core/socket_list.h"

void uvs_alert_config_default(struct uvs_alert_config *c, uint64_t block_ns)
{
	*c = (struct uvs_alert_config){
		.block_ns = block_ns,
		.pool_saturation = 0.5,
		.fd_growth_windows = 5,
		.fd_limit_percent = 80,
		.fd_rearm_percent = 75,
		.close_wait_windows = 3,
		.retransmits_per_s = 10,
	};
}

static struct uvs_alert *next(struct uvs_alert *out, size_t cap, size_t *n,
			      const struct uvs_snapshot *s, enum uvs_alert_kind kind)
{
	struct uvs_alert *a;

	if (*n == cap)
		return NULL;
	a = &out[(*n)++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->pid = s->pid;
	a->ts_ns = s->ts_ns;
	return a;
}

/* threadpool_saturated: work waited in the queue for most of the window. */
static void rule_pool_saturated(const struct uvs_alert_config *c, const struct uvs_snapshot *s,
				struct uvs_alert *out, size_t cap, size_t *n)
{
	const struct uvs_pool_snapshot *p = &s->pool;
	struct uvs_alert *a;

	if (!p->available || p->saturation < c->pool_saturation)
		return;
	a = next(out, cap, n, s, UVS_ALERT_POOL_SATURATED);
	if (a)
		a->pool_saturated = (struct uvs_alert_pool_saturated){
			.saturation = p->saturation, .queued_max = p->queued_max, .size = p->size,
			.window_ns = s->window_ns };
}

/* sync_io_on_loop: any fs call that ran synchronously on a loop thread in the window. */
static void rule_sync_io(const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap, size_t *n)
{
	const struct uvs_pool_snapshot *p = &s->pool;
	struct uvs_alert *a;

	if (!p->available || !p->sync_fs_on_loop)
		return;
	a = next(out, cap, n, s, UVS_ALERT_SYNC_IO_ON_LOOP);
	if (a)
		a->sync_io = (struct uvs_alert_sync_io){ .count = p->sync_fs_on_loop,
			.total_ns = p->sync_fs_on_loop_ns, .window_ns = s->window_ns };
}

/* fd_growth: the count grew in each of the last N windows (raised once, at the Nth). */
static void rule_fd_growth(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			   const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap, size_t *n)
{
	const struct uvs_fd_snapshot *f = &s->fds;
	struct uvs_alert *a;

	if (!f->available)
		return;
	st->fds_streak = st->fds_seen && f->open > st->fds_prev_open ? st->fds_streak + 1 : 0;
	st->fds_seen = true;
	st->fds_prev_open = f->open;
	if (st->fds_streak != c->fd_growth_windows)
		return;
	a = next(out, cap, n, s, UVS_ALERT_FD_GROWTH);
	if (a)
		a->fd_growth = (struct uvs_alert_fds){ .open = f->open, .limit = f->limit,
			.windows = c->fd_growth_windows };
}

/* fd_limit: the count crossed a share of the limit; again only after it fell below another. */
static void rule_fd_limit(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			  const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap, size_t *n)
{
	const struct uvs_fd_snapshot *f = &s->fds;
	struct uvs_alert *a;

	if (!f->available || !f->limit || f->limit == UINT64_MAX)
		return;
	if (!st->fds_near_limit && f->open * 100 >= f->limit * c->fd_limit_percent) {
		st->fds_near_limit = true;
		a = next(out, cap, n, s, UVS_ALERT_FD_LIMIT);
		if (a)
			a->fd_limit = (struct uvs_alert_fds){ .open = f->open, .limit = f->limit };
	} else if (f->open * 100 < f->limit * c->fd_rearm_percent) {
		st->fds_near_limit = false;
	}
}

/* close_wait_growth: sockets in CLOSE_WAIT grew in each of the last N windows. */
static void rule_close_wait(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			    const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap, size_t *n)
{
	const struct uvs_sockets_snapshot *k = &s->sockets;
	uint64_t cw = k->tcp_states[UVS_TCP_CLOSE_WAIT];
	struct uvs_alert *a;

	if (!k->available)
		return;
	st->cw_streak = st->cw_seen && cw > st->cw_prev ? st->cw_streak + 1 : 0;
	st->cw_prev = cw;
	st->cw_seen = true;
	if (st->cw_streak != c->close_wait_windows)
		return;
	a = next(out, cap, n, s, UVS_ALERT_CLOSE_WAIT_GROWTH);
	if (a)
		a->close_wait_growth = (struct uvs_alert_close_wait){ .close_wait = cw,
			.windows = c->close_wait_windows, .window_ns = s->window_ns };
}

/* accept_queue_full: once per episode, again only after every accept queue had room. */
static void rule_accept_queue(struct uvs_alert_state *st, const struct uvs_snapshot *s,
			      struct uvs_alert *out, size_t cap, size_t *n)
{
	const struct uvs_sockets_snapshot *k = &s->sockets;
	struct uvs_alert *a;

	if (!k->available)
		return;
	if (k->accept_queue_full && !st->queue_full) {
		a = next(out, cap, n, s, UVS_ALERT_ACCEPT_QUEUE_FULL);
		if (a)
			a->accept_queue_full = (struct uvs_alert_accept_queue){
				.queued = k->accept_queue_max, .limit = k->accept_queue_limit,
				.window_ns = s->window_ns };
	}
	st->queue_full = k->accept_queue_full > 0;
}

/* retransmit_rate: at least N retransmits per second over the window, whatever its length. */
static void rule_retransmits(const struct uvs_alert_config *c, const struct uvs_snapshot *s,
			     struct uvs_alert *out, size_t cap, size_t *n)
{
	const struct uvs_sockets_snapshot *k = &s->sockets;
	struct uvs_alert *a;

	if (!k->traced || !s->window_ns ||
	    k->retransmits * 1000000000ULL < c->retransmits_per_s * s->window_ns)
		return;
	a = next(out, cap, n, s, UVS_ALERT_RETRANSMIT_RATE);
	if (a)
		a->retransmit_rate = (struct uvs_alert_retransmits){ .retransmits = k->retransmits,
			.window_ns = s->window_ns };
}

size_t uvs_alerts_window(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			 const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap)
{
	size_t n = 0;

	rule_pool_saturated(c, s, out, cap, &n);
	rule_sync_io(s, out, cap, &n);
	rule_fd_growth(c, st, s, out, cap, &n);
	rule_fd_limit(c, st, s, out, cap, &n);
	rule_close_wait(c, st, s, out, cap, &n);
	rule_accept_queue(st, s, out, cap, &n);
	rule_retransmits(c, s, out, cap, &n);
	return n;
}

/* The span last alerted for tid, creating the slot; NULL when every slot is taken. */
static uint64_t *alerted_since(struct uvs_alert_state *st, int tid)
{
	size_t i;

	for (i = 0; i < st->nalerted; i++)
		if (st->alerted[i].tid == tid)
			return &st->alerted[i].busy_since_ns;
	if (st->nalerted == UVS_MAX_LOOPS)
		return NULL;
	st->alerted[st->nalerted].tid = tid;
	st->alerted[st->nalerted].busy_since_ns = 0;
	return &st->alerted[st->nalerted++].busy_since_ns;
}

size_t uvs_alerts_blocks(const struct uvs_alert_config *c, struct uvs_alert_state *st, int pid,
			 const struct uvs_loop_busy *loops, size_t nloops, uint64_t now_mono,
			 uint64_t now_real, struct uvs_alert *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < nloops && n < cap; i++) {
		const struct uvs_loop_busy *l = &loops[i];
		uint64_t *since;

		if (!l->busy || !l->busy_since_ns || now_mono < l->busy_since_ns ||
		    now_mono - l->busy_since_ns < c->block_ns)
			continue;
		since = alerted_since(st, l->tid);
		if (!since || *since == l->busy_since_ns)
			continue;
		*since = l->busy_since_ns;
		out[n++] = (struct uvs_alert){
			.kind = UVS_ALERT_LOOP_BLOCKED,
			.pid = pid,
			.ts_ns = now_real,
			.loop_blocked = { .tid = l->tid, .role = l->role, .ongoing = true,
					  .blocked_ns = now_mono - l->busy_since_ns,
					  .threshold_ns = c->block_ns },
		};
	}
	return n;
}

void uvs_alerts_block_ended(const struct uvs_alert_config *c, int pid, const struct uvs_block_end *b,
			    uint64_t now_real, struct uvs_alert *out)
{
	*out = (struct uvs_alert){
		.kind = UVS_ALERT_LOOP_BLOCKED,
		.pid = pid,
		.ts_ns = now_real,
		.loop_blocked = { .tid = b->tid, .role = b->role, .ongoing = false,
				  .blocked_ns = b->duration_ns, .threshold_ns = c->block_ns },
	};
}
