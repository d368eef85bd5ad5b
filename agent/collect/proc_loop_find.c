// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "collect/proc_loop_find.h"
#include "uvscope/epoll_sites.h"

/* The public uv_loop_t (uvscope/epoll_sites.h), read up to backend_fd's end. */
#define LOOP_READ (UVS_UV_LOOP_BACKEND_FD + 8)

/* libuv's UV_METRICS_IDLE_TIME bit in uv__loop_internal_fields_t.flags. */
#define LFIELDS_METRICS_IDLE_TIME 1u

/* A stamp up to this far past our clock is a read racing libuv's own clock read. */
#define CLOCK_SLACK_NS 1000000000ULL

struct uvs_lm_layout uvs_lm_layout_for(uint32_t libuv_hex)
{
	/*
	 * 1.45 put uv_metrics_t (loop_count, events, events_waiting, 13 reserved words) before
	 * the provider times (include/uvscope/epoll_sites.h, the same through 1.52); 1.44 (Node
	 * 18) has only the provider times after the flags (ptype/o of Node 18.20.8's DWARF).
	 */
	if (libuv_hex >= 0x012d00)
		return (struct uvs_lm_layout){ .known = true, .has_count = true, .count_off = 8,
					       .entry_off = UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME,
					       .idle_off = UVS_UV_LFIELDS_PROVIDER_IDLE_TIME,
					       .lock_off = UVS_UV_LFIELDS_METRICS_LOCK };
	if (libuv_hex >= 0x012c00)
		return (struct uvs_lm_layout){ .known = true, .entry_off = 8, .idle_off = 16,
					       .lock_off = 24 };
	return (struct uvs_lm_layout){ .known = false };
}

static uint64_t u64_at(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t u32_at(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int uvs_lm_validate_loop(const struct uvs_mem_reader *r, uint64_t addr, int epfd,
			 uint64_t *lfields)
{
	unsigned char b[LOOP_READ];
	uint64_t head = addr + UVS_UV_LOOP_HANDLE_QUEUE, next, prev, back;
	uint32_t flags;
	int err;

	if (addr & 7 || addr + LOOP_READ < addr)
		return -ENODATA;
	err = uvs_mem_read_exact(r, addr, b, sizeof(b));
	if (err)
		return err;
	if ((epfd >= 0 && u32_at(b + UVS_UV_LOOP_BACKEND_FD) != (uint32_t)epfd) ||
	    (int32_t)u32_at(b + UVS_UV_LOOP_BACKEND_FD) < 0)
		return -ENODATA;
	next = u64_at(b + UVS_UV_LOOP_HANDLE_QUEUE);
	prev = u64_at(b + UVS_UV_LOOP_HANDLE_QUEUE + 8);
	*lfields = u64_at(b + UVS_UV_LOOP_INTERNAL_FIELDS);
	if (!next || !prev || (next & 7) || (prev & 7) || !*lfields || (*lfields & 7))
		return -ENODATA;
	/* The queue is circular: its first node's prev and its last node's next are the head. */
	if (uvs_mem_read_u64(r, next + 8, &back) || back != head ||
	    uvs_mem_read_u64(r, prev, &back) || back != head)
		return -ENODATA;
	if (uvs_mem_read_u32(r, *lfields, &flags) || !(flags & LFIELDS_METRICS_IDLE_TIME))
		return -ENODATA;
	return 0;
}

int uvs_lm_find_on_stack(const struct uvs_mem_reader *r, uint64_t sp, uint32_t max_bytes, int epfd,
			 uint64_t *loop, uint64_t *lfields)
{
	/* Chunks overlap by a loop's header, so one that straddles two is seen whole in one. */
	const uint32_t step = UVS_MEM_READ_MAX - LOOP_READ;
	unsigned char buf[UVS_MEM_READ_MAX];
	uint64_t base = sp & ~7ULL, off;

	if (epfd < 0)
		return -ENOENT;
	for (off = 0; off < max_bytes; off += step) {
		ssize_t n = r->read(r->ctx, base + off, buf, sizeof(buf));
		size_t i;

		if (n < LOOP_READ)
			break; /* the top of the stack's mapping */
		for (i = 0; i + LOOP_READ <= (size_t)n && off + i < max_bytes; i += 8) {
			if (u32_at(buf + i + UVS_UV_LOOP_BACKEND_FD) != (uint32_t)epfd)
				continue;
			if (uvs_lm_validate_loop(r, base + off + i, epfd, lfields) == 0) {
				*loop = base + off + i;
				return 0;
			}
		}
		if ((size_t)n < sizeof(buf))
			break;
	}
	return -ENOENT;
}

bool uvs_lm_still_loop(const struct uvs_mem_reader *r, uint64_t addr, uint64_t lfields, int epfd)
{
	unsigned char b[LOOP_READ - UVS_UV_LOOP_INTERNAL_FIELDS];

	if (uvs_mem_read_exact(r, addr + UVS_UV_LOOP_INTERNAL_FIELDS, b, sizeof(b)))
		return false;
	return u64_at(b) == lfields &&
	       u32_at(b + (UVS_UV_LOOP_BACKEND_FD - UVS_UV_LOOP_INTERNAL_FIELDS)) == (uint32_t)epfd;
}

bool uvs_lm_plausible(const struct uvs_lm_reading *p, const struct uvs_lm_reading *r)
{
	uint64_t dt = r->now > p->now ? r->now - p->now : 0;
	/*
	 * A wait in progress at the last reading adds its whole length to the idle time when it
	 * ends, the part before that reading too (a loop idle since long before uvscope looked).
	 */
	uint64_t waited = p->entry_ns && p->now > p->entry_ns ? p->now - p->entry_ns : 0;

	/* The stamps are libuv's clock reads, ours a little later: a millisecond of slack. */
	if (r->idle_ns > p->idle_ns &&
	    r->idle_ns - p->idle_ns > dt + waited + CLOCK_SLACK_NS / 1000)
		return false;
	if (r->loop_count > p->loop_count && r->loop_count - p->loop_count > dt / 100 + 1000)
		return false;
	return true;
}

/*
 * One read from the first field to the last, so the values are as close as can be; -EAGAIN
 * while libuv holds the lock it clears the stamp and then grows the idle time under (a loop
 * thread stopped between the two shows a wait as busy time).
 */
static int read_once(const struct uvs_mem_reader *r, const struct uvs_lm_layout *l,
		     uint64_t lfields, struct uvs_lm_reading *out)
{
	uint32_t lo = l->has_count ? l->count_off : l->entry_off;
	uint32_t hi = (l->idle_off > l->entry_off ? l->idle_off : l->entry_off) + 8;
	unsigned char b[256];
	int32_t lock = 0;
	int err;

	if (l->lock_off && l->lock_off + 4 > hi)
		hi = l->lock_off + 4;
	if (hi <= lo || hi - lo > sizeof(b))
		return -EINVAL;
	err = uvs_mem_read_exact(r, lfields + lo, b, hi - lo);
	if (err)
		return err;
	out->entry_ns = u64_at(b + (l->entry_off - lo));
	out->idle_ns = u64_at(b + (l->idle_off - lo));
	out->loop_count = l->has_count ? u64_at(b + (l->count_off - lo)) : 0;
	if (l->lock_off)
		memcpy(&lock, b + (l->lock_off - lo), sizeof(lock));
	return lock ? -EAGAIN : 0;
}

/*
 * Whether two reads saw the same wait: libuv changes the stamp and the idle time together, under
 * the lock. The loop count is left out: libuv counts an iteration with no lock, and a loop that
 * spins through zero-timeout polls counts one every few microseconds, as often as a read of ours
 * takes, while its stamp and idle time stay as they are.
 */
static bool same_wait(const struct uvs_lm_reading *a, const struct uvs_lm_reading *b)
{
	return a->entry_ns == b->entry_ns && a->idle_ns == b->idle_ns;
}

int uvs_lm_read(const struct uvs_mem_reader *r, const struct uvs_lm_layout *layout,
		uint64_t lfields, uint64_t now, struct uvs_lm_reading *out)
{
	struct uvs_lm_reading a = { 0 }, b = { 0 };
	int tries, err;

	if (!layout->known)
		return -ENODATA;
	/*
	 * Two reads with the same wait, the lock free at both: libuv is not between two of its
	 * stores (a copy of the fields is not atomic: the lock can be free when its word is
	 * copied and the stamp cleared after it was). A lock held at every try is -EAGAIN: no
	 * reading this time (the callers read again at their next check; a holder that was
	 * preempted is not back within microseconds).
	 */
	err = read_once(r, layout, lfields, &a);
	for (tries = 0; (!err || err == -EAGAIN) && tries < 4; tries++) {
		int again = read_once(r, layout, lfields, &b);

		if (again && again != -EAGAIN) {
			err = again;
			break;
		}
		if (!err && !again && same_wait(&a, &b))
			break;
		a = b;
		err = again;
	}
	if (err)
		return err;
	if (tries == 4)
		return -EAGAIN;
	/* The later count: it only grows, and the wait read twice is as of both. */
	a.loop_count = b.loop_count;
	/* CLOCK_MONOTONIC stamps: neither the wait's start nor the idle total can be in the future. */
	if (a.entry_ns > now + CLOCK_SLACK_NS || a.idle_ns > now + CLOCK_SLACK_NS)
		return -ENODATA;
	a.now = now;
	*out = a;
	return 0;
}
