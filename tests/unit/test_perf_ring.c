// SPDX-License-Identifier: MIT
/*
 * The perf mmap ring reader and the sample records, on synthetic rings: records in order, a
 * record that wraps past the end of the data put together whole, PERF_RECORD_LOST counted,
 * and sizes that cannot be (truncated, unaligned, larger than the ring holds) refused before
 * anything is read past them. The tail always ends at the head (the kernel reuses the space).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "collect/perf_ring.h"

#define DATA 256

struct ring {
	struct perf_event_mmap_page meta;
	uint8_t data[DATA];
	struct uvs_perf_ring r;
	uint8_t scratch[UVS_PERF_RECORD_MAX];
};

static void ring_init(struct ring *g, uint64_t start)
{
	memset(g, 0, sizeof(*g));
	g->meta.data_head = g->meta.data_tail = start;
	g->r = (struct uvs_perf_ring){ .meta = &g->meta, .data = g->data, .size = DATA };
}

/* Writes n bytes at the head (wrapping) and moves it, as the kernel does. */
static void ring_put(struct ring *g, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g->data[(g->meta.data_head + i) % DATA] = ((const uint8_t *)p)[i];
	g->meta.data_head += n;
}

/* A record of type with size bytes in all, its payload filled with fill. */
static void put_record(struct ring *g, uint32_t type, uint16_t size, uint8_t fill)
{
	uint8_t buf[DATA];
	struct perf_event_header h = { .type = type, .misc = 0, .size = size };

	memset(buf, fill, sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	ring_put(g, buf, size);
}

struct seen {
	int n;
	uint32_t types[16];
	uint16_t sizes[16];
	bool payload_ok[16]; /* every payload byte as written */
	uint8_t fill[16];
};

static void on_rec(void *ctx, const struct perf_event_header *h, const uint8_t *rec, size_t len)
{
	struct seen *s = ctx;
	bool ok = len == h->size;

	for (size_t i = sizeof(*h); i < len; i++)
		ok = ok && rec[i] == rec[sizeof(*h)];
	if (s->n < 16) {
		s->types[s->n] = h->type;
		s->sizes[s->n] = h->size;
		s->payload_ok[s->n] = ok;
		s->fill[s->n] = len > sizeof(*h) ? rec[sizeof(*h)] : 0;
	}
	s->n++;
}

Test(perf_ring, records_in_order_and_tail_moved)
{
	struct ring *g = malloc(sizeof(*g));
	struct seen s = { 0 };
	struct uvs_perf_ring_stats st = { 0 };

	ring_init(g, 0);
	put_record(g, PERF_RECORD_SAMPLE, 24, 0xa1);
	put_record(g, PERF_RECORD_LOST, 32, 0xb2);
	put_record(g, PERF_RECORD_SAMPLE, 8, 0);
	uvs_perf_ring_drain(&g->r, g->scratch, on_rec, &s, &st);
	cr_assert_eq(s.n, 3);
	cr_expect_eq(s.types[0], PERF_RECORD_SAMPLE);
	cr_expect_eq(s.sizes[0], 24);
	cr_expect_eq(s.fill[0], 0xa1);
	cr_expect_eq(s.types[1], PERF_RECORD_LOST);
	cr_expect_eq(s.fill[1], 0xb2);
	cr_expect_eq(s.sizes[2], 8);
	cr_expect_eq(st.records, 3);
	cr_expect_eq(st.bad, 0);
	cr_expect_eq(g->meta.data_tail, g->meta.data_head);
	/* Nothing new: nothing handed over again. */
	uvs_perf_ring_drain(&g->r, g->scratch, on_rec, &s, &st);
	cr_expect_eq(s.n, 3);
	free(g);
}

Test(perf_ring, record_wrapping_the_end_is_whole)
{
	struct ring *g = malloc(sizeof(*g));
	struct seen s = { 0 };
	struct uvs_perf_ring_stats st = { 0 };

	/* Start 16 bytes before the end: a 64-byte record wraps, its header does not. */
	ring_init(g, 10 * DATA - 16);
	put_record(g, PERF_RECORD_SAMPLE, 64, 0x5c);
	/* Then one whose header itself wraps: 8 bytes before the end. */
	uvs_perf_ring_drain(&g->r, g->scratch, on_rec, &s, &st);
	ring_init(g, 11 * DATA - 4);
	put_record(g, PERF_RECORD_SAMPLE, 40, 0x6d);
	uvs_perf_ring_drain(&g->r, g->scratch, on_rec, &s, &st);
	cr_assert_eq(s.n, 2);
	cr_expect(s.payload_ok[0] && s.fill[0] == 0x5c);
	cr_expect(s.payload_ok[1] && s.fill[1] == 0x6d);
	cr_expect_eq(s.sizes[1], 40);
	cr_expect_eq(st.bad, 0);
	free(g);
}

Test(perf_ring, impossible_sizes_stop_the_read)
{
	static const uint16_t bad_sizes[] = { 0, 4, 12, 200 /* more than written */ };

	for (size_t k = 0; k < sizeof(bad_sizes) / sizeof(bad_sizes[0]); k++) {
		struct ring *g = malloc(sizeof(*g));
		struct seen s = { 0 };
		struct uvs_perf_ring_stats st = { 0 };
		struct perf_event_header h = { .type = PERF_RECORD_SAMPLE, .size = bad_sizes[k] };
		uint8_t pad[24] = { 0 };

		ring_init(g, 0);
		put_record(g, PERF_RECORD_SAMPLE, 16, 1);
		ring_put(g, &h, sizeof(h));
		ring_put(g, pad, sizeof(pad));
		put_record(g, PERF_RECORD_SAMPLE, 16, 2);
		uvs_perf_ring_drain(&g->r, g->scratch, on_rec, &s, &st);
		cr_expect_eq(s.n, 1, "size %u: only the record before it", bad_sizes[k]);
		cr_expect_eq(st.bad, 1, "size %u counted", bad_sizes[k]);
		cr_expect_eq(g->meta.data_tail, g->meta.data_head);
		free(g);
	}
}

Test(perf_ring, head_further_than_the_ring_is_refused)
{
	struct ring *g = malloc(sizeof(*g));
	struct seen s = { 0 };
	struct uvs_perf_ring_stats st = { 0 };

	ring_init(g, 0);
	g->meta.data_head = DATA + 8;
	uvs_perf_ring_drain(&g->r, g->scratch, on_rec, &s, &st);
	cr_expect_eq(s.n, 0);
	cr_expect_eq(st.bad, 1);
	cr_expect_eq(g->meta.data_tail, DATA + 8);
	/* A truncated tail: fewer bytes than a header. */
	ring_init(g, 0);
	put_record(g, PERF_RECORD_SAMPLE, 16, 3);
	g->meta.data_head += 4;
	uvs_perf_ring_drain(&g->r, g->scratch, on_rec, &s, &st);
	cr_expect_eq(s.n, 1);
	cr_expect_eq(st.bad, 2);
	free(g);
}

/* A PERF_RECORD_SAMPLE of UVS_PERF_SAMPLE_TYPE, built field by field. */
struct builder {
	uint8_t b[1024];
	size_t n;
};

static void b_u64(struct builder *b, uint64_t v)
{
	memcpy(b->b + b->n, &v, 8);
	b->n += 8;
}

static size_t build_sample(struct builder *b, uint64_t nr, bool regs, uint64_t stack_size,
			   uint64_t dyn)
{
	struct perf_event_header h = { .type = PERF_RECORD_SAMPLE };

	b->n = sizeof(h);
	b_u64(b, 0x401000);                        /* ip */
	b_u64(b, (uint64_t)4243 << 32 | 4242);     /* pid, tid */
	b_u64(b, 123456789);                       /* time */
	b_u64(b, nr);
	for (uint64_t i = 0; i < nr; i++)
		b_u64(b, i == 0 ? (uint64_t)PERF_CONTEXT_USER : 0x401000 + i);
	b_u64(b, regs ? PERF_SAMPLE_REGS_ABI_64 : PERF_SAMPLE_REGS_ABI_NONE);
	if (regs) {
		b_u64(b, 0x7ffd1000); /* bp */
		b_u64(b, 0x7ffd0f00); /* sp */
		b_u64(b, 0x401234);   /* ip */
	}
	b_u64(b, stack_size);
	if (stack_size) {
		memset(b->b + b->n, 0xee, stack_size);
		b->n += stack_size;
		b_u64(b, dyn);
	}
	h.size = (uint16_t)b->n;
	memcpy(b->b, &h, sizeof(h));
	return b->n;
}

Test(perf_ring, sample_fields)
{
	struct builder b;
	struct uvs_perf_sample s;
	size_t n = build_sample(&b, 3, true, 64, 48);

	cr_assert_eq(uvs_perf_parse_sample(b.b, n, &s), 0);
	cr_expect_eq(s.pid, 4242);
	cr_expect_eq(s.tid, 4243);
	cr_expect_eq(s.time, 123456789);
	cr_expect_eq(s.nr, 3);
	cr_expect_eq(s.abi, PERF_SAMPLE_REGS_ABI_64);
	cr_expect_eq(s.bp, 0x7ffd1000);
	cr_expect_eq(s.sp, 0x7ffd0f00);
	cr_expect_eq(s.uip, 0x401234);
	cr_expect_eq(s.stack_size, 64);
	cr_expect_eq(s.stack_dyn, 48);
	cr_expect_eq(s.stack[0], 0xee);
	/* No user registers (a kernel thread): no regs, the stack size follows the abi. */
	n = build_sample(&b, 0, false, 0, 0);
	cr_assert_eq(uvs_perf_parse_sample(b.b, n, &s), 0);
	cr_expect_eq(s.abi, PERF_SAMPLE_REGS_ABI_NONE);
	cr_expect_eq(s.stack_size, 0);
}

Test(perf_ring, truncated_or_lying_samples_are_refused)
{
	struct builder b;
	struct uvs_perf_sample s;
	size_t n = build_sample(&b, 3, true, 64, 48);

	/* Every cut of a good record is refused (the header's size no longer matches, or a field
	 * runs past the end once it does). */
	for (size_t cut = 0; cut < n; cut += 8) {
		struct perf_event_header h;

		memcpy(&h, b.b, sizeof(h));
		h.size = (uint16_t)cut;
		memcpy(b.b, &h, sizeof(h));
		cr_expect_eq(uvs_perf_parse_sample(b.b, cut, &s), -EINVAL, "cut at %zu", cut);
	}
	/* A callchain count that would run past the record (or wrap nr * 8). */
	n = build_sample(&b, 3, true, 64, 48);
	{
		uint64_t huge = UINT64_MAX / 4;

		memcpy(b.b + sizeof(struct perf_event_header) + 24, &huge, 8);
		cr_expect_eq(uvs_perf_parse_sample(b.b, n, &s), -EINVAL);
	}
	/* dyn_size larger than the stack room. */
	n = build_sample(&b, 1, true, 16, 24);
	cr_expect_eq(uvs_perf_parse_sample(b.b, n, &s), -EINVAL);
}

Test(perf_ring, lost_count)
{
	uint8_t rec[32] = { 0 };
	struct perf_event_header h = { .type = PERF_RECORD_LOST, .size = 32 };
	uint64_t lost = 17, got = 0;

	memcpy(rec, &h, sizeof(h));
	memcpy(rec + 16, &lost, 8);
	cr_assert_eq(uvs_perf_parse_lost(rec, sizeof(rec), &got), 0);
	cr_expect_eq(got, 17);
	cr_expect_eq(uvs_perf_parse_lost(rec, 16, &got), -EINVAL);
}
