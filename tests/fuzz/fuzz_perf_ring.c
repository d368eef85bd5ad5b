// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the perf mmap ring reader and its records (agent/collect/perf_ring.h), and
 * the frame-pointer walk the sampler runs on each sample's stack copy (collect/fp_walk.h), on
 * any bytes. The kernel writes the ring, but what it holds (addresses, stack bytes) is the
 * target's, and the sizes are what must never be trusted.
 *
 * Input: 8 bytes of tail position, 2 bytes of how far the head is ahead of the tail (may be
 * more than the ring), then the ring's data (4096 bytes, zero-padded). Checks: every record
 * handed over lies in what the ring held, a parsed sample's arrays lie in its record, the walk
 * ends within its bounds, and the tail ends at the head.
 */
#include <stdlib.h>
#include <string.h>

#include "collect/fp_walk.h"
#include "collect/perf_ring.h"

#define DATA 4096

static uint8_t scratch[UVS_PERF_RECORD_MAX];
static struct uvs_stack_sample sample;

static void on_rec(void *ctx, const struct perf_event_header *h, const uint8_t *rec, size_t len)
{
	size_t *seen = ctx;
	struct uvs_perf_sample ps;
	struct uvs_stack_copy copy;
	uint64_t lost;

	if (len != h->size || len < sizeof(*h) || len > DATA)
		abort();
	*seen += len;
	if (uvs_perf_parse_lost(rec, len, &lost) == 0 && h->type != PERF_RECORD_LOST)
		abort();
	if (uvs_perf_parse_sample(rec, len, &ps))
		return;
	if (ps.nr && (ps.callchain < rec || ps.callchain + ps.nr * 8 > rec + len))
		abort();
	if (ps.stack_size && (ps.stack < rec || ps.stack + ps.stack_size > rec + len ||
			      ps.stack_dyn > ps.stack_size))
		abort();
	memset(&sample, 0, sizeof(sample));
	sample.ip = ps.uip;
	sample.sp = ps.sp;
	sample.bp = ps.bp;
	copy = (struct uvs_stack_copy){ .base = ps.sp, .bytes = ps.stack, .len = ps.stack_dyn };
	uvs_fp_walk(&sample, &copy, NULL);
	if (sample.nuser == 0 || sample.nuser > UVS_USER_FRAMES_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ring[DATA];
	struct perf_event_mmap_page meta;
	struct uvs_perf_ring r = { .meta = &meta, .data = ring, .size = DATA };
	struct uvs_perf_ring_stats st = { 0 };
	uint64_t tail = 0;
	uint16_t ahead = 0;
	size_t seen = 0;

	if (size < 10)
		return 0;
	memcpy(&tail, data, 8);
	memcpy(&ahead, data + 8, 2);
	data += 10;
	size -= 10;
	memset(ring, 0, sizeof(ring));
	memcpy(ring, data, size < DATA ? size : DATA);
	memset(&meta, 0, sizeof(meta));
	meta.data_tail = tail;
	meta.data_head = tail + ahead;
	uvs_perf_ring_drain(&r, scratch, on_rec, &seen, &st);
	if (meta.data_tail != tail + ahead)
		abort();
	if (ahead <= DATA && seen > ahead)
		abort();
	return 0;
}
