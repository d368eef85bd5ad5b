/* SPDX-License-Identifier: MIT */
/*
 * Reading a perf event's mmap ring as `perf record` does, and the sample records in it. The
 * ring's content is written by the kernel but describes the target (its stack bytes, its
 * addresses), and a record's sizes are what we trust least: every size is checked against
 * what the ring holds before anything is read (tests/unit/test_perf_ring.c, fuzzed by
 * tests/fuzz/fuzz_perf_ring.c).
 */
#ifndef UVSCOPE_PERF_RING_H
#define UVSCOPE_PERF_RING_H

#include <stddef.h>
#include <stdint.h>
#include <linux/perf_event.h>

/* A record is at most this long (perf_event_header.size is 16 bits). */
#define UVS_PERF_RECORD_MAX 65536

/* One event's ring: the kernel's header page and the data pages after it. */
struct uvs_perf_ring {
	struct perf_event_mmap_page *meta;
	const uint8_t *data;
	uint64_t size; /* bytes of data: a power of two */
};

struct uvs_perf_ring_stats {
	uint64_t records; /* records handed over */
	uint64_t bad;     /* a header that could not be: the rest of the ring was skipped */
};

/* rec holds the whole record, header first, len == header.size; valid during the call. */
typedef void (*uvs_perf_record_fn)(void *ctx, const struct perf_event_header *h,
				   const uint8_t *rec, size_t len);

/*
 * Hands every complete record between the ring's tail and head to fn, in order; a record that
 * wraps past the end of the data is put together in scratch (UVS_PERF_RECORD_MAX bytes)
 * first. A header whose size is smaller than a header, not a multiple of 8, or larger than
 * what the ring holds means the rest cannot be framed: it is skipped and counted in bad. Then
 * the tail moves to the head read at the start (the kernel may reuse that space).
 */
void uvs_perf_ring_drain(struct uvs_perf_ring *r, uint8_t *scratch, uvs_perf_record_fn fn,
			 void *ctx, struct uvs_perf_ring_stats *st);

/*
 * The sample type the sampler asks for, and the user registers (x86-64 perf register
 * numbers: bp 6, sp 7, ip 8; a sample holds them in that order).
 */
#define UVS_PERF_SAMPLE_TYPE                                                                   \
	(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CALLCHAIN |         \
	 PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)
#define UVS_PERF_REG_BP 6
#define UVS_PERF_REG_SP 7
#define UVS_PERF_REG_IP 8
#define UVS_PERF_REGS_MASK                                                                     \
	((1ULL << UVS_PERF_REG_BP) | (1ULL << UVS_PERF_REG_SP) | (1ULL << UVS_PERF_REG_IP))

/* A PERF_RECORD_SAMPLE of UVS_PERF_SAMPLE_TYPE, its arrays pointing into the record. */
struct uvs_perf_sample {
	uint64_t ip, time;
	uint32_t pid, tid;
	uint64_t nr;               /* callchain entries (with PERF_CONTEXT_* markers) */
	const uint8_t *callchain;  /* nr u64s, unaligned: read with memcpy */
	uint64_t abi;              /* PERF_SAMPLE_REGS_ABI_NONE (0): no user registers */
	uint64_t bp, sp, uip;      /* user registers when abi != 0 */
	uint64_t stack_size;       /* bytes of stack room in the record */
	const uint8_t *stack;      /* the user stack from sp */
	uint64_t stack_dyn;        /* of which valid (dyn_size), <= stack_size */
};

/* Parses a PERF_RECORD_SAMPLE (rec, len as uvs_perf_ring_drain gives it). 0, or -EINVAL. */
int uvs_perf_parse_sample(const uint8_t *rec, size_t len, struct uvs_perf_sample *out);

/* A PERF_RECORD_LOST's count of lost samples. 0, or -EINVAL. */
int uvs_perf_parse_lost(const uint8_t *rec, size_t len, uint64_t *lost);

#endif
