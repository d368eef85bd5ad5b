// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the proc backend reading arbitrary bytes as the target's memory.
 *
 * The input's first 16 bytes are the parameters (an epoll fd, the stack pointer's offset, the
 * pool queue's head and message offsets, a libuv version pick); the rest is the memory image,
 * mapped at a fixed base. Every reader runs on it: the Worker loop search up the "stack", the
 * metrics read in both layouts, the pool queue walk, and the span math fed the readings. The
 * answers must stay inside what was read: a loop found lies in the image and validates again,
 * a queue count never exceeds the walk's bound, and the math never reports a span that ends
 * before it starts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collect/pool_statics.h"
#include "collect/proc_loop_find.h"
#include "collect/proc_loop_math.h"

#define BASE 0x7f0000000000ULL

struct image {
	const uint8_t *b;
	size_t n;
};

static ssize_t image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct image *m = ctx;

	if (len > UVS_MEM_READ_MAX)
		return -EINVAL;
	if (addr < BASE || addr - BASE >= m->n)
		return -EFAULT;
	if (len > m->n - (addr - BASE))
		len = m->n - (addr - BASE);
	memcpy(buf, m->b + (addr - BASE), len);
	return (ssize_t)len;
}

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t versions[] = { 0x012c02, 0x012e00, 0x013400, 0x012b00 };
	struct image m;
	struct uvs_mem_reader r = { image_read, &m };
	struct uvs_lm_layout layout;
	struct uvs_lm_track track = { 0 };
	struct uvs_lm_reading rd;
	struct uvs_lm_span span;
	uint64_t loop, lf, count, now = 1000000000000ULL;
	bool capped;
	int epfd;

	if (size < 16)
		return 0;
	epfd = data[0] | data[1] << 8;
	layout = uvs_lm_layout_for(versions[data[2] & 3]);
	m = (struct image){ data + 16, size - 16 };
	if (uvs_lm_find_on_stack(&r, BASE + u16(data + 4), 1u << 16, epfd, &loop, &lf) == 0) {
		uint64_t again;

		if (loop < BASE || loop - BASE >= m.n || uvs_lm_validate_loop(&r, loop, epfd, &again) ||
		    again != lf || !uvs_lm_still_loop(&r, loop, lf, epfd))
			abort();
		/* The readings of its metrics, a few clock ticks apart, through the span math. */
		for (int i = 0; i < 4; i++) {
			if (uvs_lm_read(&r, &layout, lf, now + (uint64_t)i * 1000000, &rd))
				break;
			if (uvs_lm_step(&track, &rd, 100000000, &span) && span.end < span.start)
				abort();
		}
	}
	/* Metrics read anywhere in the image, as readings of one loop over time. */
	for (size_t off = 0; off + 160 <= m.n && off < 4096; off += 152) {
		if (uvs_lm_read(&r, &layout, BASE + off, now, &rd) == 0 &&
		    (!track.seen || uvs_lm_plausible(&track.last, &rd)) &&
		    uvs_lm_step(&track, &rd, 100000000, &span) && span.end < span.start)
			abort();
		now += 7000000;
	}
	if (uvs_pool_queue_count(&r, BASE + u16(data + 6), BASE + u16(data + 8),
				 BASE + u16(data + 10), 64, &count, &capped) == 0 && count > 64)
		abort();
	return 0;
}
