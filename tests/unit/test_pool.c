// SPDX-License-Identifier: MIT
/*
 * The thread pool's per-job records without root: the ring-buffer record (with its process)
 * and where the callback of the one ring every watched process shares hands it.
 */
#include <inttypes.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "collect/bpf_shared.h"
#include "collect/pool.h"
#include "collect/pool_window.h"

Test(pool_record, from_event)
{
	struct uvs_pool_job_event e = { .end_ns = 5000, .wait_ns = 30, .service_ns = 700,
					.tgid = 41, .tid = 43, .kind = UVS_POOL_FS, .fs_type = 3 };
	struct uvs_pool_job_record r;
	pid_t tgid = 0;

	cr_assert_eq(uvs_pool_record_from_event(&e, sizeof(e), &r, &tgid), 0);
	cr_expect_eq(tgid, 41);
	cr_expect_eq(r.tid, 43);
	cr_expect_eq(r.kind, UVS_POOL_FS);
	cr_expect_eq(r.fs_type, 3);
	cr_expect_eq(r.wait_ns, 30);
	cr_expect_eq(r.service_ns, 700);
	e.kind = UVS_POOL_DNS;
	cr_assert_eq(uvs_pool_record_from_event(&e, sizeof(e), &r, &tgid), 0);
	cr_expect_eq(r.fs_type, -1, "only an fs job has an fs operation");
	cr_expect_lt(uvs_pool_record_from_event(&e, sizeof(e) - 1, &r, &tgid), 0);
	e.kind = UVS_POOL_KINDS;
	cr_expect_lt(uvs_pool_record_from_event(&e, sizeof(e), &r, &tgid), 0, "no such kind");
}

static struct uvs_record last_record;
static void *last_ctx;
static int nrecords;

static void keep_record(void *ctx, const struct uvs_record *r)
{
	last_ctx = ctx;
	last_record = *r;
	nrecords++;
}

/* Each record reaches the sink of its own process; one of a process not watched is dropped. */
Test(pool_record, handed_to_its_process_sink)
{
	struct uvs_pool_job_event e = { .end_ns = 9, .tgid = 77, .tid = 78,
					.kind = UVS_POOL_CRYPTO, .fs_type = -1 };
	struct uvs_target *t = calloc(2, sizeof(*t));
	struct uvs_collect_sink sinks[2] = { { .record = keep_record, .ctx = &sinks[0] },
					     { .record = keep_record, .ctx = &sinks[1] } };
	struct uvs_pool *p = calloc(2, sizeof(*p));
	struct uvs_bpf_shared *sh = uvs_bpf_shared_new();
	int i;

	cr_assert(t && p && sh);
	t[0].pid = 41;
	t[1].pid = 77;
	for (i = 0; i < 2; i++) {
		int slot = uvs_bpf_shared_claim(sh, t[i].pid);

		cr_assert_geq(slot, 0);
		p[i].target = &t[i];
		p[i].sink = &sinks[i];
		uvs_bpf_shared_set_inst(sh, slot, UVS_OBJ_POOL, &p[i]);
	}
	/* The process of each record, and the sink it must reach (none: dropped). */
	static const struct {
		__u32 tgid;
		int sink;
	} cases[] = { { 77, 1 }, { 41, 0 }, { 99, -1 }, { 0, -1 } };
	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		nrecords = 0;
		last_ctx = NULL;
		e.tgid = cases[i].tgid;
		cr_expect_eq(uvs_pool_on_record(sh, &e, sizeof(e)), 0);
		cr_expect_eq(nrecords, cases[i].sink >= 0, "record of process %u", cases[i].tgid);
		if (cases[i].sink < 0)
			continue;
		cr_expect_eq(last_ctx, &sinks[cases[i].sink], "process %u's own sink", e.tgid);
		cr_expect_eq(last_record.kind, UVS_RECORD_POOL_JOB);
		cr_expect_eq(last_record.pid, (pid_t)e.tgid);
		cr_expect_eq(last_record.pool_job.tid, 78);
		cr_expect_eq(last_record.pool_job.kind, UVS_POOL_CRYPTO);
	}
	nrecords = 0;
	e.tgid = 41;
	cr_expect_eq(uvs_pool_on_record(sh, &e, 8), 0, "a short record is skipped, not an error");
	cr_expect_eq(nrecords, 0);
	uvs_bpf_shared_free(sh);
	free(p);
	free(t);
}

/*
 * The 2-probe plan's inferred start of service (uvs_pool_inferred_start) against a simulated
 * libuv pool: FIFO queue, `threads` threads, each job taken by the first thread free (an idle
 * one at once). Each job's inferred start, from its submit and the end of its thread's
 * previous job, equals its true start whenever it waited; when its thread was idle the
 * inference gives its submit, which is its true start here (no wake-up latency simulated).
 */
#define SIM_JOBS 40

struct sim_job {
	uint64_t submit, service, start, end;
	int thread;
};

static void simulate(struct sim_job *jobs, size_t n, int threads)
{
	uint64_t free_at[8] = { 0 };
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		int best = 0;

		for (k = 1; k < threads; k++)
			if (free_at[k] < free_at[best])
				best = k;
		jobs[i].thread = best;
		jobs[i].start = jobs[i].submit > free_at[best] ? jobs[i].submit : free_at[best];
		jobs[i].end = jobs[i].start + jobs[i].service;
		free_at[best] = jobs[i].end;
	}
}

Test(pool_inference, start_of_service_from_the_threads_previous_end)
{
	struct sim_job jobs[SIM_JOBS];
	uint64_t last_end[8] = { 0 }, t = 1000;
	size_t i, waited = 0, idle = 0;

	/* Bursts that saturate 2 threads, and gaps that leave them idle. */
	srand(7);
	for (i = 0; i < SIM_JOBS; i++) {
		t += (i % 10 == 0) ? 100000 : (uint64_t)(rand() % 50);
		jobs[i] = (struct sim_job){ .submit = t, .service = 500 + (uint64_t)(rand() % 3000) };
	}
	simulate(jobs, SIM_JOBS, 2);
	/* What the end probe sees, in the order jobs end. */
	for (;;) {
		size_t next = SIM_JOBS;

		for (i = 0; i < SIM_JOBS; i++)
			if (jobs[i].end && (next == SIM_JOBS || jobs[i].end < jobs[next].end))
				next = i;
		if (next == SIM_JOBS)
			break;
		{
			struct sim_job *j = &jobs[next];
			uint64_t start = uvs_pool_inferred_start(j->submit, last_end[j->thread], j->end);

			cr_expect_eq(start, j->start, "job %zu: inferred %" PRIu64 ", true %" PRIu64, next,
				     start, j->start);
			if (j->start > j->submit)
				waited++;
			else
				idle++;
			last_end[j->thread] = j->end;
			j->end = 0;
		}
	}
	cr_expect_gt(waited, 10, "the bursts made jobs wait");
	cr_expect_gt(idle, 2, "the gaps left threads idle");
}

Test(pool_inference, never_after_the_end)
{
	cr_expect_eq(uvs_pool_inferred_start(100, 0, 500), 100, "first job of a thread");
	cr_expect_eq(uvs_pool_inferred_start(100, 300, 500), 300, "waited for the thread");
	cr_expect_eq(uvs_pool_inferred_start(400, 300, 500), 400, "the thread was idle");
	/* A previous end after this one cannot be (clocks of two CPUs): never past the end. */
	cr_expect_eq(uvs_pool_inferred_start(100, 600, 500), 500);
}

/*
 * A job in flight is named by its process's slot and its uv__work (pool_jobs.bpf.h): every slot
 * and address the programs can meet names one job, and the slot is read back from the name
 * (the agent gives a forgotten process's entries back by it).
 */
Test(pool_jobs, owner_names_slot_and_address)
{
	const __u64 top = (1ull << 47) - 8; /* the highest 8-byte aligned user address */
	const __u64 addrs[] = { 8, 0x55d0c0ffee08ull, 0x7ffc12345678ull, top };
	__u32 slots[] = { 0, 1, 17, 255 };
	size_t i, j;

	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		for (j = 0; j < sizeof(addrs) / sizeof(addrs[0]); j++) {
			__u64 o = uvs_pool_job_owner(slots[i], addrs[j]);

			cr_assert_neq(o, 0);
			cr_expect_eq(o & UVS_POOL_JOB_FILLING, 0);
			cr_expect_eq(uvs_pool_job_owner_slot(o), (int)slots[i]);
			cr_expect_eq(uvs_pool_job_owner_slot(o | UVS_POOL_JOB_FILLING), (int)slots[i]);
			cr_expect_lt(uvs_pool_job_home(o), UVS_POOL_MAX_JOBS);
			/* another slot or another address: another name */
			cr_expect_neq(o, uvs_pool_job_owner(slots[i] ^ 1, addrs[j]));
			cr_expect_neq(o, uvs_pool_job_owner(slots[i], addrs[j] + 8));
		}
	}
	cr_expect_eq(uvs_pool_job_owner_slot(0), -1, "a free entry is no process's");
	cr_expect_eq(uvs_pool_job_owner(3, 0), 0);
	cr_expect_eq(uvs_pool_job_owner(3, 0x55d0c0ffee04ull), 0, "not 8-byte aligned");
	cr_expect_eq(uvs_pool_job_owner(3, 1ull << 47), 0, "above user space");
}

/* Jobs next to each other in memory (requests of one size) start their search far apart. */
Test(pool_jobs, neighbours_spread_over_the_table)
{
	static unsigned char hit[UVS_POOL_MAX_JOBS];
	__u64 base = 0x55d0c0000000ull;
	unsigned int i, distinct = 0;

	for (i = 0; i < 1024; i++) {
		__u32 h = uvs_pool_job_home(uvs_pool_job_owner(0, base + 272ull * i));

		distinct += !hit[h];
		hit[h] = 1;
	}
	cr_expect_gt(distinct, 900, "%u of 1024 homes distinct", distinct);
}

/*
 * libuv's busy threads bound the jobs served: 280 dns lookups in flight on a pool of 4, of
 * which libuv runs 2 (its slow-I/O cap) while 2 threads idle, are 2 running and 278 queued,
 * not 4 and 276.
 */
Test(pool_split, busy_threads_bound_the_running)
{
	struct uvs_pool_snapshot s = { .size = 4, .running = 4, .queued = 276, .queued_max = 276 };

	uvs_pool_running_at_most(&s, 2);
	cr_expect_eq(s.running, 2);
	cr_expect_eq(s.queued, 278);
	cr_expect_eq(s.queued_max, 278, "the most queued is at least the queued now");

	/* Under the pool's size: 3 jobs in flight, 1 of them waiting behind the cap. */
	s = (struct uvs_pool_snapshot){ .size = 4, .running = 3, .queued = 0, .queued_max = 0 };
	uvs_pool_running_at_most(&s, 2);
	cr_expect_eq(s.running, 2);
	cr_expect_eq(s.queued, 1);
	cr_expect_eq(s.queued_max, 1);

	/* A larger most-queued of earlier in the window stays. */
	s = (struct uvs_pool_snapshot){ .size = 4, .running = 4, .queued = 1, .queued_max = 9 };
	uvs_pool_running_at_most(&s, 3);
	cr_expect_eq(s.running, 3);
	cr_expect_eq(s.queued, 2);
	cr_expect_eq(s.queued_max, 9);
}

/*
 * Never the other way: threads busy with jobs the probes did not see (submitted before the
 * attach) add nothing, and nothing in flight stays nothing.
 */
Test(pool_split, more_busy_threads_change_nothing)
{
	struct uvs_pool_snapshot s = { .size = 4, .running = 1, .queued = 0, .queued_max = 0 };

	uvs_pool_running_at_most(&s, 4);
	cr_expect_eq(s.running, 1);
	cr_expect_eq(s.queued, 0);
	s = (struct uvs_pool_snapshot){ .size = 4 };
	uvs_pool_running_at_most(&s, 0);
	cr_expect_eq(s.running, 0);
	cr_expect_eq(s.queued, 0);
	cr_expect_eq(s.queued_max, 0);
}

/* The cap's wait (sampled at the block checks) adds to the probes' saturation, to at most 1. */
Test(pool_split, saturation_with_the_cap)
{
	cr_expect_float_eq(uvs_pool_saturation_with_cap(0.0, 10, 10), 1.0, 1e-9);
	cr_expect_float_eq(uvs_pool_saturation_with_cap(0.25, 5, 10), 0.75, 1e-9);
	cr_expect_float_eq(uvs_pool_saturation_with_cap(0.8, 5, 10), 1.0, 1e-9, "never above 1");
	cr_expect_float_eq(uvs_pool_saturation_with_cap(0.3, 0, 0), 0.3, 1e-9, "no check: as is");
	cr_expect_float_eq(uvs_pool_saturation_with_cap(0.3, 11, 10), 0.3, 1e-9,
			   "more waits than checks is no reading");
}
