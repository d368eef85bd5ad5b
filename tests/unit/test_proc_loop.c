// SPDX-License-Identifier: MIT
/*
 * The proc backend's pure parts: the busy-span reconstruction and window math from successive
 * readings of libuv's metrics, finding and validating a uv_loop_t in (made-up) memory, reading
 * the metrics per libuv layout, and walking the pool's queue.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "collect/pool_statics.h"
#include "collect/proc_loop_find.h"
#include "collect/proc_loop_math.h"
#include "uvscope/epoll_sites.h"

#define MS 1000000ULL
#define BLOCK (100 * MS)

/* ---- the span math ---------------------------------------------------------------------- */

static struct uvs_lm_reading at(uint64_t now, uint64_t idle, uint64_t entry, uint64_t count)
{
	return (struct uvs_lm_reading){ .now = now, .idle_ns = idle, .entry_ns = entry,
					.loop_count = count };
}

Test(proc_loop_math, idle_now_counts_the_wait_in_progress)
{
	struct uvs_lm_reading r = at(1000, 300, 900, 1);

	cr_assert_eq(uvs_lm_idle_now(&r), 400);
	r.entry_ns = 0;
	cr_assert_eq(uvs_lm_idle_now(&r), 300);
}

Test(proc_loop_math, a_block_seen_from_wait_to_wait_is_exact)
{
	struct uvs_lm_track t = { 0 };
	struct uvs_lm_span s;
	struct uvs_lm_reading r;
	uint64_t since;

	/* Waiting since 1000 ms (idle so far 500 ms). */
	r = at(1010 * MS, 500 * MS, 1000 * MS, 10);
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s));
	cr_assert(!uvs_lm_busy(&t, &since));
	/* The wait ended at 1020 (20 ms more idle): busy since exactly then. */
	r = at(1030 * MS, 520 * MS, 0, 10);
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s));
	cr_assert(uvs_lm_busy(&t, &since));
	cr_assert_eq(since, 1020 * MS);
	/* Still busy, nothing moved. */
	r = at(1200 * MS, 520 * MS, 0, 10);
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s));
	/* The next wait began at 1270 with no other wait in between: a 250 ms block. */
	r = at(1280 * MS, 520 * MS, 1270 * MS, 11);
	cr_assert(uvs_lm_step(&t, &r, BLOCK, &s));
	cr_assert_eq(s.start, 1020 * MS);
	cr_assert_eq(s.end, 1270 * MS);
	cr_assert(s.exact);
	cr_assert_eq(t.blocks, 1);
	cr_assert_eq(t.blocked_ns, 250 * MS);
}

Test(proc_loop_math, short_spans_are_not_blocks)
{
	struct uvs_lm_track t = { 0 };
	struct uvs_lm_span s;
	struct uvs_lm_reading r = at(8 * MS, 0, 6 * MS, 1);

	uvs_lm_step(&t, &r, BLOCK, &s);
	for (uint64_t i = 1; i < 100; i++) {
		/* 10 ms periods: 6 ms busy, 4 ms waiting, read while waiting each time. */
		r = at((10 * i + 8) * MS, 4 * i * MS, (10 * i + 6) * MS, 1 + i);
		cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s));
	}
	cr_assert_eq(t.blocks, 0);
}

Test(proc_loop_math, a_span_that_ends_in_a_new_span_is_bounded)
{
	struct uvs_lm_track t = { 0 };
	struct uvs_lm_span s;
	struct uvs_lm_reading r = at(100 * MS, 50 * MS, 0, 5);
	uint64_t since;

	uvs_lm_step(&t, &r, BLOCK, &s); /* busy when first seen: since then */
	r = at(300 * MS, 50 * MS, 0, 5);
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s));
	/* 2 ms of waiting happened between the readings, and it is busy again. */
	r = at(310 * MS, 52 * MS, 0, 7);
	cr_assert(uvs_lm_step(&t, &r, BLOCK, &s));
	cr_assert_eq(s.start, 100 * MS);
	cr_assert_eq(s.end, 308 * MS, "at most the reading less the idle since");
	cr_assert(!s.exact);
	cr_assert(uvs_lm_busy(&t, &since));
	cr_assert_eq(since, 302 * MS, "at least the last reading plus the idle since");
}

/*
 * A setImmediate chain polls with a zero timeout: no stamp, no idle, ever. Its spans still end
 * at each poll, which the loop count shows (libuv >= 1.45): a loop that spins is not blocked.
 * Without the count (1.44) nothing tells, and the span goes on.
 */
Test(proc_loop_math, a_loop_spinning_through_zero_timeout_polls_is_not_blocked)
{
	struct uvs_lm_track t = { 0 }, nocount = { 0 };
	struct uvs_lm_span s;
	struct uvs_lm_reading r;
	uint64_t since;

	r = at(100 * MS, 50 * MS, 0, 1000);
	uvs_lm_step(&t, &r, BLOCK, &s);
	for (uint64_t i = 1; i <= 100; i++) {
		r = at((100 + 5 * i) * MS, 50 * MS, 0, 1000 + 900 * i);
		cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s), "reading %lu", (unsigned long)i);
		cr_assert(uvs_lm_busy(&t, &since));
		cr_assert_eq(since, (100 + 5 * (i - 1)) * MS, "at least the last reading");
	}
	cr_assert_eq(t.blocks, 0);
	/* Then one callback holds it 300 ms: the count stands still, and then a wait begins. */
	r = at(900 * MS, 50 * MS, 0, 1000 + 900 * 100);
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s));
	cr_assert(uvs_lm_busy(&t, &since));
	cr_assert_eq(since, 595 * MS, "at least the last reading that counted an iteration");
	r = at(905 * MS, 50 * MS, 903 * MS, 1000 + 900 * 100 + 1);
	cr_assert(uvs_lm_step(&t, &r, BLOCK, &s));
	cr_assert_eq(s.start, 595 * MS);
	cr_assert_eq(s.end, 903 * MS);
	/* Without a count the spin reads as one span. */
	r = at(100 * MS, 50 * MS, 0, 0);
	uvs_lm_step(&nocount, &r, BLOCK, &s);
	r = at(400 * MS, 50 * MS, 0, 0);
	uvs_lm_step(&nocount, &r, BLOCK, &s);
	cr_assert(uvs_lm_busy(&nocount, &since));
	cr_assert_eq(since, 100 * MS);
}

Test(proc_loop_math, memory_reused_starts_over)
{
	struct uvs_lm_track t = { 0 };
	struct uvs_lm_span s;
	struct uvs_lm_reading r = at(100 * MS, 50 * MS, 0, 5);

	uvs_lm_step(&t, &r, BLOCK, &s);
	r = at(500 * MS, 10 * MS, 490 * MS, 1); /* idle went back: not the same loop's */
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s));
	cr_assert_eq(t.blocks, 0);
	cr_assert_eq(t.start_mono, 500 * MS);
}

Test(proc_loop_math, window_figures_are_elu)
{
	struct uvs_lm_track t = { 0 };
	struct uvs_loop_snapshot ls = { 0 };
	struct uvs_lm_span s;
	struct uvs_lm_reading r = at(1000 * MS, 400 * MS, 990 * MS, 100);

	uvs_lm_step(&t, &r, BLOCK, &s);
	/* One second later: 700 ms more idle (counting 5 ms of the wait in progress). */
	r = at(2000 * MS, 1105 * MS, 1995 * MS, 350);
	uvs_lm_step(&t, &r, BLOCK, &s);
	uvs_lm_window(&t, true, BLOCK, &ls);
	cr_assert_eq(ls.idle_ns, 700 * MS);
	cr_assert_eq(ls.busy_ns, 300 * MS);
	cr_assert_float_eq(ls.utilization, 0.3, 1e-9);
	cr_assert_eq(ls.iterations, 250);
	cr_assert(!ls.no_iterations);
	cr_assert(ls.no_busy_dist, "no per-iteration figures from the metrics");
	/* Without a loop count (libuv 1.44): iterations unavailable, not 0. */
	r = at(2500 * MS, 1120 * MS, 0, 350);
	uvs_lm_step(&t, &r, BLOCK, &s);
	memset(&ls, 0, sizeof(ls));
	uvs_lm_window(&t, false, BLOCK, &ls);
	cr_assert(ls.no_iterations);
	cr_assert_eq(ls.busy_ns + ls.idle_ns, 500 * MS);
	uvs_lm_totals(&t, false, &ls);
	cr_assert_eq(ls.busy_ns + ls.idle_ns, 1500 * MS);
}

/*
 * A signal interrupts an idle loop's wait: libuv stamps the wait again and adds only what
 * follows the new stamp to its idle time (Node's ELU counts the part before as busy). The loop
 * was idle all along, and no span is a block: seen mid-wait (the new stamp read), and seen only
 * after the next wait began (the idle time grew by less than the wait was seen to last).
 */
Test(proc_loop_math, a_wait_a_signal_interrupted_is_idle_all_along)
{
	struct uvs_lm_track t = { 0 };
	struct uvs_loop_snapshot ls = { 0 };
	struct uvs_lm_span s;
	struct uvs_lm_reading r;

	/* Waiting since 100 ms; at 3000 ms a signal, the wait stamped again at 3000.01 ms. */
	r = at(1000 * MS, 50 * MS, 100 * MS, 7);
	uvs_lm_step(&t, &r, BLOCK, &s);
	uvs_lm_window(&t, true, BLOCK, &ls);
	r = at(3010 * MS, 50 * MS, 3000 * MS + 10000, 7);
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s), "no block");
	cr_assert(!uvs_lm_busy(&t, &(uint64_t){ 0 }), "waiting");
	uvs_lm_window(&t, true, BLOCK, &ls);
	cr_assert_eq(ls.busy_ns, 0, "busy %llu", (unsigned long long)ls.busy_ns);
	cr_assert_eq(ls.idle_ns, 2010 * MS);
	/* The wait ends at 3500 ms (500 ms after its new stamp), a 1 ms span, a new wait. */
	r = at(4000 * MS, 550 * MS + 10000, 3501 * MS, 8);
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s), "no block");
	uvs_lm_window(&t, true, BLOCK, &ls);
	cr_assert_lt(ls.busy_ns, 2 * MS, "busy %llu", (unsigned long long)ls.busy_ns);

	/*
	 * The same, the interrupted wait never seen stamped again: it and the next both ended
	 * between two readings (the block checks read every 10 ms).
	 */
	memset(&t, 0, sizeof(t));
	r = at(1000 * MS, 50 * MS, 100 * MS, 7);
	uvs_lm_step(&t, &r, BLOCK, &s);
	uvs_lm_window(&t, true, BLOCK, &ls);
	r = at(2998 * MS, 50 * MS, 100 * MS, 7);
	uvs_lm_step(&t, &r, BLOCK, &s);
	/* Stamped again at 3000 ms, ended at 3000.1 ms; a 1 ms span; waiting since 3001.1 ms. */
	r = at(3008 * MS, 50 * MS + 100000, 3001 * MS + 100000, 8);
	cr_assert(!uvs_lm_step(&t, &r, BLOCK, &s), "no block");
	uvs_lm_window(&t, true, BLOCK, &ls);
	/* Idle up to the last reading at least: busy at most the 10 ms between the readings. */
	cr_assert_leq(ls.busy_ns, 10 * MS, "busy %llu", (unsigned long long)ls.busy_ns);
	uvs_lm_totals(&t, true, &ls);
	cr_assert_leq(ls.busy_ns, 10 * MS, "session busy %llu", (unsigned long long)ls.busy_ns);

	/* A wait that really ended as long as it was seen to go on is no restamp. */
	memset(&t, 0, sizeof(t));
	r = at(1000 * MS, 50 * MS, 100 * MS, 7);
	uvs_lm_step(&t, &r, BLOCK, &s);
	r = at(1200 * MS, 50 * MS + 1000 * MS, 0, 8); /* ended at 1100 ms: busy since */
	uvs_lm_step(&t, &r, BLOCK, &s);
	cr_assert_eq(t.restamped_ns, 0);
}

Test(proc_loop_math, blocked_now_in_the_window)
{
	struct uvs_lm_track t = { 0 };
	struct uvs_loop_snapshot ls = { 0 };
	struct uvs_lm_span s;
	struct uvs_lm_reading r = at(1000 * MS, 0, 990 * MS, 1);

	uvs_lm_step(&t, &r, BLOCK, &s);
	r = at(1300 * MS, 20 * MS, 0, 1); /* the wait ended at 1010 */
	uvs_lm_step(&t, &r, BLOCK, &s);
	uvs_lm_window(&t, true, BLOCK, &ls);
	cr_assert(ls.blocked_now);
	cr_assert_eq(ls.blocked_for_ns, 290 * MS);
}

Test(proc_loop_math, sampled_state_without_the_metrics)
{
	struct uvs_ls_track t = { 0 };
	struct uvs_loop_snapshot ls = { 0 };
	struct uvs_lm_span s;
	uint64_t now = 1000 * MS;

	cr_assert(!uvs_ls_step(&t, now, true, BLOCK, &s));
	/* 10 samples 10 ms apart: 3 idle, then busy for 7 (70 ms: not a block). */
	for (int i = 1; i <= 10; i++)
		cr_assert(!uvs_ls_step(&t, now + (uint64_t)i * 10 * MS, i <= 3, BLOCK, &s));
	cr_assert(!uvs_ls_step(&t, now + 110 * MS, true, BLOCK, &s), "70 ms is no block");
	/* Busy from 120 to 300 ms: a block of 180 ms from its first busy sample to the wait's. */
	for (int i = 12; i < 30; i++)
		cr_assert(!uvs_ls_step(&t, now + (uint64_t)i * 10 * MS, false, BLOCK, &s));
	cr_assert(uvs_ls_step(&t, now + 300 * MS, true, BLOCK, &s));
	cr_assert_eq(s.end - s.start, 180 * MS);
	uvs_ls_window(&t, BLOCK, &ls);
	cr_assert(ls.sampled && ls.no_iterations);
	cr_assert_eq(ls.busy_ns + ls.idle_ns, 300 * MS);
	cr_assert_eq(ls.busy_ns, (7 + 18) * 10 * MS);
	cr_assert_eq(ls.blocks, 1);
}

/* ---- made-up memory ---------------------------------------------------------------------- */

#define BASE 0x10000ULL
#define SIZE 0x4000

struct image {
	uint8_t b[SIZE];
};

static ssize_t image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct image *m = ctx;

	if (len > UVS_MEM_READ_MAX)
		return -EINVAL;
	if (addr < BASE || addr >= BASE + SIZE)
		return -EFAULT;
	if (addr + len > BASE + SIZE)
		len = BASE + SIZE - addr;
	memcpy(buf, m->b + (addr - BASE), len);
	return (ssize_t)len;
}

static void put64(struct image *m, uint64_t addr, uint64_t v)
{
	memcpy(m->b + (addr - BASE), &v, 8);
}

static void put32(struct image *m, uint64_t addr, uint32_t v)
{
	memcpy(m->b + (addr - BASE), &v, 4);
}

/* A uv_loop_t at addr, with an empty handle queue and its internal fields at lf. */
static void make_loop(struct image *m, uint64_t addr, int fd, uint64_t lf, bool links_ok)
{
	put64(m, addr + 16, addr + 16);
	put64(m, addr + 24, links_ok ? addr + 16 : addr + 32);
	put64(m, addr + 40, lf);
	put32(m, addr + 64, (uint32_t)fd);
	put32(m, lf, 1); /* UV_METRICS_IDLE_TIME */
}

Test(proc_loop_find, the_loop_on_a_stack_not_the_decoys)
{
	static struct image m;
	struct uvs_mem_reader r = { image_read, &m };
	uint64_t loop, lf;

	memset(&m, 0, sizeof(m));
	/* A word equal to the fd, a loop with broken links, then the real one. */
	put32(&m, BASE + 0x108 + 64, 7);
	make_loop(&m, BASE + 0x400, 7, BASE + 0x3000, false);
	make_loop(&m, BASE + 0x1800, 7, BASE + 0x3200, true);
	cr_assert_eq(uvs_lm_find_on_stack(&r, BASE + 0x100, 0x4000, 7, &loop, &lf), 0);
	cr_assert_eq(loop, BASE + 0x1800);
	cr_assert_eq(lf, BASE + 0x3200);
	/* Another fd, or a search that stops short of it, finds nothing. */
	cr_assert_eq(uvs_lm_find_on_stack(&r, BASE + 0x100, 0x4000, 8, &loop, &lf), -ENOENT);
	cr_assert_eq(uvs_lm_find_on_stack(&r, BASE + 0x100, 0x1000, 7, &loop, &lf), -ENOENT);
	/* Metrics off: not a loop Node measures. */
	put32(&m, BASE + 0x3200, 0);
	cr_assert_eq(uvs_lm_validate_loop(&r, BASE + 0x1800, 7, &lf), -ENODATA);
}

Test(proc_loop_find, a_closed_loop_is_no_longer_the_loop)
{
	static struct image m;
	struct uvs_mem_reader r = { image_read, &m };

	memset(&m, 0, sizeof(m));
	make_loop(&m, BASE + 0x800, 9, BASE + 0x1000, true);
	cr_assert(uvs_lm_still_loop(&r, BASE + 0x800, BASE + 0x1000, 9));
	put32(&m, BASE + 0x800 + 64, (uint32_t)-1); /* uv_loop_close: backend_fd = -1 */
	cr_assert(!uvs_lm_still_loop(&r, BASE + 0x800, BASE + 0x1000, 9));
	make_loop(&m, BASE + 0x800, 9, BASE + 0x1000, true);
	put64(&m, BASE + 0x800 + 40, 0); /* internal_fields freed */
	cr_assert(!uvs_lm_still_loop(&r, BASE + 0x800, BASE + 0x1000, 9));
}

/*
 * libuv clears the wait's stamp and then adds the wait to the idle time, under the metrics'
 * lock: a reading while it is held may be between the two (a wait that looks like busy time),
 * and is refused until the lock is free, on libuv 1.45+ and 1.44 alike.
 */
Test(proc_loop_find, no_reading_while_libuv_updates_its_metrics)
{
	static struct image m;
	struct uvs_mem_reader r = { image_read, &m };
	struct uvs_lm_layout l = uvs_lm_layout_for(0x012e00), old = uvs_lm_layout_for(0x012c00);
	struct uvs_lm_reading rd;
	const uint64_t lf = BASE + 0x1000;

	memset(&m, 0, sizeof(m));
	put64(&m, lf + 8, 42);  /* loop_count */
	put64(&m, lf + l.idle_off, 300 * MS);
	cr_assert_eq(uvs_lm_read(&r, &l, lf, 1000 * MS, &rd), 0);
	cr_expect_eq(rd.idle_ns, 300 * MS);
	cr_expect_eq(rd.loop_count, 42);
	put32(&m, lf + l.lock_off, 1); /* held: the stamp cleared, the idle time not yet grown */
	cr_expect_eq(uvs_lm_read(&r, &l, lf, 1000 * MS, &rd), -EAGAIN);
	put32(&m, lf + l.lock_off, 0);
	put64(&m, lf + l.idle_off, 450 * MS);
	cr_assert_eq(uvs_lm_read(&r, &l, lf, 1000 * MS, &rd), 0);
	cr_expect_eq(rd.idle_ns, 450 * MS);

	cr_expect_eq(old.lock_off, old.idle_off + 8, "1.44: right after the idle time");
	put64(&m, lf + old.idle_off, 10 * MS);
	put32(&m, lf + old.lock_off, 2); /* held, with a waiter */
	cr_expect_eq(uvs_lm_read(&r, &old, lf, 1000 * MS, &rd), -EAGAIN);
	put32(&m, lf + old.lock_off, 0);
	cr_expect_eq(uvs_lm_read(&r, &old, lf, 1000 * MS, &rd), 0);
}

/* A loop that spins through zero-timeout polls: it counts an iteration between any two reads. */
static ssize_t spinning_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct image *m = ctx;
	uint64_t count;

	memcpy(&count, m->b + 0x1000 + 8, 8);
	put64(m, BASE + 0x1000 + 8, count + 1);
	return image_read(ctx, addr, buf, len);
}

/* libuv's stores to the wait's fields land between any two reads (never seen for real). */
static ssize_t waiting_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct image *m = ctx;
	uint64_t idle;

	memcpy(&idle, m->b + 0x1000 + UVS_UV_LFIELDS_PROVIDER_IDLE_TIME, 8);
	put64(m, BASE + 0x1000 + UVS_UV_LFIELDS_PROVIDER_IDLE_TIME, idle + 1);
	return image_read(ctx, addr, buf, len);
}

/*
 * A loop counts an iteration with no lock, every few microseconds when it spins: its count is
 * never the same in two reads, and a reading is still had (a CI run got none for a whole
 * window, and reported a spinning loop as zero iterations, zero busy, zero idle). A wait that
 * changes between every two reads still gives none.
 */
Test(proc_loop_find, a_loop_that_counts_between_reads_still_reads)
{
	static struct image m;
	struct uvs_mem_reader r = { spinning_read, &m };
	struct uvs_lm_layout l = uvs_lm_layout_for(0x012e00);
	struct uvs_lm_reading rd;
	const uint64_t lf = BASE + 0x1000;

	cr_assert_eq(l.count_off, 8);
	memset(&m, 0, sizeof(m));
	put64(&m, lf + 8, 42);
	put64(&m, lf + l.idle_off, 300 * MS);
	cr_assert_eq(uvs_lm_read(&r, &l, lf, 1000 * MS, &rd), 0);
	cr_expect_eq(rd.idle_ns, 300 * MS);
	cr_expect_eq(rd.loop_count, 44, "the later of the two reads' counts");

	r.read = waiting_read;
	cr_assert_eq(l.idle_off, UVS_UV_LFIELDS_PROVIDER_IDLE_TIME);
	cr_expect_eq(uvs_lm_read(&r, &l, lf, 1000 * MS, &rd), -EAGAIN);
}

Test(proc_loop_find, readings_that_cannot_follow_are_refused)
{
	struct uvs_lm_reading p = at(1000 * MS, 100 * MS, 0, 50);
	struct uvs_lm_reading r = at(1010 * MS, 105 * MS, 0, 60);

	cr_assert(uvs_lm_plausible(&p, &r));
	r.idle_ns = 200 * MS; /* 100 ms more idle in 10 ms */
	cr_assert(!uvs_lm_plausible(&p, &r));
	r.idle_ns = 105 * MS;
	r.loop_count = 140323226026897ULL; /* a pointer where the count was */
	cr_assert(!uvs_lm_plausible(&p, &r));
}

Test(proc_loop_find, layouts_per_libuv_version)
{
	struct uvs_lm_layout l = uvs_lm_layout_for(0x012e00);

	cr_assert(l.known && l.has_count);
	cr_assert_eq(l.count_off, 8);
	cr_assert_eq(l.entry_off, 136);
	cr_assert_eq(l.idle_off, 144);
	l = uvs_lm_layout_for(0x012c02);
	cr_assert(l.known && !l.has_count);
	cr_assert_eq(l.entry_off, 8);
	cr_assert_eq(l.idle_off, 16);
	cr_assert(!uvs_lm_layout_for(0x012b00).known);
	cr_assert(!uvs_lm_layout_for(0).known);
}

Test(proc_loop_find, metrics_read_per_layout_and_checked_against_now)
{
	static struct image m;
	struct uvs_mem_reader r = { image_read, &m };
	struct uvs_lm_layout l45 = uvs_lm_layout_for(0x013400), l44 = uvs_lm_layout_for(0x012c00);
	struct uvs_lm_reading out;
	uint64_t lf = BASE + 0x1000;

	memset(&m, 0, sizeof(m));
	put64(&m, lf + 8, 42);             /* loop_count */
	put64(&m, lf + 136, 900 * MS);     /* provider_entry_time */
	put64(&m, lf + 144, 300 * MS);     /* provider_idle_time */
	cr_assert_eq(uvs_lm_read(&r, &l45, lf, 1000 * MS, &out), 0);
	cr_assert_eq(out.loop_count, 42);
	cr_assert_eq(out.entry_ns, 900 * MS);
	cr_assert_eq(out.idle_ns, 300 * MS);
	cr_assert_eq(out.now, 1000 * MS);
	/* The same bytes as 1.44 lays them out: entry at 8, idle at 16, no count. */
	put64(&m, lf + 16, 7 * MS);
	cr_assert_eq(uvs_lm_read(&r, &l44, lf, 1000 * MS, &out), 0);
	cr_assert_eq(out.entry_ns, 42);
	cr_assert_eq(out.idle_ns, 7 * MS);
	cr_assert_eq(out.loop_count, 0);
	/* A stamp far in the future is not a loop's. */
	put64(&m, lf + 136, 5000 * MS);
	cr_assert_eq(uvs_lm_read(&r, &l45, lf, 1000 * MS, &out), -ENODATA);
	/* Unmapped. */
	cr_assert_eq(uvs_lm_read(&r, &l45, BASE + SIZE - 8, 1000 * MS, &out), -EFAULT);
}

/* ---- the pool's queue ------------------------------------------------------------------------ */

/* A circular list: head, then nodes at the given addresses, each {next, prev}. */
static void make_queue(struct image *m, uint64_t head, const uint64_t *nodes, size_t n)
{
	uint64_t prev = head;

	for (size_t i = 0; i < n; i++) {
		put64(m, prev, nodes[i]);
		put64(m, nodes[i] + 8, prev);
		prev = nodes[i];
	}
	put64(m, prev, head);
	put64(m, head + 8, prev);
}

Test(pool_statics, queue_counted_without_the_messages)
{
	static struct image m;
	struct uvs_mem_reader r = { image_read, &m };
	uint64_t head = BASE + 0x10, msg = BASE + 0x20;
	uint64_t nodes[] = { BASE + 0x100, msg, BASE + 0x200, BASE + 0x300 };
	uint64_t count;
	bool capped;

	memset(&m, 0, sizeof(m));
	make_queue(&m, head, nodes, 4);
	cr_assert_eq(uvs_pool_queue_count(&r, head, msg, 0, 100, &count, &capped), 0);
	cr_assert_eq(count, 3);
	cr_assert(!capped);
	cr_assert_eq(uvs_pool_queue_count(&r, head, msg, 0, 2, &count, &capped), 0);
	cr_assert(capped, "stopped at the bound");
	/* An empty queue points at itself. */
	make_queue(&m, head, NULL, 0);
	cr_assert_eq(uvs_pool_queue_count(&r, head, 0, 0, 100, &count, &capped), 0);
	cr_assert_eq(count, 0);
}

Test(pool_statics, a_queue_that_moves_under_the_walk_is_retried)
{
	static struct image m;
	struct uvs_mem_reader r = { image_read, &m };
	uint64_t head = BASE + 0x10;
	uint64_t nodes[] = { BASE + 0x100, BASE + 0x200 };
	uint64_t count;
	bool capped;

	memset(&m, 0, sizeof(m));
	make_queue(&m, head, nodes, 2);
	put64(&m, BASE + 0x200 + 8, BASE + 0x300); /* its prev is not the node before it */
	cr_assert_eq(uvs_pool_queue_count(&r, head, 0, 0, 100, &count, &capped), -EAGAIN);
	/* A link out of the mapped memory, or a null one. */
	make_queue(&m, head, nodes, 2);
	put64(&m, BASE + 0x100, 0x1);
	cr_assert_eq(uvs_pool_queue_count(&r, head, 0, 0, 100, &count, &capped), -EAGAIN);
	put64(&m, BASE + 0x100, BASE + SIZE + 0x100);
	cr_assert_eq(uvs_pool_queue_count(&r, head, 0, 0, 100, &count, &capped), -EAGAIN);
	/* A cycle that never comes back to the head ends at the bound. */
	make_queue(&m, head, nodes, 2);
	put64(&m, BASE + 0x200, BASE + 0x100);
	put64(&m, BASE + 0x100 + 8, BASE + 0x200);
	cr_assert_eq(uvs_pool_queue_count(&r, head, 0, 0, 100, &count, &capped), -EAGAIN);
}

/*
 * p reading libuv's pool statics from the image m (zeroed): nthreads at BASE, idle_threads at
 * +4, slow_io_work_running at +8, wq at +0x10, slow_io_pending_wq at +0x20, the messages at
 * +0x60 and +0x70.
 */
static void statics_over(struct image *m, struct uvs_pool_statics *p)
{
	memset(m, 0, sizeof(*m));
	memset(p, 0, sizeof(*p));
	p->available = true;
	p->mem = (struct uvs_mem_reader){ image_read, m };
	p->at = (struct uvs_pool_addrs){ .nthreads = BASE, .idle_threads = BASE + 4,
					 .slow_io_work_running = BASE + 8, .wq = BASE + 0x10,
					 .slow_io_pending_wq = BASE + 0x20,
					 .run_slow_work_message = BASE + 0x60,
					 .exit_message = BASE + 0x70 };
}

/*
 * Idle, for the pool's probes coming back (collect/pool.c): both queues empty and every thread
 * waiting, or a pool never started; a job queued (libuv's slow-work message stands for the
 * held-back dns jobs, counted in their own queue), a thread serving, or a queue moving: not.
 */
Test(pool_statics, idle_only_with_both_queues_empty_and_every_thread_waiting)
{
	static struct image m;
	static struct uvs_pool_statics p;
	uint64_t job[] = { BASE + 0x100 }, slow[] = { BASE + 0x200 };
	uint64_t msg[] = { BASE + 0x60 };

	statics_over(&m, &p);
	/* Never started: libuv has not even linked its queues. */
	cr_expect_eq(uvs_pool_statics_idle(&p), 1);
	put32(&m, BASE, 4);
	make_queue(&m, BASE + 0x10, NULL, 0);
	make_queue(&m, BASE + 0x20, NULL, 0);
	put32(&m, BASE + 4, 4);
	cr_expect_eq(uvs_pool_statics_idle(&p), 1);
	put32(&m, BASE + 4, 3);
	cr_expect_eq(uvs_pool_statics_idle(&p), 0, "a thread serves a job");
	put32(&m, BASE + 4, 4);
	make_queue(&m, BASE + 0x10, job, 1);
	cr_expect_eq(uvs_pool_statics_idle(&p), 0, "a job queued, its thread not woken yet");
	make_queue(&m, BASE + 0x10, msg, 1);
	make_queue(&m, BASE + 0x20, slow, 1);
	cr_expect_eq(uvs_pool_statics_idle(&p), 0, "a dns job held back");
	make_queue(&m, BASE + 0x20, NULL, 0);
	make_queue(&m, BASE + 0x10, job, 1);
	put64(&m, BASE + 0x100 + 8, BASE + 0x300);
	cr_expect_eq(uvs_pool_statics_idle(&p), 0, "the queue moved under the walk");
	put32(&m, BASE, 5000);
	cr_expect_eq(uvs_pool_statics_idle(&p), -ENODATA, "not libuv's nthreads");
	p.available = false;
	cr_expect_eq(uvs_pool_statics_idle(&p), -ENODATA);
}

/*
 * Saturation by the statics is the probes' measure: more jobs in flight than threads, so more
 * queued than threads waiting. A job queued while a thread waits (signalled, not yet running)
 * is not saturation: a flood of tiny jobs is caught so at most readings.
 */
Test(pool_statics, saturated_when_more_are_queued_than_threads_wait)
{
	static struct image m;
	static struct uvs_pool_statics p;
	struct uvs_pool_snapshot w;
	uint64_t one[] = { BASE + 0x100 }, three[] = { BASE + 0x100, BASE + 0x200, BASE + 0x300 };

	statics_over(&m, &p);
	put32(&m, BASE, 4);
	make_queue(&m, BASE + 0x20, NULL, 0);
	/* 1 queued, 2 threads waiting: about to be taken. */
	put32(&m, BASE + 4, 2);
	make_queue(&m, BASE + 0x10, one, 1);
	uvs_pool_statics_sample(&p);
	/* 3 queued, 2 waiting: one job has no thread. */
	make_queue(&m, BASE + 0x10, three, 3);
	uvs_pool_statics_sample(&p);
	/* 1 queued, every thread busy. */
	put32(&m, BASE + 4, 0);
	make_queue(&m, BASE + 0x10, one, 1);
	uvs_pool_statics_sample(&p);
	/* Nothing queued: the window's own reading. */
	make_queue(&m, BASE + 0x10, NULL, 0);
	uvs_pool_statics_window(&p, &w);
	cr_expect_float_eq(w.saturation, 0.5, 1e-9, "2 of 4 readings saturated: %f", w.saturation);
	cr_expect_eq(w.queued_max, 3);
}

/* ---- retransmits from tcp_info -------------------------------------------------------------- */

#include <netinet/in.h>

#include "collect/sock_retrans.h"

static struct uvs_sock tcp(uint32_t inode, uint32_t retrans)
{
	return (struct uvs_sock){ .protocol = IPPROTO_TCP, .inode = inode, .has_info = true,
				  .retrans = retrans };
}

Test(sock_retrans, deltas_per_socket)
{
	struct uvs_sock rows[4];
	struct uvs_socket_table t = { .rows = rows };
	struct uvs_sock_retrans r = { 0 };
	uint64_t n;

	rows[0] = tcp(10, 5);
	rows[1] = tcp(20, 7);
	t.n = 2;
	cr_assert_eq(uvs_sock_retrans_window(&r, &t, &n), 0);
	cr_assert_eq(n, 0, "the first table is the baseline");
	/* 20 went on by 3, 10 closed, 30 is new with 4 of its own, 40 is UDP. */
	rows[0] = tcp(30, 4);
	rows[1] = tcp(20, 10);
	rows[2] = (struct uvs_sock){ .protocol = IPPROTO_UDP, .inode = 40 };
	t.n = 3;
	cr_assert_eq(uvs_sock_retrans_window(&r, &t, &n), 0);
	cr_assert_eq(n, 7);
	/* An inode reused by a socket with fewer retransmits: all of them are new. */
	rows[0] = tcp(30, 1);
	t.n = 1;
	cr_assert_eq(uvs_sock_retrans_window(&r, &t, &n), 0);
	cr_assert_eq(n, 1);
	uvs_sock_retrans_free(&r);
}

/* ---- /proc/PID/net ------------------------------------------------------------------------- */

#include <arpa/inet.h>
#include <sys/socket.h>

#include "collect/proc_net.h"

Test(proc_net, tcp_lines_as_the_kernel_prints_them)
{
	struct uvs_sock s;
	uint8_t lo[4] = { 127, 0, 0, 1 };

	cr_assert_eq(uvs_proc_net_parse_line("  sl  local_address rem_address   st tx_queue rx_queue "
					     "tr tm->when retrnsmt   uid  timeout inode\n",
					     AF_INET, IPPROTO_TCP, &s), -EINVAL, "the header");
	cr_assert_eq(uvs_proc_net_parse_line("   0: 0100007F:1F90 0100007F:C350 01 00000010:00000020 "
					     "00:00000000 00000000  1000        0 263 1 "
					     "00000000bc2e2fe6 100 0 0 10 0\n",
					     AF_INET, IPPROTO_TCP, &s), 0);
	cr_assert_eq(s.state, UVS_TCP_ESTABLISHED);
	cr_assert_arr_eq(s.local, lo, 4);
	cr_assert_eq(s.local_port, 8080);
	cr_assert_eq(s.remote_port, 50000);
	cr_assert_eq(s.wqueue, 16);
	cr_assert_eq(s.rqueue, 32);
	cr_assert_eq(s.inode, 263);
	cr_assert(!s.has_info, "no tcp_info in /proc/net/tcp");
	/* ::1 port 443, listening, 3 waiting in the accept queue. */
	cr_assert_eq(uvs_proc_net_parse_line("   1: 00000000000000000000000001000000:01BB "
					     "00000000000000000000000000000000:0000 0A "
					     "00000000:00000003 00:00000000 00000000     0        0 "
					     "4711 1 0000000000000000 100 0 0 10 0\n",
					     AF_INET6, IPPROTO_TCP, &s), 0);
	cr_assert_eq(s.state, UVS_TCP_LISTEN);
	cr_assert_eq(s.local[15], 1);
	cr_assert_eq(s.local_port, 443);
	cr_assert_eq(s.rqueue, 3);
	cr_assert_eq(s.inode, 4711);
}

Test(proc_net, udp_lines_have_drops)
{
	struct uvs_sock s;

	cr_assert_eq(uvs_proc_net_parse_line("  123: 00000000:14E9 00000000:0000 07 00000000:00000000 "
					     "00:00000000 00000000   107        0 9001 2 "
					     "0000000000000000 42\n", AF_INET, IPPROTO_UDP, &s), 0);
	cr_assert_eq(s.state, 7);
	cr_assert_eq(s.local_port, 5353);
	cr_assert_eq(s.inode, 9001);
	cr_assert(s.has_drops);
	cr_assert_eq(s.drops, 42);
}

Test(proc_net, malformed_lines_are_refused)
{
	static const char *const bad[] = {
		"",
		"   0: 0100007F:1F90",
		"   0: 0100007G:1F90 0100007F:C350 01 00000010:00000020 00:00000000 00000000 0 0 1\n",
		"   0: 0100007F:1F90 0100007F:C350 00 00000010:00000020 00:00000000 00000000 0 0 1\n",
		"   0: 0100007F:1F90 0100007F:C350 01 00000010:00000020 00:00000000 00000000 0 0 "
		"99999999999\n",
		"x: 0100007F:1F90 0100007F:C350 01 00000010:00000020 00:00000000 00000000 0 0 1\n",
	};
	struct uvs_sock s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(uvs_proc_net_parse_line(bad[i], AF_INET, IPPROTO_TCP, &s), -EINVAL,
			     "%s", bad[i]);
}

#include <unistd.h>

#include "collect/socket_table.h"

Test(proc_net, our_own_listener_read_back_from_proc_self_net)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct uvs_fd_table fds = { 0 };
	struct uvs_socket_table t = { 0 };
	struct uvs_sockets_snapshot sum = { 0 };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	bool found = false;

	cr_assert(s >= 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s, 7), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
	cr_assert_eq(uvs_fd_table_read(getpid(), &fds), 0);
	cr_assert_eq(uvs_proc_net_read(getpid(), &fds, &t), 0);
	for (size_t i = 0; i < t.n; i++)
		if (t.rows[i].state == UVS_TCP_LISTEN && t.rows[i].local_port == ntohs(a.sin_port))
			found = true;
	cr_assert(found, "our listener on port %u", ntohs(a.sin_port));
	uvs_socket_table_summarize(&t, &sum);
	cr_assert(sum.listeners >= 1);
	cr_assert_eq(sum.accept_queue_full, 0, "no backlog known: never full");
	close(s);
	uvs_socket_table_free(&t);
	uvs_fd_table_free(&fds);
}

/*
 * A loop idle since long before uvscope looked (a server with no request yet): when its wait
 * ends, the idle time grows by the whole wait, more than the time between our two readings.
 * Found on an Express app: every later reading was refused, and the loop showed 0 iterations.
 */
Test(proc_loop_find, a_wait_begun_before_the_last_reading_may_end_with_all_its_idle_time)
{
	/* At 1000 ms the loop has waited since 200 ms (entry stamp), with no idle time counted. */
	struct uvs_lm_reading p = at(1000 * MS, 0, 200 * MS, 2);
	/* 10 ms later the wait has ended: 805 ms of idle time at once, two more iterations. */
	struct uvs_lm_reading r = at(1010 * MS, 805 * MS, 0, 4);

	cr_assert(uvs_lm_plausible(&p, &r));
	/* Not more than the wait can hold. */
	r.idle_ns = 900 * MS;
	cr_assert(!uvs_lm_plausible(&p, &r));
}

/*
 * dns waiting at libuv's cap while a thread idles (collect/pool.c adds it to the saturation):
 * slow work pending, slow_io_work_running at (nthreads + 1) / 2, and a thread waiting; the
 * same answers from one read of the statics' span as from reading them one by one.
 */
Test(pool_statics, dns_waits_at_the_cap_only_with_a_thread_idle)
{
	static struct image m;
	static struct uvs_pool_statics p;
	uint64_t slow[] = { BASE + 0x200 };
	int span;

	for (span = 0; span < 2; span++) {
		statics_over(&m, &p);
		if (span) {
			p.span_at = BASE;
			p.span_len = 0x28; /* nthreads .. slow_io_pending_wq's next */
		}
		cr_expect_eq(uvs_pool_statics_capped(&p), 0, "never started");
		put32(&m, BASE, 4);
		make_queue(&m, BASE + 0x20, slow, 1);
		put32(&m, BASE + 4, 2);
		put32(&m, BASE + 8, 2);
		cr_expect_eq(uvs_pool_statics_capped(&p), 1, "2 of 4 on dns, one held, 2 idle");
		put32(&m, BASE + 4, 0);
		cr_expect_eq(uvs_pool_statics_capped(&p), 0, "every thread busy: not the cap");
		put32(&m, BASE + 4, 2);
		put32(&m, BASE + 8, 1);
		cr_expect_eq(uvs_pool_statics_capped(&p), 0, "below the cap: about to be taken");
		put32(&m, BASE + 8, 2);
		make_queue(&m, BASE + 0x20, NULL, 0);
		cr_expect_eq(uvs_pool_statics_capped(&p), 0, "nothing held");
		put32(&m, BASE + 4, 5);
		cr_expect_eq(uvs_pool_statics_capped(&p), -ENODATA, "more idle than threads");
		p.available = false;
		cr_expect_eq(uvs_pool_statics_capped(&p), -ENODATA, "no statics");
	}
}

/*
 * The four counters are read at once only where they lie side by side; addresses from a
 * hostile ELF that end past 2^64 (a field would then sit before the span's start) or lie far
 * apart give no span, and the counters are read one by one.
 */
Test(pool_statics, one_read_only_for_counters_side_by_side)
{
	static struct uvs_pool_statics p;

	p.at = (struct uvs_pool_addrs){ .nthreads = 0x1000, .idle_threads = 0x1004,
					.slow_io_work_running = 0x1008,
					.slow_io_pending_wq = 0x1060 };
	uvs_pool_statics_set_span(&p);
	cr_expect_eq(p.span_at, 0x1000);
	cr_expect_eq(p.span_len, 0x68, "nthreads to the queue's first link");
	p.at.nthreads = 0x1080;
	uvs_pool_statics_set_span(&p);
	cr_expect_eq(p.span_at, 0x1004);
	cr_expect_eq(p.span_len, 0x80, "the lowest to the end of the highest");
	p.at.nthreads = 0x1200;
	uvs_pool_statics_set_span(&p);
	cr_expect_eq(p.span_len, 0, "more than 256 bytes apart");
	p.at = (struct uvs_pool_addrs){ .nthreads = UINT64_MAX - 0x40,
					.idle_threads = UINT64_MAX - 0x3c,
					.slow_io_work_running = UINT64_MAX - 0x38,
					.slow_io_pending_wq = UINT64_MAX - 3 };
	uvs_pool_statics_set_span(&p);
	cr_expect_eq(p.span_len, 0, "the queue's link would end past 2^64");
	cr_expect_eq(p.span_at, 0);
	p.at.slow_io_pending_wq = UINT64_MAX - 8;
	uvs_pool_statics_set_span(&p);
	cr_expect_eq(p.span_at, UINT64_MAX - 0x40);
	cr_expect_eq(p.span_len, 0x40, "its last byte just below 2^64 - 1");
}
