// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collect/pool_statics.h"

/*
 * threadpool.c's statics are file-local, so another object file may have a static of the same
 * name (`wq`, `mutex`): each must lie within this distance of `nthreads`, in the same .bss
 * block (5 of Node 20's are within 0x80 of it).
 */
#define STATICS_SPAN 0x1000

int uvs_pool_queue_count(const struct uvs_mem_reader *r, uint64_t head, uint64_t skip1,
			 uint64_t skip2, size_t max, uint64_t *count, bool *capped)
{
	uint64_t node, prev = head, links[2];
	size_t walked = 0;
	int err;

	*count = 0;
	*capped = false;
	err = uvs_mem_read_exact(r, head, links, sizeof(links));
	if (err)
		return err;
	node = links[0];
	while (node != head) {
		if (walked == max) {
			*capped = true;
			return 0;
		}
		if (!node || (node & 7))
			return -EAGAIN;
		err = uvs_mem_read_exact(r, node, links, sizeof(links));
		if (err)
			return err == -EFAULT ? -EAGAIN : err;
		/* A node whose prev is not the one we came from: the queue moved under us. */
		if (links[1] != prev)
			return -EAGAIN;
		if (node != skip1 && node != skip2)
			(*count)++;
		walked++;
		prev = node;
		node = links[0];
	}
	return 0;
}

static int find(const struct uvs_target *t, const char *name, uint64_t near, uint64_t *out)
{
	struct uvs_elf_symbol sym;
	uint64_t addr;

	if (uvs_elf_find_object(t->uv.elf, name, &sym))
		return -ENOENT;
	addr = sym.addr + t->uv.bias;
	if (near && (addr > near + STATICS_SPAN || addr + STATICS_SPAN < near))
		return -ENOENT;
	*out = addr;
	return 0;
}

/* The most bytes read at once for the four counters read_counts reads. */
#define SPAN_MAX 256

void uvs_pool_statics_set_span(struct uvs_pool_statics *p)
{
	const struct uvs_pool_addrs *a = &p->at;
	const uint64_t fields[][2] = { { a->nthreads, 4 }, { a->idle_threads, 4 },
				       { a->slow_io_work_running, 4 },
				       { a->slow_io_pending_wq, 8 } };
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t i;

	p->span_at = 0;
	p->span_len = 0;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		/*
		 * The addresses come from the target's ELF: one that ends past 2^64 would put its
		 * field before the span's start. No span: read one by one, which fails there.
		 */
		if (fields[i][0] > UINT64_MAX - fields[i][1])
			return;
		if (fields[i][0] < lo)
			lo = fields[i][0];
		if (fields[i][0] + fields[i][1] > hi)
			hi = fields[i][0] + fields[i][1];
	}
	if (hi - lo <= SPAN_MAX) {
		p->span_at = lo;
		p->span_len = (size_t)(hi - lo);
	}
}

void uvs_pool_statics_attach(struct uvs_pool_statics *p, const struct uvs_target *t)
{
	static const char *const names[] = { "idle_threads", "slow_io_work_running", "wq",
					     "slow_io_pending_wq", "run_slow_work_message",
					     "exit_message" };
	struct uvs_pool_addrs *a = &p->at;
	uint64_t *slots[] = { &a->idle_threads, &a->slow_io_work_running, &a->wq,
			      &a->slow_io_pending_wq, &a->run_slow_work_message, &a->exit_message };
	size_t i;

	memset(p, 0, sizeof(*p));
	p->mem = uvs_mem_reader_pid(t->pid);
	if (!t->uv.elf || find(t, "nthreads", 0, &a->nthreads)) {
		snprintf(p->why, sizeof(p->why), "%s has no symbol nthreads (stripped): the pool's "
			 "statics cannot be found", t->uv.path);
		return;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (find(t, names[i], a->nthreads, slots[i])) {
			snprintf(p->why, sizeof(p->why), "libuv's pool static %s is not in %s next "
				 "to nthreads", names[i], t->uv.path);
			return;
		}
	}
	uvs_pool_statics_set_span(p);
	p->available = true;
}

/* libuv's pool holds at most 1024 threads (MAX_THREADPOOL_SIZE). */
#define POOL_THREADS_MAX 1024

/* libuv's counters of its pool, and the first link of its queue of held-back slow work. */
struct pool_counts {
	uint32_t nthreads, idle, slow_running;
	uint64_t slow_next;
};

/*
 * Reads the counters: in one read of the statics' span where they lie close
 * (uvs_pool_statics_set_span), else one by one. -ENODATA for figures that cannot be libuv's.
 */
static int read_counts(const struct uvs_pool_statics *p, struct pool_counts *c)
{
	const struct uvs_pool_addrs *a = &p->at;
	int err;

	if (!p->available)
		return -ENODATA;
	memset(c, 0, sizeof(*c));
	if (p->span_len) {
		unsigned char buf[SPAN_MAX];

		err = uvs_mem_read_exact(&p->mem, p->span_at, buf, p->span_len);
		if (err)
			return err;
		memcpy(&c->nthreads, buf + (a->nthreads - p->span_at), sizeof(c->nthreads));
		memcpy(&c->idle, buf + (a->idle_threads - p->span_at), sizeof(c->idle));
		memcpy(&c->slow_running, buf + (a->slow_io_work_running - p->span_at),
		       sizeof(c->slow_running));
		memcpy(&c->slow_next, buf + (a->slow_io_pending_wq - p->span_at),
		       sizeof(c->slow_next));
	} else {
		err = uvs_mem_read_u32(&p->mem, a->nthreads, &c->nthreads);
		if (!err)
			err = uvs_mem_read_u32(&p->mem, a->idle_threads, &c->idle);
		if (!err)
			err = uvs_mem_read_u32(&p->mem, a->slow_io_work_running, &c->slow_running);
		if (!err)
			err = uvs_mem_read_u64(&p->mem, a->slow_io_pending_wq, &c->slow_next);
		if (err)
			return err;
	}
	return c->nthreads > POOL_THREADS_MAX || c->idle > c->nthreads ? -ENODATA : 0;
}

int uvs_pool_statics_threads(const struct uvs_pool_statics *p, uint32_t *nthreads,
			     uint32_t *idle)
{
	struct pool_counts c;
	int err = read_counts(p, &c);

	if (err)
		return err;
	*nthreads = c.nthreads;
	*idle = c.idle;
	return 0;
}

int uvs_pool_statics_capped(const struct uvs_pool_statics *p)
{
	struct pool_counts c;
	int err = read_counts(p, &c);

	if (err)
		return err;
	/* Not started, or every thread busy: waiting there is no cap's doing. */
	if (!c.nthreads || !c.idle || c.slow_running < (c.nthreads + 1) / 2)
		return 0;
	/* struct uv__queue { next, prev }: an empty queue's next is its own head. */
	return c.slow_next && c.slow_next != p->at.slow_io_pending_wq;
}

int uvs_pool_statics_read(struct uvs_pool_statics *p, struct uvs_pool_reading_now *out)
{
	const struct uvs_pool_addrs *a = &p->at;
	uint64_t q1 = 0, q2 = 0;
	bool c1 = false, c2 = false;
	int err, tries;

	struct pool_counts c;

	memset(out, 0, sizeof(*out));
	err = read_counts(p, &c);
	if (err)
		return err;
	out->nthreads = c.nthreads;
	out->idle_threads = c.idle;
	out->slow_running = c.slow_running;
	/* Before the pool's first job libuv has not even linked its queues: nothing is queued. */
	if (!out->nthreads)
		return 0;
	/* The pool's threads move the queue under its mutex, which we cannot take: walk again. */
	for (tries = 0; tries < 4; tries++) {
		err = uvs_pool_queue_count(&p->mem, a->wq, a->run_slow_work_message, a->exit_message,
					   UVS_POOL_QUEUE_WALK_MAX, &q1, &c1);
		if (!err)
			err = uvs_pool_queue_count(&p->mem, a->slow_io_pending_wq, 0, 0,
						   UVS_POOL_QUEUE_WALK_MAX, &q2, &c2);
		if (err != -EAGAIN)
			break;
	}
	if (err)
		return err;
	out->queued = q1 + q2;
	out->queue_capped = c1 || c2;
	return 0;
}

int uvs_pool_statics_idle(const struct uvs_pool_statics *p)
{
	const struct uvs_pool_addrs *a = &p->at;
	uint32_t nthreads = 0, idle = 0;
	uint64_t q1 = 0, q2 = 0;
	bool c1 = false, c2 = false;
	int err;

	if (!p->available)
		return -ENODATA;
	/* libuv sets nthreads before its first job is queued: none was submitted before this. */
	err = uvs_mem_read_u32(&p->mem, a->nthreads, &nthreads);
	if (err)
		return err;
	if (!nthreads)
		return 1;
	if (nthreads > POOL_THREADS_MAX)
		return -ENODATA;
	err = uvs_pool_queue_count(&p->mem, a->wq, a->run_slow_work_message, a->exit_message,
				   UVS_POOL_QUEUE_WALK_MAX, &q1, &c1);
	if (!err)
		err = uvs_pool_queue_count(&p->mem, a->slow_io_pending_wq, 0, 0,
					   UVS_POOL_QUEUE_WALK_MAX, &q2, &c2);
	/* Moving under the walk: jobs are being queued or taken, so not idle. */
	if (err == -EAGAIN)
		return 0;
	if (!err)
		err = uvs_mem_read_u32(&p->mem, a->idle_threads, &idle);
	if (err)
		return err;
	return q1 == 0 && q2 == 0 && !c1 && !c2 && idle == nthreads;
}

void uvs_pool_statics_sample(struct uvs_pool_statics *p)
{
	struct uvs_pool_reading_now r;

	if (uvs_pool_statics_read(p, &r))
		return;
	p->last = r;
	p->have_last = true;
	p->samples++;
	p->all_samples++;
	/*
	 * Saturated as the probes count it: more jobs in flight than threads, i.e. more queued
	 * than threads waiting. A job queued while a thread still waits is one about to be taken
	 * (libuv signals a waiting thread at each submit; it counts as idle until it runs), and
	 * with a flood of tiny jobs most readings catch one: counting those read 96-100% where the
	 * probes saw 6%.
	 */
	if (r.queued > r.idle_threads) {
		p->samples_queued++;
		p->all_samples_queued++;
	}
	if (r.queued > p->queued_max)
		p->queued_max = r.queued;
	if (r.queued > p->all_queued_max)
		p->all_queued_max = r.queued;
}

static void fill_now(const struct uvs_pool_statics *p, struct uvs_pool_snapshot *out)
{
	const struct uvs_pool_reading_now *r = &p->last;

	memset(out, 0, sizeof(*out));
	out->statics_only = true;
	out->available = p->available && p->have_last;
	if (!out->available)
		return;
	out->size = r->nthreads;
	out->queued = (int64_t)r->queued;
	out->running = (int64_t)(r->nthreads - r->idle_threads);
}

void uvs_pool_statics_window(struct uvs_pool_statics *p, struct uvs_pool_snapshot *out)
{
	uvs_pool_statics_sample(p);
	fill_now(p, out);
	out->queued_max = p->queued_max;
	out->saturation = p->samples ? (double)p->samples_queued / (double)p->samples : 0;
	p->samples = p->samples_queued = p->queued_max = 0;
}

void uvs_pool_statics_totals(const struct uvs_pool_statics *p, struct uvs_pool_snapshot *out)
{
	fill_now(p, out);
	out->queued_max = p->all_queued_max;
	out->saturation = p->all_samples ? (double)p->all_samples_queued / (double)p->all_samples : 0;
}
