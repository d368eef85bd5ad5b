// SPDX-License-Identifier: MIT
/*
 * The thread pool's per-job records without root: the ring-buffer record (with its process)
 * and where the callback of the one ring every watched process shares hands it.
 */
#include <stdlib.h>

#include <criterion/criterion.h>

#include "collect/bpf_shared.h"
#include "collect/pool.h"

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
