// SPDX-License-Identifier: MIT
/*
 * `uvscope top`. Each line is formatted into a buffer and cut at 80 columns before it is
 * written, so the view stays readable on a standard terminal whatever the numbers or the
 * target's thread names; ANSI bold is wrapped around the cut text so it never counts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/duration.h"
#include "render/guard_text.h"
#include "render/stack_text.h"
#include "render/top.h"
#include "render/watch.h"
#include "core/socket_list.h"
#include "util/clock.h"
#include "core/syscall_names.h"

#define TOP_COLS 80
#define ANSI_CLEAR "\033[H\033[2J"
#define ANSI_BOLD "\033[1m"
#define ANSI_RESET "\033[0m"

/* Loop table and phase table columns; the header and the rows share the format. */
#define LOOP_FMT "%7s %-10s %6s %6s %6s %6s %6s %-13s %s"
#define PHASE_FMT "  %-9s %6s %10s %7s %7s"

/*
 * Where a frame goes: at most `width` columns a line and `rows` lines (the terminal's size, or
 * 80 columns and no limit when it is not a terminal), so that a small window shows the top of
 * the view instead of its wrapped and scrolled tail.
 */
struct screen {
	FILE *f;
	size_t width;
	size_t rows;  /* lines left; SIZE_MAX: no limit */
};

__attribute__((format(printf, 3, 4)))
static void line(struct screen *out, bool bold, const char *fmt, ...)
{
	char buf[TOP_COLS * 4];
	va_list ap;

	if (!out->rows)
		return;
	if (out->rows != SIZE_MAX)
		out->rows--;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	buf[out->width] = '\0'; /* sizeof(buf) > TOP_COLS >= width: this only ever cuts */
	fprintf(out->f, "%s%s%s\n", bold ? ANSI_BOLD : "", buf, bold ? ANSI_RESET : "");
}

/*
 * Copy folded to printable ASCII, so that each byte is one column and the 80-column cut is
 * exact. Not a sanitizer: text from the target was made safe where it was read (util/text.h);
 * this only keeps multi-byte and wide characters from throwing the columns off.
 */
static void ascii_columns(char *dst, size_t cap, const char *src, size_t srclen)
{
	size_t i;

	for (i = 0; i + 1 < cap && i < srclen && src[i]; i++) {
		unsigned char c = src[i];

		dst[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	dst[i] = '\0';
}

static const char *or_unknown(const char *s)
{
	return s && *s ? s : "?";
}

static size_t nloops(const struct uvs_snapshot *s)
{
	return s->nloops < UVS_MAX_LOOPS ? s->nloops : UVS_MAX_LOOPS;
}

static void header(struct screen *out, const struct uvs_snapshot *s, const struct uvs_top_context *ctx)
{
	char exe[40], version[24], up[UVS_DURATION_BUF], window[UVS_DURATION_BUF];
	char threshold[UVS_DURATION_BUF], counters[96], guard[96];
	const char *base = or_unknown(ctx->target), *slash = strrchr(base, '/');
	int n;

	if (slash && slash[1])
		base = slash + 1;
	ascii_columns(exe, sizeof(exe), base, strlen(base));
	ascii_columns(version, sizeof(version), or_unknown(ctx->libuv_version), SIZE_MAX);
	uvs_format_duration(ctx->elapsed_ns, up, sizeof(up));
	uvs_format_duration(s->window_ns, window, sizeof(window));
	uvs_format_duration(ctx->block_threshold_ns, threshold, sizeof(threshold));
	/* The exe name goes last: it is the one field the 80-column cut may eat. */
	line(out, ctx->ansi, "uvscope  pid %d  libuv %s  %s  up %s  %s", ctx->pid, version,
	     or_unknown(ctx->mode), up, exe);
	/* Losses are worth the space only when there are some. */
	n = snprintf(counters, sizeof(counters), "events %" PRIu64, s->agent.events);
	if (s->agent.drops)
		n += snprintf(counters + n, sizeof(counters) - n, "  drops %" PRIu64,
			      s->agent.drops);
	if (s->agent.insert_failures)
		n += snprintf(counters + n, sizeof(counters) - n, "  insert failures %" PRIu64,
			      s->agent.insert_failures);
	if (uvs_agent_losses(s) > s->agent.drops + s->agent.insert_failures)
		snprintf(counters + n, sizeof(counters) - n, "  other losses %" PRIu64,
			 uvs_agent_losses(s) - s->agent.drops - s->agent.insert_failures);
	line(out, false, "window %s  block threshold %s  %s", window, threshold, counters);
	uvs_guard_text_state(&s->guard, guard, sizeof(guard));
	if (guard[0])
		line(out, false, "guard: %s (probe hits %" PRIu64 "/s, budget %" PRIu64 "/s)", guard,
		     s->guard.rate, s->guard.budget);
}

/* Iterations per second; "-" without a window, "1234k" past six digits. */
static void format_rate(uint64_t n, uint64_t window_ns, char *buf, size_t cap)
{
	double rate;

	if (!window_ns) {
		snprintf(buf, cap, "-");
		return;
	}
	rate = (double)n * 1e9 / (double)window_ns + 0.5;
	if (rate < 1e6)
		snprintf(buf, cap, "%" PRIu64, (uint64_t)rate);
	else
		snprintf(buf, cap, "%" PRIu64 "k", (uint64_t)(rate / 1000));
}

static void loop_row(struct screen *out, const struct uvs_loop_snapshot *l, uint64_t window_ns, bool ansi)
{
	char tid[16], util[16], rate[24], p50[UVS_DURATION_BUF], p99[UVS_DURATION_BUF];
	char max[UVS_DURATION_BUF], state[8 + UVS_DURATION_BUF], comm[sizeof(l->comm) + 1];

	snprintf(tid, sizeof(tid), "%d", l->tid);
	uvs_format_percent(l->utilization, util, sizeof(util));
	format_rate(l->iterations, window_ns, rate, sizeof(rate));
	uvs_format_duration(l->busy_p50_ns, p50, sizeof(p50));
	uvs_format_duration(l->busy_p99_ns, p99, sizeof(p99));
	uvs_format_duration(l->busy_max_ns, max, sizeof(max));
	/* What the collector cannot give is "-", never 0 (the proc backend). */
	if (l->no_iterations)
		snprintf(rate, sizeof(rate), "-");
	if (l->no_busy_dist) {
		snprintf(p50, sizeof(p50), "-");
		snprintf(p99, sizeof(p99), "-");
		snprintf(max, sizeof(max), "-");
	}
	if (l->blocked_now) {
		memcpy(state, "BLOCKED ", 8);
		uvs_format_duration(l->blocked_for_ns, state + 8, sizeof(state) - 8);
	} else {
		snprintf(state, sizeof(state), "ok");
	}
	ascii_columns(comm, sizeof(comm), l->comm, sizeof(l->comm));
	line(out, ansi && l->blocked_now, LOOP_FMT, tid, uvs_role_name(l->role), util, rate, p50,
	     p99, max, state, comm);
}

static void loop_table(struct screen *out, const struct uvs_snapshot *s, bool ansi)
{
	size_t i;

	if (!nloops(s)) {
		line(out, false, "no event loop seen yet");
		return;
	}
	line(out, ansi, LOOP_FMT, "TID", "ROLE", "UTIL", "IT/S", "P50", "P99", "MAX", "STATE",
	     "COMM");
	for (i = 0; i < nloops(s); i++)
		loop_row(out, &s->loops[i], s->window_ns, ansi);
}

/* "gc main/13707: 12 (1 major), 41.2ms in all, longest 9.3ms": loops that collected. */
static void gc_lines(struct screen *out, const struct uvs_snapshot *s)
{
	char total[UVS_DURATION_BUF], max[UVS_DURATION_BUF];
	bool first = true;
	size_t i;

	for (i = 0; i < nloops(s); i++) {
		const struct uvs_loop_snapshot *l = &s->loops[i];

		if (!l->has_gc || !l->gc.count)
			continue;
		if (first)
			line(out, false, "%s", "");
		first = false;
		uvs_format_duration(l->gc.total_ns, total, sizeof(total));
		uvs_format_duration(l->gc.max_ns, max, sizeof(max));
		line(out, false, "gc %s/%d: %" PRIu64 " (%" PRIu64 " major), %s in all, longest %s",
		     uvs_role_name(l->role), l->tid, l->gc.count, l->gc.major, total, max);
	}
}

static void phase_table(struct screen *out, const struct uvs_loop_snapshot *l, bool ansi)
{
	uint64_t loop_ns = l->busy_ns + l->idle_ns;
	char comm[sizeof(l->comm) + 1], share[16], count[24], p99[UVS_DURATION_BUF];
	char max[UVS_DURATION_BUF];
	int p;

	ascii_columns(comm, sizeof(comm), l->comm, sizeof(l->comm));
	line(out, false, "%s", "");
	line(out, ansi, "phases of %s/%d (%s)", uvs_role_name(l->role), l->tid, comm);
	line(out, false, PHASE_FMT, "PHASE", "SHARE", "COUNT", "P99", "MAX");
	for (p = 0; p < UVS_PHASE_COUNT; p++) {
		const struct uvs_phase_snapshot *ph = &l->phases[p];

		uvs_format_phase_share(ph->total_ns, loop_ns, share, sizeof(share));
		snprintf(count, sizeof(count), "%" PRIu64, ph->count);
		uvs_format_duration(ph->p99_ns, p99, sizeof(p99));
		uvs_format_duration(ph->max_ns, max, sizeof(max));
		line(out, false, PHASE_FMT, uvs_phase_name(p), share, count, p99, max);
	}
}

static void alert_row(struct screen *out, const struct uvs_alert *a, const char *place)
{
	const struct uvs_alert_loop_blocked *b = &a->loop_blocked;
	char when[16], buf[UVS_DURATION_BUF], cols[UVS_TOP_PLACE];

	uvs_format_clock(a->ts_ns, when, sizeof(when));
	if (a->state == UVS_ALERT_RESOLVED && a->kind != UVS_ALERT_LOOP_BLOCKED) {
		uvs_format_duration(a->firing_ns, buf, sizeof(buf));
		line(out, false, "%s  resolved: %s, after %s", when, uvs_alert_kind_name(a->kind),
		     buf);
		return;
	}
	switch (a->kind) {
	case UVS_ALERT_LOOP_BLOCKED:
		uvs_format_duration(b->blocked_ns, buf, sizeof(buf));
		line(out, false, "%s  %s/%d %s %s%s%s%s%s", when, uvs_role_name(b->role), b->tid,
		     b->ongoing ? "blocked for" : "was blocked for",
		     b->since_attach ? "at least " : "", buf, b->ongoing ? " so far" : "",
		     b->stopped ? ", stopped: " : "",
		     b->stopped ? uvs_loop_stop_name(b->stopped) : "");
		if (place && *place) {
			ascii_columns(cols, sizeof(cols), place, UVS_TOP_PLACE);
			line(out, false, "          in %s", cols);
		}
		return;
	case UVS_ALERT_POOL_SATURATED:
		uvs_format_percent(a->pool_saturated.saturation, buf, sizeof(buf));
		line(out, false, "%s  thread pool saturated %s, %" PRIu64 " queued", when, buf,
		     a->pool_saturated.queued_max);
		return;
	case UVS_ALERT_SYNC_IO_ON_LOOP:
		uvs_format_duration(a->sync_io.total_ns, buf, sizeof(buf));
		line(out, false, "%s  %" PRIu64 " sync fs calls on a loop thread, %s", when,
		     a->sync_io.count, buf);
		return;
	case UVS_ALERT_FD_LIMIT:
		line(out, false, "%s  near the fd limit: %" PRIu64 " fds open", when, a->fd_limit.open);
		return;
	case UVS_ALERT_FD_GROWTH:
		line(out, false, "%s  fds growing: %" PRIu64 " fds open", when, a->fd_growth.open);
		return;
	case UVS_ALERT_CLOSE_WAIT_GROWTH:
		line(out, false, "%s  CLOSE_WAIT growing: %" PRIu64 " sockets", when,
		     a->close_wait_growth.close_wait);
		return;
	case UVS_ALERT_ACCEPT_QUEUE_FULL:
		line(out, false, "%s  accept queue full: %" PRIu64 " of %" PRIu64, when,
		     a->accept_queue_full.queued, a->accept_queue_full.limit);
		return;
	case UVS_ALERT_RETRANSMIT_RATE:
		line(out, false, "%s  %" PRIu64 " TCP retransmits in an interval", when,
		     a->retransmit_rate.retransmits);
		return;
	case UVS_ALERT_LOOP_UTILIZATION:
		uvs_format_percent(a->loop_utilization.share, buf, sizeof(buf));
		line(out, false, "%s  %s/%d busy %s of the time", when,
		     uvs_role_name(a->loop_utilization.role), a->loop_utilization.tid, buf);
		return;
	case UVS_ALERT_GC_SHARE:
		uvs_format_percent(a->gc_share.share, buf, sizeof(buf));
		line(out, false, "%s  %s/%d in GC %s of the time", when,
		     uvs_role_name(a->gc_share.role), a->gc_share.tid, buf);
		return;
	case UVS_ALERT_POOL_QUEUE_WAIT:
		uvs_format_duration(a->pool_queue_wait.wait_p99_ns, buf, sizeof(buf));
		line(out, false, "%s  pool queue wait %s (%s, p99)", when, buf,
		     uvs_pool_kind_name(a->pool_queue_wait.pool_kind));
		return;
	}
}

static void recent_alerts(struct screen *out, const struct uvs_top_context *ctx)
{
	size_t i, first;

	if (!ctx->recent || !ctx->nrecent)
		return;
	first = ctx->nrecent > UVS_TOP_ALERTS ? ctx->nrecent - UVS_TOP_ALERTS : 0;
	line(out, false, "%s", "");
	line(out, ctx->ansi, "recent alerts");
	for (i = first; i < ctx->nrecent; i++)
		alert_row(out, &ctx->recent[i], ctx->recent_places ? ctx->recent_places[i] : NULL);
}

#define POOL_FMT "  %-8s %8s %10s %10s %12s %12s"

/* The thread pool panel: the pool as a whole, then one row per kind that had work. */
static void pool_panel(struct screen *out, const struct uvs_pool_snapshot *p, bool ansi)
{
	char sat[16], jobs[24], done[24], w50[UVS_DURATION_BUF], w99[UVS_DURATION_BUF];
	char s99[UVS_DURATION_BUF];
	int k;

	if (!p->available)
		return;
	uvs_format_percent(p->saturation, sat, sizeof(sat));
	line(out, false, "%s", "");
	if (p->statics_only) {
		/* libuv's statics: no jobs per kind, no sync fs calls (the proc backend). */
		line(out, ansi, "pool size %u  queued %" PRId64 " (max %" PRIu64 ")  running %"
		     PRId64 "  saturated %s (sampled)  jobs per kind: unavailable", p->size,
		     p->queued, p->queued_max, p->running, sat);
		return;
	}
	line(out, ansi, "pool size %u  queued %" PRId64 " (max %" PRIu64 ")  running %" PRId64
	     "  saturated %s  sync fs on loop %" PRIu64, p->size, p->queued, p->queued_max,
	     p->running, sat, p->sync_fs_on_loop);
	if (p->fs_io_uring)
		line(out, false, "fs work goes through io_uring (UV_USE_IO_URING=1): not counted here");
	line(out, false, POOL_FMT, "KIND", "JOBS", "DONE", "WAIT P50", "WAIT P99", "SERVICE P99");
	for (k = 0; k < UVS_POOL_KINDS; k++) {
		const struct uvs_pool_kind_snapshot *ks = &p->kinds[k];

		if (!ks->submitted && !ks->completed)
			continue;
		snprintf(jobs, sizeof(jobs), "%" PRIu64, ks->submitted);
		snprintf(done, sizeof(done), "%" PRIu64, ks->completed);
		uvs_format_duration(ks->wait_p50_ns, w50, sizeof(w50));
		uvs_format_duration(ks->wait_p99_ns, w99, sizeof(w99));
		uvs_format_duration(ks->service_p99_ns, s99, sizeof(s99));
		line(out, false, POOL_FMT, uvs_pool_kind_name((enum uvs_pool_kind)k), jobs, done,
		     w50, w99, s99);
	}
}

#define TOP_SYSCALLS 5
#define SYS_FMT "  %-6s %-16s %10s %9s %9s %9s"

/*
 * The syscall panel: totals by role, the busiest syscalls of the interval (idle waits left
 * out), and the slow ones on loop threads.
 */
static void syscall_panel(struct screen *out, const struct uvs_syscalls_snapshot *y, bool ansi)
{
	char name[32], count[24], total[UVS_DURATION_BUF], p99[UVS_DURATION_BUF];
	char max[UVS_DURATION_BUF];
	size_t i, shown = 0;

	if (!y->available)
		return;
	line(out, false, "%s", "");
	line(out, ansi, "syscalls %" PRIu64 "  loop %" PRIu64 "  pool %" PRIu64 "  other %" PRIu64
	     "  errors %" PRIu64, y->count, y->role_count[UVS_SYS_LOOP],
	     y->role_count[UVS_SYS_POOL], y->role_count[UVS_SYS_OTHER], y->errors);
	for (i = 0; i < y->nrows && shown < TOP_SYSCALLS; i++) {
		const struct uvs_syscall_row *r = &y->rows[i];

		if (uvs_syscall_idle_wait(r->nr, r->role))
			continue;
		if (!shown++)
			line(out, false, SYS_FMT, "ROLE", "SYSCALL", "COUNT", "TOTAL", "P99", "MAX");
		snprintf(count, sizeof(count), "%" PRIu64, r->count);
		uvs_format_duration(r->total_ns, total, sizeof(total));
		uvs_format_duration(r->p99_ns, p99, sizeof(p99));
		uvs_format_duration(r->max_ns, max, sizeof(max));
		line(out, false, SYS_FMT, uvs_sys_role_name(r->role),
		     uvs_syscall_name(r->nr, name, sizeof(name)), count, total, p99, max);
	}
	for (i = 0; i < y->nslow && i < TOP_SYSCALLS; i++) {
		uvs_format_duration(y->slow[i].duration_ns, total, sizeof(total));
		line(out, false, "  slow on %s/%d: %s took %s", uvs_role_name(y->slow[i].role),
		     y->slow[i].tid, uvs_syscall_name(y->slow[i].nr, name, sizeof(name)), total);
	}
	if (y->slow_count > i)
		line(out, false, "  and %" PRIu64 " more slow syscalls on loop threads",
		     y->slow_count - i);
}

/* The sockets panel: states now, accept queues, and the interval's connects and retransmits. */
static void socket_panel(struct screen *out, const struct uvs_sockets_snapshot *k, bool ansi)
{
	char p50[UVS_DURATION_BUF], p99[UVS_DURATION_BUF], peer[64];
	size_t i;

	if (!k->available)
		return;
	line(out, false, "%s", "");
	line(out, ansi, "tcp %" PRIu64 "  established %" PRIu64 "  close_wait %" PRIu64
	     "  listen %" PRIu64 "  udp %" PRIu64 "  unix %" PRIu64, k->tcp_open,
	     k->tcp_states[UVS_TCP_ESTABLISHED], k->tcp_states[UVS_TCP_CLOSE_WAIT], k->listeners,
	     k->udp_open, k->unix_open);
	if (k->listeners && k->accept_limit_unknown)
		line(out, false, "  accept queue %" PRIu64 " (limit unknown)", k->accept_queue_max);
	else if (k->listeners)
		line(out, false, "  accept queue %" PRIu64 " of %" PRIu64 "%s", k->accept_queue_max,
		     k->accept_queue_limit, k->accept_queue_full ? "  FULL" : "");
	if (!k->traced)
		return;
	uvs_format_duration(k->connect_p50_ns, p50, sizeof(p50));
	uvs_format_duration(k->connect_p99_ns, p99, sizeof(p99));
	line(out, false, "  connects %" PRIu64 " (p50 %s p99 %s)  failed %" PRIu64 " (refused %"
	     PRIu64 ", timed out %" PRIu64 ")  accepted %" PRIu64, k->connects, p50, p99,
	     k->connect_failed, k->connect_refused, k->connect_timed_out, k->accepted);
	line(out, false, "  retransmits %" PRIu64 "  new close_wait %" PRIu64 "  new time_wait %"
	     PRIu64, k->retransmits, k->close_wait_entered, k->time_wait_entered);
	for (i = 0; i < k->npeers && i < 3; i++) {
		uvs_format_endpoint(k->peers[i].family, k->peers[i].addr, k->peers[i].port, peer,
				    sizeof(peer));
		line(out, false, "    %s: %" PRIu64 " retransmits", peer, k->peers[i].count);
	}
}

/* "fds 123 of 1024 (+2): file 10 socket 100 pipe 3 anon 10 other 0" */
static void fd_line(struct screen *out, const struct uvs_fd_snapshot *f)
{
	char limit[24];

	if (!f->available)
		return;
	if (f->limit && f->limit != UINT64_MAX)
		snprintf(limit, sizeof(limit), "%" PRIu64, f->limit);
	else
		snprintf(limit, sizeof(limit), "unlimited");
	line(out, false, "%s", "");
	line(out, false, "fds %" PRIu64 " of %s (%+" PRId64 "): file %" PRIu64 " socket %" PRIu64
	     " pipe %" PRIu64 " anon %" PRIu64 " other %" PRIu64, f->open, limit, f->growth,
	     f->by_type[UVS_FD_FILE], f->by_type[UVS_FD_SOCKET], f->by_type[UVS_FD_PIPE],
	     f->by_type[UVS_FD_ANON], f->by_type[UVS_FD_OTHER]);
}

int uvs_top_render(FILE *f, const struct uvs_snapshot *s, const struct uvs_top_context *ctx)
{
	/*
	 * One line less than the terminal has (the last one's newline would scroll the top line
	 * away), of which the last is kept for the way out ("q or Ctrl-C to quit").
	 */
	struct screen scr = { .f = f, .width = TOP_COLS,
			      .rows = ctx->rows > 2 ? ctx->rows - 2 : ctx->rows ? 0 : SIZE_MAX };
	struct screen *out = &scr;
	size_t i;

	if (ctx->cols && ctx->cols < TOP_COLS)
		scr.width = ctx->cols;
	if (ctx->ansi)
		fputs(ANSI_CLEAR, f);
	header(out, s, ctx);
	line(out, false, "%s", "");
	loop_table(out, s, ctx->ansi);
	gc_lines(out, s);
	for (i = 0; i < nloops(s); i++)
		if (s->loops[i].has_phases)
			phase_table(out, &s->loops[i], ctx->ansi);
	pool_panel(out, &s->pool, ctx->ansi);
	syscall_panel(out, &s->syscalls, ctx->ansi);
	fd_line(out, &s->fds);
	socket_panel(out, &s->sockets, ctx->ansi);
	recent_alerts(out, ctx);
	line(out, false, "%s", "");
	if (scr.rows != SIZE_MAX)
		scr.rows++; /* the line kept for it */
	line(out, false, "q or Ctrl-C to quit");
	return ferror(f) ? -EIO : 0;
}

/* What the top output keeps between calls: the attach facts, the last frame, recent alerts. */
struct top_state {
	char exe[UVS_PATH_CHARS];
	char mode[32];
	char libuv_version[32];
	int pid;
	uint64_t block_threshold_ns;
	uint64_t start_mono;
	bool have_frame;
	struct uvs_snapshot *frame;
	size_t nrecent;
	struct uvs_alert recent[UVS_TOP_ALERTS];
	char recent_places[UVS_TOP_ALERTS][UVS_TOP_PLACE];
};

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static int top_begin(struct uvs_output *o, const struct uvs_attach_info *a)
{
	struct top_state *t = o->priv;

	copy_str(t->exe, sizeof(t->exe), a->exe);
	copy_str(t->mode, sizeof(t->mode), a->mode);
	copy_str(t->libuv_version, sizeof(t->libuv_version), a->libuv_version);
	t->pid = a->pid;
	t->block_threshold_ns = a->block_threshold_ns;
	t->start_mono = uvs_now_mono();
	t->frame = calloc(1, sizeof(*t->frame));
	return t->frame ? 0 : -ENOMEM;
}

static int top_draw(struct uvs_output *o)
{
	struct top_state *t = o->priv;
	struct uvs_top_context ctx = {
		.pid = t->pid,
		.target = t->exe,
		.mode = t->mode,
		.libuv_version = t->libuv_version,
		.block_threshold_ns = t->block_threshold_ns,
		.elapsed_ns = uvs_now_mono() - t->start_mono,
		.recent = t->recent,
		.recent_places = t->recent_places,
		.nrecent = t->nrecent,
		.ansi = isatty(fileno(o->out)),
	};
	struct winsize ws;

	/* A terminal's size, read at each frame: the operator may resize the window. */
	if (ctx.ansi && ioctl(fileno(o->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
		ctx.cols = ws.ws_col;
		ctx.rows = ws.ws_row;
	}

	return t->have_frame ? uvs_top_render(o->out, t->frame, &ctx) : 0;
}

static int top_interval(struct uvs_output *o, const struct uvs_snapshot *s)
{
	struct top_state *t = o->priv;

	if (!t->frame)
		return -ENOMEM;
	memcpy(t->frame, s, sizeof(*s));
	t->have_frame = true;
	return top_draw(o);
}

/* An alert redraws the last frame at once, with the alert in it. */
static int top_alert(struct uvs_output *o, const struct uvs_alert *a)
{
	struct top_state *t = o->priv;

	const struct uvs_alert_stacks *st = a->kind == UVS_ALERT_LOOP_BLOCKED ?
						    a->loop_blocked.stacks : NULL;

	if (t->nrecent == UVS_TOP_ALERTS) {
		memmove(t->recent, t->recent + 1, sizeof(t->recent[0]) * (UVS_TOP_ALERTS - 1));
		memmove(t->recent_places, t->recent_places + 1,
			sizeof(t->recent_places[0]) * (UVS_TOP_ALERTS - 1));
		t->nrecent--;
	}
	t->recent[t->nrecent] = *a;
	t->recent_places[t->nrecent][0] = '\0';
	/* The stacks live only during this call: keep the top place's line. */
	if (st && st->nplaces)
		uvs_stack_line(st->places[0].frames, st->places[0].nframes,
			       t->recent_places[t->nrecent], UVS_TOP_PLACE);
	if (a->kind == UVS_ALERT_LOOP_BLOCKED)
		t->recent[t->nrecent].loop_blocked.stacks = NULL;
	t->nrecent++;
	return top_draw(o);
}

/* The session's summary, as watch prints it, below the last frame. */
static int top_summary(struct uvs_output *o, const struct uvs_snapshot *s)
{
	if (isatty(fileno(o->out)))
		fputc('\n', o->out);
	return uvs_watch_summary(o->out, s);
}

static void top_destroy(struct uvs_output *o)
{
	struct top_state *t = o->priv;

	free(t->frame);
}

static const struct uvs_output_ops top_ops = {
	.name = "top",
	.begin = top_begin,
	.interval = top_interval,
	.alert = top_alert,
	.summary = top_summary,
	.destroy = top_destroy,
};

struct uvs_output *uvs_top_output_new(FILE *out)
{
	return uvs_output_new(&top_ops, out, sizeof(struct top_state));
}
