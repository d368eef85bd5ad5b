// SPDX-License-Identifier: MIT
/*
 * V8 garbage collections without root: finding the collector's probe sites by demangled name
 * (checked against nm), the window math from hand-made BPF entries, the ring-buffer record,
 * and the JSON, watch and top renderings of loops[].gc.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "collect/gc.h"
#include "collect/gc_window.h"
#include "fixture_files.h"
#include "render/json.h"
#include "render/top.h"
#include "render/watch.h"
#include "symbols/demangle.h"
#include "v8/gc_sites.h"

#define MS 1000000ULL
#define PGC "_ZN2v88internal4Heap24PerformGarbageCollectionENS0_16GarbageCollectorENS0_23GarbageCollectionReasonEPKc"

/* ---- probe sites ---------------------------------------------------------------------------- */

/* The addresses nm gives the functions a site must be: named PGC..., not a .cold piece. */
static size_t nm_sites(const char *nm_file, uint64_t *addr, size_t cap)
{
	char line[512], type, name[400];
	unsigned long long value, size;
	FILE *f = fopen(fx(nm_file), "r");
	size_t n = 0;

	cr_assert_not_null(f, "%s", fx(nm_file));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %llx %c %399s", &value, &size, &type, name) != 4)
			continue;
		if ((type == 'T' || type == 't') && !strncmp(name, PGC, strlen(PGC)) &&
		    !strstr(name, ".cold") && n < cap)
			addr[n++] = value;
	}
	fclose(f);
	return n;
}

static bool has(const uint64_t *v, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

Test(gc_sites, function_and_clone_not_cold_not_object)
{
	struct uvs_elf *e = uvs_elf_open(fx("v8-heap"));
	uint64_t want[8], off[UVS_GC_MAX_SITES], addr[UVS_GC_MAX_SITES], expect_off;
	size_t nwant = nm_sites("v8-heap.nm", want, 8);
	int n, i;

	cr_assert_not_null(e);
	cr_assert_eq(nwant, 2, "the fixture has the function and one clone (nm)");
	n = uvs_gc_sites_scan(e, UVS_GC_PERFORM_PREFIX, off, addr, UVS_GC_MAX_SITES);
	cr_assert_eq(n, 2, "the exported function (also in .dynsym) once, and its clone");
	for (i = 0; i < n; i++) {
		cr_expect(has(want, nwant, addr[i]), "site %#" PRIx64 " is not one nm names", addr[i]);
		cr_assert_eq(uvs_elf_vaddr_to_offset(e, addr[i], &expect_off), 0);
		cr_expect_eq(off[i], expect_off);
	}
	uvs_elf_close(e);
}

Test(gc_sites, stripped_keeps_the_dynsym_export)
{
	struct uvs_elf *e = uvs_elf_open(fx("v8-heap-stripped"));
	uint64_t off[UVS_GC_MAX_SITES], addr[UVS_GC_MAX_SITES], want[8];

	cr_assert_not_null(e);
	cr_assert_eq(nm_sites("v8-heap.nm", want, 8), 2);
	cr_assert_eq(uvs_gc_sites_scan(e, UVS_GC_PERFORM_PREFIX, off, addr, UVS_GC_MAX_SITES), 1);
	cr_expect(has(want, 2, addr[0]));
	uvs_elf_close(e);
}

Test(gc_sites, capped_and_bad_prefix)
{
	struct uvs_elf *e = uvs_elf_open(fx("v8-heap"));
	uint64_t off[1], addr[1];

	cr_assert_not_null(e);
	cr_expect_eq(uvs_gc_sites_scan(e, UVS_GC_PERFORM_PREFIX, off, addr, 1), 1);
	cr_expect_lt(uvs_gc_sites_scan(e, "no parenthesis", off, addr, 1), 0);
	cr_expect_eq(uvs_gc_sites_scan(e, "v8::internal::Heap::CollectGarbage(", off, addr, 1), 0);
	uvs_elf_close(e);
}

Test(gc_sites, demangler_reads_cpp_and_rust)
{
	char *d = uvs_demangle(PGC ".constprop.1331");

	cr_assert_not_null(d, "a C++ name must demangle");
	cr_expect_str_eq(d, "v8::internal::Heap::PerformGarbageCollection(v8::internal::"
			    "GarbageCollector, v8::internal::GarbageCollectionReason, char const*)"
			    " [clone .constprop.1331]");
	free(d);
	d = uvs_demangle("_ZN4core3fmt5write17h0123456789abcdefE");
	cr_assert_not_null(d, "a legacy Rust name must demangle");
	cr_expect_str_eq(d, "core::fmt::write");
	free(d);
}

/* ---- window math ---------------------------------------------------------------------------- */

static struct uvs_gc_thread entry(uint64_t count, uint64_t major, uint64_t total, uint64_t max)
{
	return (struct uvs_gc_thread){ .count = count, .major = major, .total_ns = total,
				       .max_ns = max };
}

Test(gc_window, epoch_slots)
{
	struct uvs_gc_thread th = entry(5, 1, 50 * MS, 20 * MS);
	struct uvs_gc_snapshot c;
	uint64_t m;

	th.win_epoch[0] = 4;
	th.win_max_ns[0] = 7 * MS;
	th.win_epoch[1] = 3;
	th.win_max_ns[1] = 20 * MS;
	uvs_gc_thread_figures(&th, 4, &c, &m);
	cr_expect_eq(m, 7 * MS, "slot 0 holds epoch 4");
	cr_expect_eq(c.count, 5);
	cr_expect_eq(c.major, 1);
	cr_expect_eq(c.max_ns, 20 * MS);
	uvs_gc_thread_figures(&th, 5, &c, &m);
	cr_expect_eq(m, 0, "slot 1 holds epoch 3, not 5: no collection in window 5");
	uvs_gc_thread_figures(&th, 6, &c, &m);
	cr_expect_eq(m, 0, "slot 0 holds epoch 4, not 6");
}

static struct uvs_snapshot snap;

static void one_loop(int tid)
{
	memset(&snap, 0, sizeof(snap));
	snap.nloops = 1;
	snap.loops[0].tid = tid;
	snap.loops[0].role = UVS_ROLE_MAIN;
}

Test(gc_window, deltas_per_loop)
{
	struct uvs_gc_history *h = calloc(1, sizeof(*h));
	struct uvs_gc_snapshot c = { 3, 1, 30 * MS, 15 * MS };

	uvs_gc_history_read(h, 100, &c, 15 * MS, false);
	one_loop(100);
	uvs_gc_history_place(h, &snap);
	cr_expect(snap.loops[0].has_gc);
	cr_expect_eq(snap.loops[0].gc.count, 3);
	cr_expect_eq(snap.loops[0].gc.major, 1);
	cr_expect_eq(snap.loops[0].gc.total_ns, 30 * MS);
	cr_expect_eq(snap.loops[0].gc.max_ns, 15 * MS);

	c = (struct uvs_gc_snapshot){ 10, 1, 44 * MS, 15 * MS };
	uvs_gc_history_read(h, 100, &c, 4 * MS, false);
	one_loop(100);
	uvs_gc_history_place(h, &snap);
	cr_expect_eq(snap.loops[0].gc.count, 7);
	cr_expect_eq(snap.loops[0].gc.major, 0);
	cr_expect_eq(snap.loops[0].gc.total_ns, 14 * MS);
	cr_expect_eq(snap.loops[0].gc.max_ns, 4 * MS, "the window's, not the session's");

	/* A window without collections: zeros, still measured. */
	uvs_gc_history_read(h, 100, &c, 0, false);
	one_loop(100);
	uvs_gc_history_place(h, &snap);
	cr_expect(snap.loops[0].has_gc);
	cr_expect_eq(snap.loops[0].gc.count, 0);
	cr_expect_eq(snap.loops[0].gc.max_ns, 0);

	/* A loop whose thread never collected. */
	one_loop(200);
	uvs_gc_history_place(h, &snap);
	cr_expect(snap.loops[0].has_gc);
	cr_expect_eq(snap.loops[0].gc.count, 0);

	one_loop(100);
	uvs_gc_history_totals(h, &snap);
	cr_expect_eq(snap.loops[0].gc.count, 10);
	cr_expect_eq(snap.loops[0].gc.total_ns, 44 * MS);
	cr_expect_eq(snap.loops[0].gc.max_ns, 15 * MS);
	free(h);
}

Test(gc_window, held_until_the_loop_shows_up)
{
	struct uvs_gc_history *h = calloc(1, sizeof(*h));
	struct uvs_gc_snapshot c = { 2, 0, 3 * MS, 2 * MS };

	/* A Worker collects while it starts, before its loop ever waited. */
	uvs_gc_history_read(h, 300, &c, 2 * MS, false);
	one_loop(100);
	uvs_gc_history_place(h, &snap);
	c = (struct uvs_gc_snapshot){ 3, 1, 9 * MS, 6 * MS };
	uvs_gc_history_read(h, 300, &c, 6 * MS, false);
	memset(&snap, 0, sizeof(snap));
	snap.nloops = 2;
	snap.loops[0].tid = 100;
	snap.loops[1].tid = 300;
	uvs_gc_history_place(h, &snap);
	cr_expect_eq(snap.loops[0].gc.count, 0);
	cr_expect_eq(snap.loops[1].gc.count, 3, "both windows' collections");
	cr_expect_eq(snap.loops[1].gc.major, 1);
	cr_expect_eq(snap.loops[1].gc.total_ns, 9 * MS);
	cr_expect_eq(snap.loops[1].gc.max_ns, 6 * MS, "the longest of both windows");
	free(h);
}

Test(gc_window, maximum_consistent_with_count)
{
	struct uvs_gc_history *h = calloc(1, sizeof(*h));
	struct uvs_gc_snapshot c = { 1, 1, 8 * MS, 8 * MS };

	/* The collection ended between the epoch bump and the read: counted, its maximum not. */
	uvs_gc_history_read(h, 1, &c, 0, false);
	one_loop(1);
	uvs_gc_history_place(h, &snap);
	cr_expect_eq(snap.loops[0].gc.max_ns, 8 * MS, "one collection: its length");
	/* Next window: the stray maximum arrives with no collection counted. */
	uvs_gc_history_read(h, 1, &c, 8 * MS, false);
	one_loop(1);
	uvs_gc_history_place(h, &snap);
	cr_expect_eq(snap.loops[0].gc.count, 0);
	cr_expect_eq(snap.loops[0].gc.max_ns, 0, "no maximum without a collection");
	c = (struct uvs_gc_snapshot){ 5, 1, 20 * MS, 8 * MS };
	uvs_gc_history_read(h, 1, &c, 0, false);
	one_loop(1);
	uvs_gc_history_place(h, &snap);
	cr_expect_eq(snap.loops[0].gc.max_ns, 3 * MS, "four of 12ms: the mean, a lower bound");
	free(h);
}

Test(gc_window, gone_threads_make_room_and_tids_are_reused)
{
	struct uvs_gc_history *h = calloc(1, sizeof(*h));
	struct uvs_gc_snapshot c = { 1, 0, MS, MS };
	int i;

	for (i = 0; i < UVS_GC_TRACKS; i++)
		uvs_gc_history_read(h, 1000 + i, &c, MS, i == 0);
	cr_expect_eq(h->n, UVS_GC_TRACKS);
	/* Full: the gone thread 1000 gives its track to a new one. */
	uvs_gc_history_read(h, 5000, &c, MS, false);
	cr_expect_eq(h->unfit, 0);
	cr_expect_eq(h->n, UVS_GC_TRACKS);
	/* Full of live threads: counted as unfit. */
	uvs_gc_history_read(h, 6000, &c, MS, false);
	cr_expect_eq(h->unfit, 1);
	/* A gone thread's tid comes back as a new thread: a new track, counted from zero. */
	free(h);
	h = calloc(1, sizeof(*h));
	c = (struct uvs_gc_snapshot){ 4, 0, 4 * MS, MS };
	uvs_gc_history_read(h, 7, &c, MS, true);
	c = (struct uvs_gc_snapshot){ 1, 0, 2 * MS, 2 * MS };
	uvs_gc_history_read(h, 7, &c, 2 * MS, false);
	cr_expect_eq(h->n, 2);
	one_loop(7);
	uvs_gc_history_place(h, &snap);
	cr_expect_eq(snap.loops[0].gc.count, 1);
	cr_expect_eq(snap.loops[0].gc.total_ns, 2 * MS);
	free(h);
}

/* ---- records -------------------------------------------------------------------------------- */

Test(gc_record, from_event)
{
	struct uvs_gc_event e = { .start_ns = 100, .end_ns = 250, .tgid = 41, .tid = 42,
				  .collector = 1 };
	struct uvs_gc_record r;
	pid_t tgid = 0;

	cr_assert_eq(uvs_gc_record_from_event(&e, sizeof(e), &r, &tgid), 0);
	cr_expect_eq(tgid, 41);
	cr_expect_eq(r.tid, 42);
	cr_expect(r.major);
	cr_expect_eq(r.start_ns, 100);
	cr_expect_eq(r.end_ns, 250);
	e.collector = 0;
	cr_assert_eq(uvs_gc_record_from_event(&e, sizeof(e), &r, &tgid), 0);
	cr_expect(!r.major, "a scavenge is minor");
	e.collector = 2;
	cr_assert_eq(uvs_gc_record_from_event(&e, sizeof(e), &r, &tgid), 0);
	cr_expect(!r.major, "a minor mark-sweep is minor");
	cr_expect_lt(uvs_gc_record_from_event(&e, sizeof(e) - 1, &r, &tgid), 0);
	e.end_ns = 50;
	cr_expect_lt(uvs_gc_record_from_event(&e, sizeof(e), &r, &tgid), 0,
		     "ends before it starts");
}

static struct uvs_record last_record;
static int nrecords;

static void keep_record(void *ctx, const struct uvs_record *r)
{
	(void)ctx;
	last_record = *r;
	nrecords++;
}

/*
 * Two processes share the object's ring: each record reaches the instance of its own process,
 * and a record of a process the agent does not (or no longer) watch is dropped.
 */
Test(gc_record, handed_to_its_process_sink)
{
	struct uvs_gc_event e = { .start_ns = 7, .end_ns = 9, .tgid = 41, .tid = 43,
				  .collector = 1 };
	struct uvs_collect_sink sink = { .record = keep_record };
	struct uvs_collect_sink other_sink = { .record = keep_record, .ctx = &other_sink };
	struct uvs_target *t = calloc(2, sizeof(*t));
	struct uvs_gc g = { .target = &t[0], .sink = &sink };
	struct uvs_gc other = { .target = &t[1], .sink = &other_sink };
	struct uvs_bpf_shared *sh = uvs_bpf_shared_new();
	int slot, other_slot;

	cr_assert_not_null(sh);
	t[0].pid = 41;
	t[1].pid = 77;
	other_slot = uvs_bpf_shared_claim(sh, 77);
	slot = uvs_bpf_shared_claim(sh, 41);
	cr_assert(slot >= 0 && other_slot >= 0);
	uvs_bpf_shared_set_inst(sh, slot, UVS_OBJ_GC, &g);
	uvs_bpf_shared_set_inst(sh, other_slot, UVS_OBJ_GC, &other);
	nrecords = 0;
	cr_expect_eq(uvs_gc_on_record(sh, &e, sizeof(e)), 0);
	cr_assert_eq(nrecords, 1);
	cr_expect_eq(last_record.kind, UVS_RECORD_GC);
	cr_expect_eq(last_record.pid, 41);
	cr_expect_eq(last_record.gc.tid, 43);
	cr_expect(last_record.gc.major);
	e.tgid = 77;
	cr_expect_eq(uvs_gc_on_record(sh, &e, sizeof(e)), 0);
	cr_assert_eq(nrecords, 2);
	cr_expect_eq(last_record.pid, 77, "the other process's record goes to its own instance");
	e.tgid = 99;
	cr_expect_eq(uvs_gc_on_record(sh, &e, sizeof(e)), 0);
	cr_expect_eq(nrecords, 2, "a process not watched: dropped");
	e.tgid = 41;
	cr_expect_eq(uvs_gc_on_record(sh, &e, 3), 0, "a short record is skipped, not an error");
	cr_expect_eq(nrecords, 2);
	sink.record = NULL;
	cr_expect_eq(uvs_gc_on_record(sh, &e, sizeof(e)), 0, "no record callback: nothing to do");
	cr_expect_eq(nrecords, 2);
	uvs_bpf_shared_release(sh, other_slot);
	e.tgid = 77;
	cr_expect_eq(uvs_gc_on_record(sh, &e, sizeof(e)), 0);
	cr_expect_eq(nrecords, 2, "a process whose slot was given back: dropped");
	uvs_bpf_shared_free(sh);
	free(t);
}

/* ---- renderings ----------------------------------------------------------------------------- */

static char *render(int (*fn)(FILE *, const struct uvs_snapshot *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_expect_eq(fn(f, &snap), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static void gc_snapshot(void)
{
	one_loop(4242);
	strcpy(snap.loops[0].comm, "node");
	snap.loops[0].has_gc = true;
	snap.loops[0].gc = (struct uvs_gc_snapshot){ 12, 3, 12300000, 4500000 };
	snap.nloops = 2;
	snap.loops[1].tid = 4250;
	snap.loops[1].role = UVS_ROLE_WORKER;
	snap.loops[1].has_gc = true; /* measured, nothing collected */
}

Test(gc_render, json_loops_gc)
{
	char *got;

	gc_snapshot();
	got = render(uvs_json_interval);
	cr_expect_not_null(strstr(got, "\"gc\":{\"count\":12,\"major\":3,\"total_ns\":12300000,"
				       "\"max_ns\":4500000}}"), "%s", got);
	cr_expect_not_null(strstr(got, "\"gc\":{\"count\":0,\"major\":0,\"total_ns\":0,"
				       "\"max_ns\":0}}"), "%s", got);
	free(got);
	snap.loops[1].has_gc = false;
	got = render(uvs_json_interval);
	cr_expect_not_null(strstr(got, "\"gc\":null}"), "not measured is null: %s", got);
	free(got);
}

Test(gc_render, watch_line_and_summary)
{
	char *got;

	gc_snapshot();
	got = render(uvs_watch_interval);
	cr_expect_not_null(strstr(got, " gc 12 (3 major) 12.3ms | worker/4250"), "%s", got);
	cr_expect_null(strstr(strstr(got, " gc ") + 1, " gc "), "only the loop that collected: %s",
		       got);
	free(got);
	got = render(uvs_watch_summary);
	cr_expect_not_null(strstr(got, ", 12 GCs (3 major) total 12.3ms max 4.50ms\n"), "%s", got);
	cr_expect_not_null(strstr(got, ", 0 GCs (0 major)\n"), "%s", got);
	free(got);
	snap.loops[0].has_gc = snap.loops[1].has_gc = false;
	got = render(uvs_watch_summary);
	cr_expect_null(strstr(got, "GC"), "not measured, not shown: %s", got);
	free(got);
}

Test(gc_render, top_lines)
{
	struct uvs_top_context ctx = { .pid = 4242, .target = "/usr/bin/node", .mode = "epoll",
				       .libuv_version = "1.46.0" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	gc_snapshot();
	f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cr_expect_eq(uvs_top_render(f, &snap, &ctx), 0);
	cr_assert_eq(fclose(f), 0);
	cr_expect_not_null(strstr(buf, "\ngc main/4242: 12 (3 major), 12.3ms in all, longest "
				       "4.50ms\n"), "%s", buf);
	cr_expect_null(strstr(buf, "gc worker"), "%s", buf);
	free(buf);
}

Test(gc_render, losses_count)
{
	memset(&snap, 0, sizeof(snap));
	snap.agent.gc_threads_lost = 2;
	snap.agent.gc_records_dropped = 3;
	cr_expect_eq(uvs_agent_losses(&snap), 5);
}
