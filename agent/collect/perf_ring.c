// SPDX-License-Identifier: MIT
#include "collect/perf_ring.h"

#include <errno.h>
#include <string.h>

/* Copies n bytes at offset off (modulo the size) out of the ring, across its end if needed. */
static void ring_copy(const struct uvs_perf_ring *r, uint64_t off, void *out, size_t n)
{
	uint64_t at = off & (r->size - 1);
	size_t first = (size_t)(r->size - at) < n ? (size_t)(r->size - at) : n;

	memcpy(out, r->data + at, first);
	memcpy((uint8_t *)out + first, r->data, n - first);
}

void uvs_perf_ring_drain(struct uvs_perf_ring *r, uint8_t *scratch, uvs_perf_record_fn fn,
			 void *ctx, struct uvs_perf_ring_stats *st)
{
	/* The kernel writes data before it publishes data_head: acquire, as perf does. */
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;

	if (!r->size || (r->size & (r->size - 1)))
		return;
	/* A head behind the tail, or more than a ring ahead of it: nothing there can be framed. */
	if (head - tail > r->size) {
		st->bad++;
		goto done;
	}
	while (tail != head) {
		struct perf_event_header h;
		uint64_t avail = head - tail, at = tail & (r->size - 1);
		const uint8_t *rec;

		if (avail < sizeof(h)) {
			st->bad++;
			break;
		}
		ring_copy(r, tail, &h, sizeof(h));
		if (h.size < sizeof(h) || (h.size & 7) || h.size > avail) {
			st->bad++;
			break;
		}
		if (at + h.size <= r->size) {
			rec = r->data + at;
		} else {
			ring_copy(r, tail, scratch, h.size);
			rec = scratch;
		}
		fn(ctx, &h, rec, h.size);
		st->records++;
		tail += h.size;
	}
done:
	/* Up to head is ours to drop: the reads above are done before the kernel reuses it. */
	__atomic_store_n(&r->meta->data_tail, head, __ATOMIC_RELEASE);
}

/* A cursor over one record: every read checks what is left. */
struct cursor {
	const uint8_t *p;
	size_t left;
};

static int take_u64(struct cursor *c, uint64_t *v)
{
	if (c->left < 8)
		return -EINVAL;
	memcpy(v, c->p, 8);
	c->p += 8;
	c->left -= 8;
	return 0;
}

static int take_bytes(struct cursor *c, uint64_t n, const uint8_t **out)
{
	if (n > c->left)
		return -EINVAL;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

int uvs_perf_parse_sample(const uint8_t *rec, size_t len, struct uvs_perf_sample *out)
{
	struct cursor c = { rec, len };
	struct perf_event_header h;
	uint64_t pidtid, regs[3];

	memset(out, 0, sizeof(*out));
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, rec, sizeof(h));
	if (h.type != PERF_RECORD_SAMPLE || h.size != len)
		return -EINVAL;
	c.p += sizeof(h);
	c.left -= sizeof(h);
	if (take_u64(&c, &out->ip) || take_u64(&c, &pidtid) || take_u64(&c, &out->time) ||
	    take_u64(&c, &out->nr))
		return -EINVAL;
	out->pid = (uint32_t)pidtid;
	out->tid = (uint32_t)(pidtid >> 32);
	/* nr * 8 must not wrap: bounded by what is left first. */
	if (out->nr > c.left / 8 || take_bytes(&c, out->nr * 8, &out->callchain))
		return -EINVAL;
	if (take_u64(&c, &out->abi))
		return -EINVAL;
	if (out->abi != PERF_SAMPLE_REGS_ABI_NONE) {
		for (int i = 0; i < 3; i++)
			if (take_u64(&c, &regs[i]))
				return -EINVAL;
		out->bp = regs[0];
		out->sp = regs[1];
		out->uip = regs[2];
	}
	if (take_u64(&c, &out->stack_size))
		return -EINVAL;
	if (out->stack_size) {
		if (take_bytes(&c, out->stack_size, &out->stack) || take_u64(&c, &out->stack_dyn))
			return -EINVAL;
		if (out->stack_dyn > out->stack_size)
			return -EINVAL;
	}
	return 0;
}

int uvs_perf_parse_lost(const uint8_t *rec, size_t len, uint64_t *lost)
{
	struct perf_event_header h;

	/* header, u64 id, u64 lost (then sample_id fields, when asked for). */
	if (len < sizeof(h) + 16)
		return -EINVAL;
	memcpy(&h, rec, sizeof(h));
	if (h.type != PERF_RECORD_LOST)
		return -EINVAL;
	memcpy(lost, rec + sizeof(h) + 8, 8);
	return 0;
}
