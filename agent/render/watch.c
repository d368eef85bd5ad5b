// SPDX-License-Identifier: MIT
/*
 * Text of `uvscope watch`. One line per interval so the output greps and tails well; the
 * detail lives in --json and `top`.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "util/duration.h"
#include "render/guard_text.h"
#include "render/stack_text.h"
#include "render/watch.h"
#include "core/socket_list.h"
#include "core/syscall_names.h"

static size_t nloops(const struct uvs_snapshot *s)
{
	return s->nloops < UVS_MAX_LOOPS ? s->nloops : UVS_MAX_LOOPS;
}

/* "21:50:03", then whose line it is when there are several targets (who: NULL when not). */
static void put_head(FILE *out, uint64_t ts_ns, const char *who)
{
	char buf[16];

	uvs_format_clock(ts_ns, buf, sizeof(buf));
	fputs(buf, out);
	if (who)
		fprintf(out, " %s", who);
}

/* " <label> <duration>", the building block of every line here. */
static void put_dur(FILE *out, const char *label, uint64_t ns)
{
	char buf[UVS_DURATION_BUF];

	uvs_format_duration(ns, buf, sizeof(buf));
	fprintf(out, " %s %s", label, buf);
}

/* " gc 12 (1 major) 12.3ms": V8's collections on the loop's thread, when there were any. */
static void put_gc(FILE *out, const struct uvs_loop_snapshot *l)
{
	char total[UVS_DURATION_BUF];

	if (!l->has_gc || !l->gc.count)
		return;
	uvs_format_duration(l->gc.total_ns, total, sizeof(total));
	fprintf(out, " gc %" PRIu64 " (%" PRIu64 " major) %s", l->gc.count, l->gc.major, total);
}

static void put_segment(FILE *out, const struct uvs_loop_snapshot *l)
{
	char pct[16];

	uvs_format_percent(l->utilization, pct, sizeof(pct));
	fprintf(out, "%s/%d util %s", uvs_role_name(l->role), l->tid, pct);
	/* Figures the collector cannot give are "-", never 0 (the proc backend). */
	if (l->no_iterations)
		fputs(" it -", out);
	else
		fprintf(out, " it %" PRIu64, l->iterations);
	if (!l->no_busy_dist) {
		put_dur(out, "p99", l->busy_p99_ns);
		put_dur(out, "max", l->busy_max_ns);
	}
	if (l->blocks)
		fprintf(out, " blocks %" PRIu64, l->blocks);
	if (l->blocked_now)
		put_dur(out, "BLOCKED", l->blocked_for_ns);
	put_gc(out, l);
}

/* " | pool q 3 (max 14) run 2/2 sat 90.3% fs 27 dns 3": the pool, when it is measured. */
static void put_pool(FILE *out, const struct uvs_pool_snapshot *p)
{
	char sat[16];
	int k;

	if (!p->available)
		return;
	uvs_format_percent(p->saturation, sat, sizeof(sat));
	fprintf(out, " | pool q %" PRId64 " (max %" PRIu64 ") run %" PRId64 "/%u sat %s", p->queued,
		p->queued_max, p->running, p->size, sat);
	for (k = 0; k < UVS_POOL_KINDS; k++)
		if (p->kinds[k].submitted)
			fprintf(out, " %s %" PRIu64, uvs_pool_kind_name((enum uvs_pool_kind)k),
				p->kinds[k].submitted);
	if (p->sync_fs_on_loop)
		fprintf(out, " sync-fs-on-loop %" PRIu64, p->sync_fs_on_loop);
	if (p->fs_io_uring)
		fputs(" (fs via io_uring, not counted)", out);
}

/* " | sys 554 SLOW futex 300ms": syscalls, and each slow one on a loop thread. */
static void put_syscalls(FILE *out, const struct uvs_syscalls_snapshot *y)
{
	char name[32];
	size_t i;

	if (!y->available)
		return;
	fprintf(out, " | sys %" PRIu64, y->count);
	for (i = 0; i < y->nslow; i++) {
		fprintf(out, " SLOW %s/%d", uvs_role_name(y->slow[i].role), y->slow[i].tid);
		put_dur(out, uvs_syscall_name(y->slow[i].nr, name, sizeof(name)),
			y->slow[i].duration_ns);
	}
	if (y->slow_count > y->nslow)
		fprintf(out, " (+%" PRIu64 " more slow)", y->slow_count - y->nslow);
}

/* " | tcp 104 (est 100 cw 2 acceptq 0/511) conn 3 p99 1.20ms": the target's sockets. */
static void put_sockets(FILE *out, const struct uvs_sockets_snapshot *k)
{
	if (!k->available)
		return;
	fprintf(out, " | tcp %" PRIu64 " (est %" PRIu64, k->tcp_open,
		k->tcp_states[UVS_TCP_ESTABLISHED]);
	if (k->tcp_states[UVS_TCP_CLOSE_WAIT])
		fprintf(out, " cw %" PRIu64, k->tcp_states[UVS_TCP_CLOSE_WAIT]);
	if (k->listeners)
		fprintf(out, " acceptq %" PRIu64 "/%" PRIu64, k->accept_queue_max,
			k->accept_queue_limit);
	fputc(')', out);
	if (k->traced && k->connects) {
		fprintf(out, " conn %" PRIu64, k->connects);
		put_dur(out, "p99", k->connect_p99_ns);
	}
	if (k->traced && k->connect_failed)
		fprintf(out, " failed %" PRIu64, k->connect_failed);
	if ((k->traced || k->retrans_from_info) && k->retransmits)
		fprintf(out, " retrans %" PRIu64, k->retransmits);
	if (k->udp_open)
		fprintf(out, " udp %" PRIu64, k->udp_open);
}

/* " | guard 48210 hits/s: phases off, stacks 9 Hz": what the overhead guard turned down. */
static void put_guard(FILE *out, const struct uvs_guard_snapshot *g)
{
	char state[96];

	uvs_guard_text_state(g, state, sizeof(state));
	if (state[0])
		fprintf(out, " | guard %" PRIu64 " hits/s: %s", g->rate, state);
}

int uvs_watch_interval_of(FILE *out, const char *who, const struct uvs_snapshot *s)
{
	size_t i;

	put_head(out, s->ts_ns, who);
	if (!nloops(s))
		fputs(" no event loop seen yet", out);
	for (i = 0; i < nloops(s); i++) {
		fputs(i ? " | " : " ", out);
		put_segment(out, &s->loops[i]);
	}
	if (s->loops_left_out)
		fprintf(out, " | %" PRIu64 " more loop%s not shown", s->loops_left_out,
			s->loops_left_out == 1 ? "" : "s");
	put_pool(out, &s->pool);
	put_syscalls(out, &s->syscalls);
	put_sockets(out, &s->sockets);
	if (s->fds.available)
		fprintf(out, " | fds %" PRIu64 " (%+" PRId64 ")", s->fds.open, s->fds.growth);
	put_guard(out, &s->guard);
	if (uvs_agent_losses(s))
		fprintf(out, " | LOST %" PRIu64, uvs_agent_losses(s));
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

int uvs_watch_interval(FILE *out, const struct uvs_snapshot *s)
{
	return uvs_watch_interval_of(out, NULL, s);
}

int uvs_watch_pool_job_of(FILE *out, const char *who, const struct uvs_pool_job_record *j)
{
	const char *op = j->fs_type >= 0 ? uvs_fs_op_name((unsigned int)j->fs_type) : NULL;
	char wait[UVS_DURATION_BUF], service[UVS_DURATION_BUF];

	uvs_format_duration(j->wait_ns, wait, sizeof(wait));
	uvs_format_duration(j->service_ns, service, sizeof(service));
	put_head(out, j->ts_ns, who);
	fprintf(out, " job %s%s%s on %d: waited %s, served in %s\n", uvs_pool_kind_name(j->kind),
		op ? " " : "", op ? op : "", j->tid, wait, service);
	return ferror(out) ? -EIO : 0;
}

int uvs_watch_pool_job(FILE *out, const struct uvs_pool_job_record *j)
{
	return uvs_watch_pool_job_of(out, NULL, j);
}

/* "main loop", "worker loop", ...; a plain "loop" role reads better as "libuv loop". */
static const char *role_loop_name(enum uvs_role role)
{
	static const char *const names[] = {
		[UVS_ROLE_OTHER] = "other loop",
		[UVS_ROLE_MAIN] = "main loop",
		[UVS_ROLE_WORKER] = "worker loop",
		[UVS_ROLE_THREADPOOL] = "threadpool loop",
		[UVS_ROLE_LOOP] = "libuv loop",
	};

	if ((unsigned int)role >= sizeof(names) / sizeof(names[0]))
		return names[UVS_ROLE_OTHER];
	return names[role];
}

/* The block's stacks: the 3 most sampled places, each as its innermost JS frames. */
static void watch_block_stacks(FILE *out, const struct uvs_alert_stacks *st)
{
	char share[UVS_DURATION_BUF], line[480];

	for (size_t i = 0; i < st->nplaces; i++) {
		const struct uvs_alert_stack *p = &st->places[i];

		/* Shares of time: each sample stands for its period, which may change mid-block. */
		uvs_format_percent(st->time_ns ? (double)p->time_ns / (double)st->time_ns :
						 (double)p->samples / (double)st->samples,
				   share, sizeof(share));
		fprintf(out, "    %6s  %s%s\n", share, p->off_cpu * 2 > p->samples ? "(asleep) " : "",
			uvs_stack_line(p->frames, p->nframes, line, sizeof(line)));
	}
}

static void watch_loop_blocked(FILE *out, const struct uvs_alert_loop_blocked *b)
{
	char blocked[UVS_DURATION_BUF], threshold[UVS_DURATION_BUF], gc[UVS_DURATION_BUF];
	bool stacks = b->stacks && b->stacks->samples;

	uvs_format_duration(b->blocked_ns, blocked, sizeof(blocked));
	uvs_format_duration(b->threshold_ns, threshold, sizeof(threshold));
	fprintf(out, " ALERT loop blocked: %s (tid %d) ", role_loop_name(b->role), b->tid);
	/* Busy already when uvscope came: what it says is counted from then, a lower bound. */
	if (b->ongoing && b->since_attach)
		fprintf(out, "blocked for at least %s so far, busy since before uvscope attached "
			"(threshold %s)", blocked, threshold);
	else if (b->ongoing)
		fprintf(out, "blocked for %s so far (threshold %s)", blocked, threshold);
	else if (b->since_attach)
		fprintf(out, "was blocked for at least %s, busy since before uvscope attached",
			blocked);
	else
		fprintf(out, "was blocked for %s", blocked);
	if (!b->ongoing && b->has_gc) {
		uvs_format_duration(b->gc_ns, gc, sizeof(gc));
		fprintf(out, ", %s of it in GC", gc);
	}
	if (b->stopped)
		fprintf(out, b->ongoing ? ": %s" : "; at times %s", uvs_loop_stop_text(b->stopped));
	if (stacks && b->stacks->cover_ns) {
		char cover[UVS_DURATION_BUF];

		/* More samples than are kept per thread: they are the block's last part. */
		uvs_format_duration(b->stacks->cover_ns, cover, sizeof(cover));
		fprintf(out, "; %" PRIu64 " samples, of its last %s:\n", b->stacks->samples, cover);
	} else if (stacks) {
		fprintf(out, "; %" PRIu64 " samples:\n", b->stacks->samples);
	} else
		fputc('\n', out);
	if (stacks)
		watch_block_stacks(out, b->stacks);
}

/* utilization and gc_share: which loop, its share and the rule's threshold. */
static void watch_loop_share(FILE *out, const char *what, const struct uvs_alert_loop_share *l)
{
	char share[UVS_DURATION_BUF], threshold[UVS_DURATION_BUF];

	uvs_format_percent(l->share, share, sizeof(share));
	uvs_format_percent(l->threshold, threshold, sizeof(threshold));
	fprintf(out, " ALERT %s: %s (tid %d) %s of the time (threshold %s)\n", what,
		role_loop_name(l->role), l->tid, share, threshold);
}

/* "in each of the last 3 intervals", "in the last interval". */
static const char *in_intervals(int n, char *buf, size_t cap)
{
	if (n == 1)
		snprintf(buf, cap, "in the last interval");
	else
		snprintf(buf, cap, "in each of the last %d intervals", n);
	return buf;
}

int uvs_watch_alert_of(FILE *out, const char *who, const struct uvs_alert *a)
{
	char buf[UVS_DURATION_BUF], thr[UVS_DURATION_BUF], when[48];

	put_head(out, a->ts_ns, who);
	/* A resolved alert says what ended and how long it lasted (loop_blocked says as ever). */
	if (a->state == UVS_ALERT_RESOLVED && a->kind != UVS_ALERT_LOOP_BLOCKED) {
		const struct uvs_alert_loop_share *l = a->kind == UVS_ALERT_LOOP_UTILIZATION ?
							       &a->loop_utilization :
						       a->kind == UVS_ALERT_GC_SHARE ? &a->gc_share :
										       NULL;

		uvs_format_duration(a->firing_ns, buf, sizeof(buf));
		fprintf(out, " RESOLVED %s", uvs_alert_kind_name(a->kind));
		/* A loop's alert says which loop: a process has several. */
		if (l)
			fprintf(out, ": %s (tid %d)", role_loop_name(l->role), l->tid);
		fprintf(out, ", after %s%s\n", buf,
			a->detached ? ": the process is no longer watched" : "");
		return ferror(out) ? -EIO : 0;
	}
	switch (a->kind) {
	case UVS_ALERT_LOOP_BLOCKED:
		watch_loop_blocked(out, &a->loop_blocked);
		break;
	case UVS_ALERT_POOL_SATURATED:
		uvs_format_percent(a->pool_saturated.saturation, buf, sizeof(buf));
		fprintf(out, " ALERT thread pool saturated: work waited %s of the time, up to %"
			PRIu64 " jobs queued behind %u threads", buf, a->pool_saturated.queued_max,
			a->pool_saturated.size);
		/* Work waits while threads idle: dns beyond libuv's slow-I/O cap. */
		if (a->pool_saturated.running >= 0 &&
		    a->pool_saturated.running < (int64_t)a->pool_saturated.size)
			fprintf(out, ", %" PRId64 " of them busy (libuv runs dns on at most half)",
				a->pool_saturated.running);
		fputc('\n', out);
		break;
	case UVS_ALERT_SYNC_IO_ON_LOOP:
		uvs_format_duration(a->sync_io.total_ns, buf, sizeof(buf));
		fprintf(out, " ALERT sync fs on a loop thread: %" PRIu64 " calls, %s\n",
			a->sync_io.count, buf);
		break;
	case UVS_ALERT_FD_LIMIT:
		fprintf(out, " ALERT file descriptors: %" PRIu64 " open of a limit of %" PRIu64 "\n",
			a->fd_limit.open, a->fd_limit.limit);
		break;
	case UVS_ALERT_FD_GROWTH:
		fprintf(out, " ALERT file descriptors grew %s: %" PRIu64 " open (a leak?)\n",
			in_intervals(a->fd_growth.windows, when, sizeof(when)), a->fd_growth.open);
		break;
	case UVS_ALERT_CLOSE_WAIT_GROWTH:
		fprintf(out, " ALERT sockets in CLOSE_WAIT grew %s: %" PRIu64 " (the peers closed; "
			"the app never ended them)\n",
			in_intervals(a->close_wait_growth.windows, when, sizeof(when)),
			a->close_wait_growth.close_wait);
		break;
	case UVS_ALERT_ACCEPT_QUEUE_FULL:
		fprintf(out, " ALERT accept queue full: %" PRIu64 " connections waiting, limit %"
			PRIu64 " (new ones are dropped)\n", a->accept_queue_full.queued,
			a->accept_queue_full.limit);
		break;
	case UVS_ALERT_RETRANSMIT_RATE:
		uvs_format_duration(a->retransmit_rate.window_ns, buf, sizeof(buf));
		fprintf(out, " ALERT TCP retransmits: %" PRIu64 " in %s\n",
			a->retransmit_rate.retransmits, buf);
		break;
	case UVS_ALERT_LOOP_UTILIZATION:
		watch_loop_share(out, "loop busy", &a->loop_utilization);
		break;
	case UVS_ALERT_GC_SHARE:
		watch_loop_share(out, "GC: in V8's collector", &a->gc_share);
		break;
	case UVS_ALERT_POOL_QUEUE_WAIT:
		uvs_format_duration(a->pool_queue_wait.wait_p99_ns, buf, sizeof(buf));
		uvs_format_duration(a->pool_queue_wait.threshold_ns, thr, sizeof(thr));
		fprintf(out, " ALERT pool queue wait: %s jobs waited %s for a thread (p99; "
			"threshold %s)\n", uvs_pool_kind_name(a->pool_queue_wait.pool_kind), buf, thr);
		break;
	}
	return ferror(out) ? -EIO : 0;
}

int uvs_watch_alert(FILE *out, const struct uvs_alert *a)
{
	return uvs_watch_alert_of(out, NULL, a);
}

/*
 * The phase table of a loop. When the guard had the phase uprobes out for part of the session,
 * the figures cover only the time they were in: the shares are of that time (the phases add up
 * to it), and the table says how much it was.
 */
static void summary_phases(FILE *out, const struct uvs_loop_snapshot *l, bool partial)
{
	uint64_t loop_ns = l->busy_ns + l->idle_ns;
	char share[16], p99[UVS_DURATION_BUF], max[UVS_DURATION_BUF];
	int p;

	if (partial) {
		char in[UVS_DURATION_BUF], all[UVS_DURATION_BUF];

		for (p = 0, loop_ns = 0; p < UVS_PHASE_COUNT; p++)
			loop_ns += l->phases[p].total_ns;
		uvs_format_duration(loop_ns, in, sizeof(in));
		uvs_format_duration(l->busy_ns + l->idle_ns, all, sizeof(all));
		fprintf(out, "    exact phases for %s of %s (the guard had them off the rest); "
			"shares of that time:\n", in, all);
	}
	fprintf(out, "    %-10s %6s %10s %7s %7s\n", "phase", "share", "count", "p99", "max");
	for (p = 0; p < UVS_PHASE_COUNT; p++) {
		const struct uvs_phase_snapshot *ph = &l->phases[p];

		uvs_format_phase_share(ph->total_ns, loop_ns, share, sizeof(share));
		uvs_format_duration(ph->p99_ns, p99, sizeof(p99));
		uvs_format_duration(ph->max_ns, max, sizeof(max));
		fprintf(out, "    %-10s %6s %10" PRIu64 " %7s %7s\n", uvs_phase_name(p), share,
			ph->count, p99, max);
	}
}

static void summary_loop(FILE *out, const struct uvs_loop_snapshot *l, bool phases_partial)
{
	char pct[16];

	uvs_format_percent(l->utilization, pct, sizeof(pct));
	/* comm was sanitized where it was read (util/text.h): it is safe to print. */
	fprintf(out, "  %s/%d (%.*s): ", uvs_role_name(l->role), l->tid,
		(int)strnlen(l->comm, sizeof(l->comm)), l->comm);
	if (l->no_iterations)
		fputs("iterations unavailable", out);
	else
		fprintf(out, "%" PRIu64 " iterations", l->iterations);
	fprintf(out, ", util %s", pct);
	if (!l->no_busy_dist) {
		fputs(", busy", out);
		put_dur(out, "p50", l->busy_p50_ns);
		put_dur(out, "p99", l->busy_p99_ns);
		put_dur(out, "max", l->busy_max_ns);
	}
	fprintf(out, ", %" PRIu64 " blocked episode%s", l->blocks, l->blocks == 1 ? "" : "s");
	/* An episode is counted when it ends: one still going at the end is said apart. */
	if (l->blocked_now) {
		char buf[UVS_DURATION_BUF];

		uvs_format_duration(l->blocked_for_ns, buf, sizeof(buf));
		fprintf(out, " and one still going at the end (blocked for %s)", buf);
	}
	if (l->has_gc) {
		fprintf(out, ", %" PRIu64 " GC%s (%" PRIu64 " major)", l->gc.count,
			l->gc.count == 1 ? "" : "s", l->gc.major);
		if (l->gc.count) {
			put_dur(out, "total", l->gc.total_ns);
			put_dur(out, "max", l->gc.max_ns);
		}
	}
	fputc('\n', out);
	if (l->has_phases)
		summary_phases(out, l, phases_partial);
}

/* ", names: localhost 3, api.example.com 1" (", names (sampled): localhost ~4816, ..." past
 * the exact budget: estimates) */
static void put_dns_names(FILE *out, const struct uvs_pool_snapshot *p)
{
	const char *about = p->dns_estimated ? "~" : "";
	size_t i;

	for (i = 0; i < p->ndns && i < UVS_DNS_TOP; i++) {
		fprintf(out, "%s%.*s %s%" PRIu64,
			i ? ", " : p->dns_estimated ? ", names (sampled): " : ", names: ",
			(int)strnlen(p->dns[i].name, sizeof(p->dns[i].name)), p->dns[i].name, about,
			p->dns[i].count);
	}
}

/* " size 4, 27 jobs (fs 27 wait p99 102us service p99 1.20ms), saturated 3.1%, ..." */
static void put_pool_summary(FILE *out, const struct uvs_pool_snapshot *p)
{
	char sat[16], w99[UVS_DURATION_BUF], s99[UVS_DURATION_BUF];
	int k;

	uvs_format_percent(p->saturation, sat, sizeof(sat));
	if (p->statics_only) {
		fprintf(out, " size %u, at most %" PRIu64 " queued, saturated %s (sampled); jobs "
			"unavailable", p->size, p->queued_max, sat);
		return;
	}
	/* libuv starts its threads at the first job: a size of 0 is a pool not started yet. */
	if (p->size)
		fprintf(out, " size %u,", p->size);
	else
		fputs(" not started (libuv starts its threads at the first job),", out);
	fprintf(out, " %" PRIu64 " jobs, saturated %s, %" PRIu64 " sync fs calls on a loop",
		p->submitted, sat, p->sync_fs_on_loop);
	for (k = 0; k < UVS_POOL_KINDS; k++) {
		const struct uvs_pool_kind_snapshot *ks = &p->kinds[k];

		if (!ks->submitted)
			continue;
		uvs_format_duration(ks->wait_p99_ns, w99, sizeof(w99));
		uvs_format_duration(ks->service_p99_ns, s99, sizeof(s99));
		fprintf(out, "\n    %-6s %" PRIu64 " jobs, wait p99 %s, service p99 %s",
			uvs_pool_kind_name((enum uvs_pool_kind)k), ks->submitted, w99, s99);
		if (k == UVS_POOL_DNS)
			put_dns_names(out, p);
	}
}

#define SUMMARY_SYSCALLS 5

/* The syscall totals by role and the busiest syscalls by time, idle waits left out. */
static void summary_syscalls(FILE *out, const struct uvs_syscalls_snapshot *y)
{
	char name[32], p99[UVS_DURATION_BUF], max[UVS_DURATION_BUF], total[UVS_DURATION_BUF];
	size_t i, shown = 0;

	fprintf(out, "  syscalls: %" PRIu64 " (loop %" PRIu64 ", pool %" PRIu64 ", other %" PRIu64
		"), %" PRIu64 " error%s, %" PRIu64 " slow on a loop thread\n", y->count,
		y->role_count[UVS_SYS_LOOP], y->role_count[UVS_SYS_POOL],
		y->role_count[UVS_SYS_OTHER], y->errors, y->errors == 1 ? "" : "s", y->slow_count);
	for (i = 0; i < y->nrows && shown < SUMMARY_SYSCALLS; i++) {
		const struct uvs_syscall_row *r = &y->rows[i];

		if (uvs_syscall_idle_wait(r->nr, r->role))
			continue;
		if (!shown++)
			fprintf(out, "    %-6s %-16s %10s %9s %9s %9s\n", "role", "syscall", "count",
				"total", "p99", "max");
		uvs_format_duration(r->total_ns, total, sizeof(total));
		uvs_format_duration(r->p99_ns, p99, sizeof(p99));
		uvs_format_duration(r->max_ns, max, sizeof(max));
		fprintf(out, "    %-6s %-16s %10" PRIu64 " %9s %9s %9s\n", uvs_sys_role_name(r->role),
			uvs_syscall_name(r->nr, name, sizeof(name)), r->count, total, p99, max);
	}
}

/* Every counter of what uvscope lost, one line, only when something was. */
static void put_losses(FILE *out, const struct uvs_snapshot *s)
{
	const struct uvs_agent_snapshot *a = &s->agent;

	if (!uvs_agent_losses(s))
		return;
	fprintf(out, "  lost: %" PRIu64 " pool jobs not followed, %" PRIu64 " uv_queue_work jobs of a "
		"caller loaded after attach, %" PRIu64 " pool jobs in flight as the guard put the "
		"pool's probes back, %" PRIu64 " pool job records, %"
		PRIu64 " syscalls not counted, %" PRIu64 " syscall pairs without a slot, %" PRIu64
		" slow syscall events, %" PRIu64 " sockets not followed, %" PRIu64
		" stack samples, %" PRIu64 " threads' GC not followed, %" PRIu64 " GC records\n",
		a->pool_jobs_lost, a->pool_jobs_unfollowed, a->pool_jobs_unseen, a->pool_records_dropped,
		s->syscalls.lost, a->syscall_pairs_unfit,
		a->slow_syscalls_dropped, a->sockets_lost, a->stack_samples_lost, a->gc_threads_lost,
		a->gc_records_dropped);
}

/*
 * The guard had the pool's probes out for part of the session: its jobs, sync fs calls and
 * saturation are those of the rest, and the summary says so (the intervals said which).
 */
static void put_pool_partial(FILE *out, const struct uvs_snapshot *s)
{
	char in[UVS_DURATION_BUF], all[UVS_DURATION_BUF];
	uint64_t off = s->guard.pool_off_ns;

	if (!off || s->pool.statics_only)
		return;
	uvs_format_duration(off < s->window_ns ? s->window_ns - off : 0, in, sizeof(in));
	uvs_format_duration(s->window_ns, all, sizeof(all));
	fprintf(out, "    jobs counted for %s of %s (the guard had the pool's probes out the "
		"rest)\n", in, all);
}

int uvs_watch_summary(FILE *out, const struct uvs_snapshot *s)
{
	char window[UVS_DURATION_BUF];
	size_t i;

	uvs_format_duration(s->window_ns, window, sizeof(window));
	/* It names its pid already, with or without other targets. */
	put_head(out, s->ts_ns, NULL);
	fprintf(out, " summary: pid %d, %s, %zu loop%s\n", s->pid, window, nloops(s),
		nloops(s) == 1 ? "" : "s");
	for (i = 0; i < nloops(s); i++)
		summary_loop(out, &s->loops[i], s->guard.phases_off_ns != 0);
	if (s->loops_left_out)
		fprintf(out, "  and %" PRIu64 " loop thread%s not listed (the table holds %d: "
			"the first to exit made room)\n", s->loops_left_out,
			s->loops_left_out == 1 ? "" : "s", UVS_MAX_LOOPS);
	if (s->pool.available) {
		fputs("  pool:", out);
		put_pool_summary(out, &s->pool);
		fputc('\n', out);
		put_pool_partial(out, s);
	}
	if (s->syscalls.available)
		summary_syscalls(out, &s->syscalls);
	fprintf(out, "  agent: %" PRIu64 " events, %" PRIu64 " dropped, %" PRIu64
		" insert failures\n", s->agent.events, s->agent.drops, s->agent.insert_failures);
	uvs_guard_text_summary(out, &s->guard);
	put_losses(out, s);
	return ferror(out) ? -EIO : 0;
}
