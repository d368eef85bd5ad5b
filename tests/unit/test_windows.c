// SPDX-License-Identifier: MIT
/*
 * Window math, apart from map reading: each stream's delta and percentile computation from
 * hand-made cumulative readings, as BPF would leave them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collect/fds.h"
#include "collect/loop_window.h"
#include "collect/pool_window.h"
#include "collect/sock_diag.h"
#include "collect/sock_trace.h"
#include "collect/socket_table.h"
#include "collect/syscall_window.h"
#include "collect/syscalls.h"
#include "util/clock.h"
#include "util/hist_math.h"

#define MS 1000000ULL

/* ---- loops ---------------------------------------------------------------------------------- */

Test(loop_window, deltas_running_span_and_block)
{
	struct uvs_loop_track *l = calloc(1, sizeof(*l));
	struct uvs_loop_stats *s = calloc(1, sizeof(*s));
	struct uvs_loop_reading r = { .stats = s, .alive = true };
	struct uvs_loop_snapshot out;

	l->tid = 42;
	l->role = UVS_ROLE_MAIN;
	s->iterations = 10;
	s->busy_ns = 40 * MS;
	s->idle_ns = 60 * MS;
	s->busy_max_ns = 9 * MS;
	for (int i = 0; i < 10; i++)
		uvs_hist_record(&s->busy, 4 * MS);
	r.in_wait = true;
	r.wait_start = 1000 * MS;
	uvs_loop_window(l, &r, 1010 * MS, 100 * MS, false, "node", &out);
	cr_expect_eq(out.iterations, 10);
	cr_expect_eq(out.busy_ns, 40 * MS);
	cr_expect_eq(out.idle_ns, 70 * MS, "the wait running now counts up to now");
	cr_expect_str_eq(out.comm, "node");
	cr_expect(!out.blocked_now);

	/* Next window: the loop left its wait at 1020 ms and is still busy at 1300 ms. */
	s->idle_ns = 80 * MS;
	r.in_wait = false;
	r.busy_since = 1020 * MS;
	uvs_loop_window(l, &r, 1300 * MS, 100 * MS, false, "node", &out);
	cr_expect_eq(out.iterations, 0);
	cr_expect_eq(out.idle_ns, 10 * MS, "80 done minus the 70 counted");
	cr_expect_eq(out.busy_ns, 280 * MS);
	cr_expect(out.blocked_now);
	cr_expect_eq(out.blocked_for_ns, 280 * MS);
	cr_expect_eq(out.busy_max_ns, 280 * MS, "the running span is the window's longest");

	/* The thread's entry was recreated (counts went back): never a wrapped delta. */
	s->iterations = 3;
	s->blocks = 0;
	l->prev.blocks = 5;
	uvs_loop_window(l, &r, 1400 * MS, 100 * MS, false, "node", &out);
	cr_expect_eq(out.iterations, 3);
	cr_expect_eq(out.blocks, 0);
	free(l);
	free(s);
}

/*
 * Node's internal loop thread has no libuv idle-time metrics: with the waits read from them at
 * uv__io_poll's entry nothing of it is measured, and it is not shown as a loop that never ran.
 * A loop with metrics, or one whose waits the hooks measure, is.
 */
Test(loop_window, a_loop_nothing_measures_is_not_shown)
{
	struct uvs_loop_stats *s = calloc(1, sizeof(*s));
	struct uvs_loop_reading r = { .stats = s, .alive = true };

	r.metrics = UVS_LOOP_METRICS_OFF;
	cr_expect(uvs_loop_unmeasured(&r), "no metrics, no figure");
	r.metrics = UVS_LOOP_METRICS_UNKNOWN;
	cr_expect(!uvs_loop_unmeasured(&r), "not known yet: a loop seen before its first poll");
	r.metrics = UVS_LOOP_METRICS_ON;
	cr_expect(!uvs_loop_unmeasured(&r), "an idle loop with metrics is an idle loop");
	r.metrics = UVS_LOOP_METRICS_OFF;
	s->iterations = 1;
	cr_expect(!uvs_loop_unmeasured(&r), "measured by its wait hooks");
	s->iterations = 0;
	s->idle_ns = 5 * MS;
	cr_expect(!uvs_loop_unmeasured(&r), "a wait measured, no iteration ended yet");
	free(s);
}

/* ---- pool ----------------------------------------------------------------------------------- */

Test(pool_window, kinds_saturation_and_sync_never_wrap)
{
	struct uvs_pool_history *h = calloc(1, sizeof(*h));
	struct uvs_pool_stats *now = calloc(1, sizeof(*now));
	struct uvs_pool_reading r = { .now = now, .size = 4 };
	struct uvs_pool_snapshot out;

	uvs_pool_history_init(h, 0);
	now->kind[UVS_POOL_FS].submitted = 27;
	now->kind[UVS_POOL_FS].completed = 27;
	now->queued_ns = 500 * MS;
	now->sync_fs = 10;
	now->sync_fs_loop = 9;
	now->sync_fs_loop_ns = 900;
	now->fs_ops[6] = 7;
	r.now_mono = 1000 * MS;
	r.queued_max = 3;
	uvs_pool_window_math(h, &r, &out);
	cr_expect(out.available);
	cr_expect_eq(out.submitted, 27);
	cr_expect_eq(out.kinds[UVS_POOL_FS].completed, 27);
	cr_expect_eq(out.fs_ops[6], 7);
	cr_expect_eq(out.queued_max, 3);
	cr_expect_float_eq(out.saturation, 0.5, 1e-9);
	cr_expect_eq(out.sync_fs_on_loop, 9);
	cr_expect_eq(out.sync_fs_on_loop_ns, 900);
	cr_expect_eq(out.sync_fs_other, 1);

	/* A window in which work is queued since 1500 ms and still is at 2000 ms. */
	now->queued = 2;
	now->queued_since = 1500 * MS;
	r.now_mono = 2000 * MS;
	r.queued_max = 0;
	uvs_pool_window_math(h, &r, &out);
	cr_expect_float_eq(out.saturation, 0.5, 1e-9);
	cr_expect_eq(out.queued_max, 2, "at least what is queued now");
	cr_expect_eq(out.submitted, 0);
	cr_expect_eq(out.sync_fs_on_loop, 0);

	/* Counters that went back (a reloaded object): the window is what they say, never 2^64. */
	now->sync_fs = 1;
	now->sync_fs_loop = 0;
	now->sync_fs_loop_ns = 0;
	r.now_mono = 3000 * MS;
	uvs_pool_window_math(h, &r, &out);
	cr_expect_eq(out.sync_fs_on_loop, 0);
	cr_expect_eq(out.sync_fs_on_loop_ns, 0);
	cr_expect_eq(out.sync_fs_other, 1);

	uvs_pool_totals_math(h, &r, &out);
	cr_expect_eq(out.submitted, 27, "the session's totals");
	free(h);
	free(now);
}

Test(pool_window, dns_names_per_window)
{
	struct uvs_pool_history *h = calloc(1, sizeof(*h));
	struct uvs_pool_snapshot out;
	char a[UVS_DNS_NAME_LEN] = "a.example", b[UVS_DNS_NAME_LEN] = "b.example";

	uvs_pool_history_init(h, 0);
	memset(&out, 0, sizeof(out));
	uvs_pool_dns_name(h, a, 3, false);
	uvs_pool_dns_name(h, b, 5, false);
	uvs_pool_dns_names_done(h, &out);
	cr_assert_eq(out.ndns, 2);
	cr_expect_str_eq(out.dns[0].name, "b.example");
	cr_expect_eq(out.dns[0].count, 5);
	memset(&out, 0, sizeof(out));
	uvs_pool_dns_name(h, a, 4, false);
	uvs_pool_dns_name(h, b, 5, false);
	uvs_pool_dns_names_done(h, &out);
	cr_assert_eq(out.ndns, 1, "only what changed in the window");
	cr_expect_eq(out.dns[0].count, 1);
	free(h);
}

/*
 * Names the target chose: three that sanitize to the same "dup?x" keep their own counts from
 * window to window (by their raw bytes) and are shown as one, their lookups added, in the
 * window and in the session's totals alike.
 */
Test(pool_window, dns_names_alike_once_sanitized_are_one)
{
	struct uvs_pool_history *h = calloc(1, sizeof(*h));
	struct uvs_pool_snapshot out;
	char esc[UVS_DNS_NAME_LEN] = "dup\x1bx", fs[UVS_DNS_NAME_LEN] = "dup\x1cx",
	     del[UVS_DNS_NAME_LEN] = "dup\x7fx", other[UVS_DNS_NAME_LEN] = "h.example";

	uvs_pool_history_init(h, 0);
	memset(&out, 0, sizeof(out));
	uvs_pool_dns_name(h, esc, 5, false);
	uvs_pool_dns_name(h, other, 6, false);
	uvs_pool_dns_name(h, fs, 5, false);
	uvs_pool_dns_name(h, del, 5, false);
	uvs_pool_dns_names_done(h, &out);
	cr_assert_eq(out.ndns, 2);
	cr_expect_str_eq(out.dns[0].name, "dup?x");
	cr_expect_eq(out.dns[0].count, 15);
	cr_expect_str_eq(out.dns[1].name, "h.example");
	cr_expect_eq(out.dns[1].count, 6);

	memset(&out, 0, sizeof(out));
	uvs_pool_dns_name(h, esc, 10, false);
	uvs_pool_dns_name(h, fs, 10, false);
	uvs_pool_dns_name(h, del, 6, false);
	uvs_pool_dns_name(h, other, 6, false);
	uvs_pool_dns_names_done(h, &out);
	cr_assert_eq(out.ndns, 1, "h.example made no lookup in this window");
	cr_expect_eq(out.dns[0].count, 11, "5 + 5 + 1: each raw name's own window");

	memset(&out, 0, sizeof(out));
	uvs_pool_dns_name(h, esc, 10, true);
	uvs_pool_dns_name(h, fs, 10, true);
	uvs_pool_dns_name(h, del, 6, true);
	uvs_pool_dns_name(h, other, 6, true);
	uvs_pool_dns_names_done(h, &out);
	cr_assert_eq(out.ndns, 2, "one line a name in the totals");
	cr_expect_str_eq(out.dns[0].name, "dup?x");
	cr_expect_eq(out.dns[0].count, 26);
	free(h);
}

/* A name that filled the key (the BPF side keeps 63 bytes) says it was cut, on a character. */
Test(pool_window, dns_name_that_filled_the_key_ends_in_an_ellipsis)
{
	struct uvs_pool_history *h = calloc(1, sizeof(*h));
	struct uvs_pool_snapshot out;
	char full[UVS_DNS_NAME_LEN] = {0}, want[UVS_DNS_NAME_LEN] = {0};

	memset(full, 'h', UVS_DNS_NAME_LEN - 1);
	memset(want, 'h', UVS_DNS_NAME_LEN - 4);
	strcat(want, "\xe2\x80\xa6");
	uvs_pool_history_init(h, 0);
	memset(&out, 0, sizeof(out));
	uvs_pool_dns_name(h, full, 2, false);
	uvs_pool_dns_names_done(h, &out);
	cr_assert_eq(out.ndns, 1);
	cr_expect_str_eq(out.dns[0].name, want);
	free(h);
}

/* ---- syscalls ------------------------------------------------------------------------------- */

static void stats(struct uvs_sys_stats *s, uint64_t count)
{
	memset(s, 0, sizeof(*s));
	s->count = count;
	s->total_ns = count * 1000;
	s->max_ns = 1000;
	s->latency.buckets[uvs_hist_bucket(1000)] = count;
}

/* One ring serves every target: a slow-syscall record names its process. */
Test(syscall_record, from_event_names_the_process)
{
	struct uvs_slow_syscall e = { .duration_ns = 75 * MS, .tid = 4243, .nr = 74, .ret = -5,
				      .tgid = 4242 };
	struct uvs_slow_call c;
	uint64_t before, after;
	pid_t tgid = 0;

	e.ts_ns = uvs_now_mono();
	before = uvs_now_real();
	cr_assert_eq(uvs_slow_syscall_from_event(&e, sizeof(e), &tgid, &c), 0);
	after = uvs_now_real();
	cr_expect_eq(tgid, 4242);
	cr_expect_eq(c.tid, 4243);
	cr_expect_eq(c.nr, 74);
	cr_expect_eq(c.ret, -5);
	cr_expect_eq(c.duration_ns, 75 * MS);
	/* Stamped now on the monotonic clock: now on the wall clock. */
	cr_expect(c.ts_ns <= after && c.ts_ns + MS >= before, "ts %" PRIu64 " in [%" PRIu64
		  ", %" PRIu64 "]", c.ts_ns, before, after);
	cr_expect_lt(uvs_slow_syscall_from_event(&e, sizeof(e) - 1, &tgid, &c), 0,
		     "a record without its process is refused");
}

/*
 * A long session: 40,000 (thread, syscall) pairs, five times the table's slots, from threads
 * that live one window each. Every call is counted and no pair is left without a slot.
 */
Test(syscall_window, slots_of_exited_threads_are_freed)
{
	struct uvs_sys_window w;
	struct uvs_syscalls_snapshot *out = calloc(1, sizeof(*out));
	struct uvs_sys_stats s;
	uint64_t expect = 0;
	int win, th, nr;

	cr_assert_eq(uvs_sys_window_init(&w), 0);
	for (win = 0; win < 100; win++) {
		uvs_sys_window_begin(&w);
		for (th = 0; th < 10; th++) {
			for (nr = 0; nr < 40; nr++) {
				struct uvs_sys_key k = { .tid = (uint32_t)(1000 + win * 10 + th),
							 .nr = (uint32_t)nr };

				/* Seen twice: alive at one window, gone (last figures) at the next. */
				stats(&s, 2);
				uvs_sys_window_add(&w, &k, &s, UVS_SYS_OTHER, true);
				stats(&s, 5);
				uvs_sys_window_add(&w, &k, &s, UVS_SYS_OTHER, false);
				expect += 5;
			}
		}
	}
	cr_expect_eq(w.unfit_session, 0);
	cr_expect_eq(w.nused, 0, "every slot is free again");
	uvs_sys_window_fill(&w, true, out);
	cr_expect_eq(out->count, expect);
	cr_expect_eq(out->rows_dropped, 0);
	cr_expect_eq(out->nrows, 40);
	uvs_sys_window_free(&w);
	free(out);
}

Test(syscall_window, full_table_counts_what_does_not_fit)
{
	struct uvs_sys_window w;
	struct uvs_sys_stats s;
	uint32_t i;

	cr_assert_eq(uvs_sys_window_init(&w), 0);
	uvs_sys_window_begin(&w);
	stats(&s, 1);
	for (i = 0; i < UVS_SYS_SLOTS + 10; i++) {
		struct uvs_sys_key k = { .tid = i, .nr = 1 };

		uvs_sys_window_add(&w, &k, &s, UVS_SYS_LOOP, true);
	}
	/* One slot is kept free: it ends every probe of the open-addressing table. */
	cr_expect_eq(w.unfit_window, 11);
	cr_expect_eq(w.nused, UVS_SYS_SLOTS - 1);
	uvs_sys_window_free(&w);
}

Test(syscall_window, deltas_and_reuse_of_a_thread_id)
{
	struct uvs_sys_window w;
	struct uvs_syscalls_snapshot *out = calloc(1, sizeof(*out));
	struct uvs_sys_key k = { .tid = 7, .nr = 202 };
	struct uvs_sys_stats s;

	cr_assert_eq(uvs_sys_window_init(&w), 0);
	uvs_sys_window_begin(&w);
	stats(&s, 10);
	uvs_sys_window_add(&w, &k, &s, UVS_SYS_LOOP, true);
	uvs_sys_window_begin(&w);
	stats(&s, 14);
	uvs_sys_window_add(&w, &k, &s, UVS_SYS_LOOP, true);
	uvs_sys_window_fill(&w, false, out);
	cr_expect_eq(out->count, 4);
	cr_expect_eq(out->role_count[UVS_SYS_LOOP], 4);
	/* A new thread with the same id: its entry starts from zero, all of it is new. */
	memset(out, 0, sizeof(*out));
	uvs_sys_window_begin(&w);
	stats(&s, 3);
	uvs_sys_window_add(&w, &k, &s, UVS_SYS_LOOP, true);
	uvs_sys_window_fill(&w, false, out);
	cr_expect_eq(out->count, 3);
	uvs_sys_window_free(&w);
	free(out);
}

/* ---- fds ------------------------------------------------------------------------------------ */

Test(fds_window, scan_then_counters_then_rescan)
{
	struct uvs_fds f;
	struct uvs_fd_table t = { .available = true, .open = 10, .by_type = { 5, 3, 2, 0, 0 } };
	struct uvs_sys_counters c = { 0 };
	struct uvs_fd_snapshot out;

	uvs_fds_init(&f, 10000 * MS);
	/* Without syscall counters: the table, every window. */
	cr_expect(uvs_fds_need_table(&f, NULL, 0));
	uvs_fds_window(&f, NULL, &t, 1024, 0, &out);
	cr_expect(out.available && !out.from_syscalls);
	cr_expect_eq(out.open, 10);
	cr_expect_eq(out.limit, 1024);
	cr_expect_eq(out.growth, 0);
	/* With counters: a baseline, then the opens and closes move it. */
	uvs_fds_rebase(&f, &c, &t, 0);
	c.fd_opened[UVS_FD_SOCKET] = 4;
	c.fd_closed[UVS_FD_FILE] = 1;
	cr_expect(!uvs_fds_need_table(&f, &c, 1000 * MS));
	uvs_fds_window(&f, &c, NULL, 1024, 1000 * MS, &out);
	cr_expect(out.from_syscalls);
	cr_expect_eq(out.open, 13);
	cr_expect_eq(out.by_type[UVS_FD_SOCKET], 7);
	cr_expect_eq(out.growth, 3);
	/* An fd change the syscalls could not follow: the next window reads the table again. */
	c.fd_untracked = 1;
	cr_expect(uvs_fds_need_table(&f, &c, 2000 * MS));
	t.open = 12;
	t.by_type[UVS_FD_SOCKET] = 6;
	t.by_type[UVS_FD_FILE] = 4;
	uvs_fds_window(&f, &c, &t, 1024, 2000 * MS, &out);
	cr_expect(out.rescanned);
	cr_expect_eq(out.drift, 0, "after an untracked change the counts are not compared");
	cr_expect_eq(out.open, 12);
	cr_expect_eq(out.growth, -1);
	cr_expect(!uvs_fds_need_table(&f, &c, 3000 * MS), "rebased on the untracked change");
	/* The rescan period: the counts kept since are compared with what /proc says. */
	c.fd_opened[UVS_FD_PIPE] = 1;
	cr_expect(uvs_fds_need_table(&f, &c, 12001 * MS), "the rescan period");
	uvs_fds_window(&f, &c, &t, 1024, 12001 * MS, &out);
	cr_expect_eq(out.drift, 1, "13 counted, 12 found");
}

/* ---- sockets -------------------------------------------------------------------------------- */

Test(socket_window, transitions_between_readings)
{
	struct uvs_sock_stats *now = calloc(1, sizeof(*now)), *base = calloc(1, sizeof(*base));
	struct uvs_sockets_snapshot out = { 0 };

	base->connects = 5;
	now->connects = 8;
	now->accepted = 2;
	now->retransmits = 1;
	for (int i = 0; i < 3; i++)
		uvs_hist_record(&now->connect, 64 * 1000);
	uvs_sock_transitions(now, base, &out);
	cr_expect(out.traced);
	cr_expect_eq(out.connects, 3);
	cr_expect_eq(out.accepted, 2);
	cr_expect_eq(out.retransmits, 1);
	cr_expect(out.connect_p50_ns >= 60000 && out.connect_p50_ns <= 68000, "%lu",
		  (unsigned long)out.connect_p50_ns);
	free(now);
	free(base);
}

static struct uvs_sock row(uint8_t state, uint16_t local, uint16_t remote)
{
	return (struct uvs_sock){ .family = AF_INET, .protocol = IPPROTO_TCP, .state = state,
				  .local_port = local, .remote_port = remote };
}

Test(socket_window, ports_that_find_the_rows_again)
{
	struct uvs_sock rows[] = {
		row(UVS_TCP_ESTABLISHED, 3000, 51000), /* accepted on 3000 */
		row(UVS_TCP_LISTEN, 3000, 0),
		row(UVS_TCP_ESTABLISHED, 40000, 5432), /* to a database */
		row(UVS_TCP_ESTABLISHED, 40001, 5432),
		row(UVS_TCP_CLOSE_WAIT, 40002, 443),
	};
	struct uvs_socket_table t = { .rows = rows, .n = 5 };
	struct uvs_sock_learning l = { 0 };

	uvs_sock_learn_ports(&t, &l);
	cr_expect(!l.overflow);
	cr_assert_eq(l.filter.nlocal, 1);
	cr_expect_eq(l.filter.local[0], 3000);
	cr_assert_eq(l.filter.nremote, 2);
	cr_expect_eq(l.filter.remote[0], 5432);
	cr_expect_eq(l.filter.remote[1], 443);
}

Test(socket_window, too_many_ports_mean_whole_dumps)
{
	struct uvs_sock rows[UVS_DIAG_MAX_PORTS + 1];
	struct uvs_socket_table t = { .rows = rows, .n = UVS_DIAG_MAX_PORTS + 1 };
	struct uvs_sock_learning l = { 0 };
	size_t i;

	for (i = 0; i < t.n; i++)
		rows[i] = row(UVS_TCP_ESTABLISHED, (uint16_t)(40000 + i), (uint16_t)(1000 + i));
	uvs_sock_learn_ports(&t, &l);
	cr_expect(l.overflow);
}

/*
 * The bytecode: the kernel's audit (net/ipv4/inet_diag.c) walks the `yes` chain and needs every
 * jump to land on an op of that chain or just past the end; running it accepts a socket when it
 * reaches the end exactly. This is that audit and that run, on what we build.
 */
static int run_bc(const uint8_t *bc, int len, uint16_t sport, uint16_t dport)
{
	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		int yes = 1;

		switch (op->code) {
		case INET_DIAG_BC_JMP:
			yes = 0;
			break;
		case INET_DIAG_BC_S_EQ:
			yes = sport == op[1].no;
			break;
		case INET_DIAG_BC_D_EQ:
			yes = dport == op[1].no;
			break;
		default:
			return -1;
		}
		bc += yes ? op->yes : op->no;
		len -= yes ? op->yes : op->no;
	}
	return len == 0;
}

static bool audit_bc(const uint8_t *bc, int len)
{
	const uint8_t *start = bc;
	int total = len;

	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		int min = op->code == INET_DIAG_BC_JMP ? 4 : 8;

		if (op->yes < min || op->yes > len + 4 || op->yes & 3)
			return false;
		if (op->no < min || op->no > len + 4 || op->no & 3)
			return false;
		if (op->no < len) { /* the target must be on the yes chain from the start */
			const uint8_t *p = start;
			int left = total, cc = len - op->no;

			while (left > cc) {
				left -= ((const struct inet_diag_bc_op *)p)->yes;
				p += ((const struct inet_diag_bc_op *)p)->yes;
			}
			if (left != cc)
				return false;
		}
		bc += op->yes;
		len -= op->yes;
	}
	return len == 0;
}

Test(socket_window, bytecode_accepts_exactly_the_ports)
{
	struct uvs_diag_filter f = { .nlocal = 2, .local = { 3000, 8080 }, .nremote = 1,
				     .remote = { 5432 } };
	uint8_t bc[512];
	int len = uvs_sock_diag_bytecode(&f, bc, sizeof(bc));

	cr_assert_eq(len, 3 * 12 - 4);
	cr_expect(audit_bc(bc, len));
	cr_expect_eq(run_bc(bc, len, 3000, 1), 1);
	cr_expect_eq(run_bc(bc, len, 8080, 1), 1);
	cr_expect_eq(run_bc(bc, len, 40000, 5432), 1);
	cr_expect_eq(run_bc(bc, len, 40000, 443), 0);
	cr_expect_eq(run_bc(bc, len, 5432, 3000), 0, "ports on the wrong side");
	f.nlocal = 1;
	f.nremote = 0;
	len = uvs_sock_diag_bytecode(&f, bc, sizeof(bc));
	cr_assert_eq(len, 8);
	cr_expect(audit_bc(bc, len));
	cr_expect_eq(run_bc(bc, len, 3000, 0), 1);
	cr_expect_eq(run_bc(bc, len, 3001, 0), 0);
	f.nlocal = 0;
	cr_expect_eq(uvs_sock_diag_bytecode(&f, bc, sizeof(bc)), 0);
	f.nlocal = UVS_DIAG_MAX_PORTS;
	f.nremote = UVS_DIAG_MAX_PORTS;
	cr_expect_eq(uvs_sock_diag_bytecode(&f, bc, sizeof(bc)), -ENOSPC, "too small a buffer");
}

Test(socket_window, protocol_names)
{
	cr_expect_eq(uvs_sock_proto_from_name("TCP"), UVS_PROTO_TCP);
	cr_expect_eq(uvs_sock_proto_from_name("TCPv6"), UVS_PROTO_TCP6);
	cr_expect_eq(uvs_sock_proto_from_name("UDPv6"), UVS_PROTO_UDP6);
	cr_expect_eq(uvs_sock_proto_from_name("UNIX-STREAM"), UVS_PROTO_UNIX);
	cr_expect_eq(uvs_sock_proto_from_name("NETLINK"), UVS_PROTO_OTHER);
	cr_expect_eq(uvs_sock_proto_from_name(""), UVS_PROTO_UNKNOWN);
	cr_expect_eq(uvs_sock_proto_from_name(NULL), UVS_PROTO_UNKNOWN);
}
