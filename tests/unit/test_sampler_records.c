// SPDX-License-Identifier: MIT
/*
 * The stack samples' ring records, without BPF: one ring for every target of the agent, each
 * record handed to the sampler of its tgid (the host's UVS_OBJ_STACKS instance of that
 * process's slot), records of processes not watched dropped, and truncated or inconsistent
 * records refused before anyone reads them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "collect/bpf_shared.h"
#include "collect/sampler.h"

/* What one target's callback was handed. */
struct got {
	int n;
	__u32 tgid, tid;
	size_t copy_len;
	uint8_t first_copy_byte;
};

static void on_sample(void *ctx, const struct uvs_stack_sample *s, const uint8_t *copy,
		      size_t copy_len)
{
	struct got *g = ctx;

	g->n++;
	g->tgid = s->tgid;
	g->tid = s->tid;
	g->copy_len = copy_len;
	g->first_copy_byte = copy_len ? copy[0] : 0;
}

static void expect_got(const struct got *g, const struct got *want)
{
	cr_expect_eq(g->n, want->n);
	cr_expect_eq(g->tgid, want->tgid);
	cr_expect_eq(g->tid, want->tid);
	cr_expect_eq(g->copy_len, want->copy_len);
	cr_expect_eq(g->first_copy_byte, want->first_copy_byte);
}

/* A record as BPF writes it: the sample, then copy_len bytes of stack (in a buffer of cap). */
static uint8_t *record(__u32 tgid, __u32 tid, __u32 copy_len, size_t cap)
{
	uint8_t *buf = calloc(1, cap);
	struct uvs_stack_sample *s = (struct uvs_stack_sample *)buf;

	cr_assert_not_null(buf);
	s->tgid = tgid;
	s->tid = tid;
	s->kind = UVS_SAMPLE_ON_CPU;
	s->copy_len = copy_len;
	s->nuser = 1;
	if (copy_len)
		memset(buf + sizeof(*s), 0xab, copy_len);
	return buf;
}

Test(sampler_records, each_record_goes_to_the_target_of_its_tgid)
{
	struct uvs_bpf_shared *sh = uvs_bpf_shared_new();
	struct got a = { 0 }, b = { 0 };
	struct uvs_sampler_options oa = { .on_sample = on_sample, .ctx = &a };
	struct uvs_sampler_options ob = { .on_sample = on_sample, .ctx = &b };
	size_t len = sizeof(struct uvs_stack_sample) + 64;
	uint8_t *ra = record(1000, 1003, 64, len), *rb = record(2000, 2001, 0, len);
	uint8_t *stranger = record(3000, 3000, 0, len);
	int sa, sb;

	cr_assert_not_null(sh);
	sa = uvs_bpf_shared_claim(sh, 1000);
	sb = uvs_bpf_shared_claim(sh, 2000);
	cr_assert(sa >= 0 && sb >= 0 && sa != sb);
	uvs_bpf_shared_set_inst(sh, sa, UVS_OBJ_STACKS, &oa);
	uvs_bpf_shared_set_inst(sh, sb, UVS_OBJ_STACKS, &ob);

	uvs_sampler_on_record(sh, ra, sizeof(struct uvs_stack_sample) + 64);
	uvs_sampler_on_record(sh, rb, sizeof(struct uvs_stack_sample));
	uvs_sampler_on_record(sh, stranger, sizeof(struct uvs_stack_sample));
	expect_got(&a, &(struct got){ .n = 1, .tgid = 1000, .tid = 1003, .copy_len = 64,
				      .first_copy_byte = 0xab });
	expect_got(&b, &(struct got){ .n = 1, .tgid = 2000, .tid = 2001 });

	/* A target that left (its slot given back): its records still in the ring are dropped. */
	uvs_bpf_shared_release(sh, sa);
	uvs_sampler_on_record(sh, ra, sizeof(struct uvs_stack_sample) + 64);
	cr_assert_eq(a.n, 1);
	uvs_sampler_on_record(sh, rb, sizeof(struct uvs_stack_sample));
	cr_assert_eq(b.n, 2);

	free(ra);
	free(rb);
	free(stranger);
	uvs_bpf_shared_free(sh);
}

Test(sampler_records, truncated_or_inconsistent_records_are_refused)
{
	size_t len = sizeof(struct uvs_stack_sample) + 32;
	uint8_t *r = record(1000, 1000, 32, len);
	struct uvs_stack_sample *s = (struct uvs_stack_sample *)r;

	cr_assert_eq(uvs_sampler_record_check(r, len), 0);
	/* The stack copy says more bytes than the record holds. */
	cr_assert_eq(uvs_sampler_record_check(r, len - 1), -EINVAL);
	/* Shorter than the sample itself. */
	cr_assert_eq(uvs_sampler_record_check(r, sizeof(*s) - 8), -EINVAL);
	s->copy_len = 0;
	cr_assert_eq(uvs_sampler_record_check(r, sizeof(*s)), 0);
	s->nuser = UVS_USER_FRAMES_MAX + 1;
	cr_assert_eq(uvs_sampler_record_check(r, sizeof(*s)), -EINVAL);
	s->nuser = UVS_USER_FRAMES_MAX;
	s->nkernel = UVS_KERNEL_FRAMES_MAX + 1;
	cr_assert_eq(uvs_sampler_record_check(r, sizeof(*s)), -EINVAL);
	free(r);
}
