// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "collect/loop_memory.h"

static double ratio(uint64_t busy, uint64_t idle)
{
	return busy + idle ? (double)busy / (double)(busy + idle) : 0;
}

int uvs_loop_mem_begin(struct uvs_loop_mem *m, const struct uvs_mem_reader *r,
		       const struct uvs_lm_layout *layout, uint64_t lfields, uint64_t busy_since,
		       uint64_t now)
{
	struct uvs_lm_reading rd;
	struct uvs_lm_span unused;
	int err;

	m->on = false;
	memset(&m->track, 0, sizeof(m->track));
	err = uvs_lm_read(r, layout, lfields, now, &rd);
	if (err)
		return err;
	m->lfields = lfields;
	uvs_lm_step(&m->track, &rd, UINT64_MAX, &unused);
	/* A span BPF saw begin keeps its start: a block in progress is not cut at the step. */
	if (m->track.busy && busy_since && busy_since <= rd.now) {
		m->track.busy_since = busy_since;
		m->track.since_exact = true;
	}
	m->on = true;
	return 0;
}

int uvs_loop_mem_check(struct uvs_loop_mem *m, const struct uvs_mem_reader *r,
		       const struct uvs_lm_layout *layout, uint64_t block_ns, uint64_t now,
		       struct uvs_lm_span *ended)
{
	struct uvs_lm_reading rd;
	int err;

	if (!m->on)
		return -ENOENT;
	err = uvs_lm_read(r, layout, m->lfields, now, &rd);
	if (err)
		return err;
	if (!uvs_lm_plausible(&m->track.last, &rd))
		return -EAGAIN;
	return uvs_lm_step(&m->track, &rd, block_ns, ended) ? 1 : 0;
}

bool uvs_loop_mem_busy(const struct uvs_loop_mem *m, uint64_t *since)
{
	return m->on && uvs_lm_busy(&m->track, since);
}

void uvs_loop_mem_add_part(struct uvs_loop_snapshot *into, const struct uvs_loop_snapshot *part)
{
	into->busy_ns += part->busy_ns;
	into->idle_ns += part->idle_ns;
	into->utilization = ratio(into->busy_ns, into->idle_ns);
	into->iterations += part->iterations;
	into->blocks += part->blocks;
	into->blocked_ns += part->blocked_ns;
	into->no_busy_dist = true;
	into->busy_p50_ns = into->busy_p99_ns = into->busy_max_ns = 0;
	memset(&into->busy_hist, 0, sizeof(into->busy_hist));
}

/* The metrics' figures since the last window, counted in the loop's since-attach figures. */
static void take(struct uvs_loop_mem *m, uint64_t block_ns, struct uvs_loop_snapshot *out)
{
	uvs_lm_window(&m->track, true, block_ns, out);
	m->busy_ns += out->busy_ns;
	m->idle_ns += out->idle_ns;
	m->iterations += out->iterations;
	m->blocks += out->blocks;
	m->blocked_ns += out->blocked_ns;
}

void uvs_loop_mem_window(struct uvs_loop_mem *m, uint64_t block_ns, struct uvs_loop_snapshot *out)
{
	take(m, block_ns, out);
	if (m->has_part) {
		uvs_loop_mem_add_part(out, &m->part);
		m->has_part = false;
	}
}

void uvs_loop_mem_end(struct uvs_loop_mem *m, uint64_t block_ns)
{
	struct uvs_loop_snapshot now;

	memset(&now, 0, sizeof(now));
	uvs_loop_mem_window(m, block_ns, &now);
	/* Not blocked "now" in the next window on this account: BPF says so from here. */
	now.blocked_now = false;
	now.blocked_for_ns = 0;
	m->part = now;
	m->has_part = true;
	m->on = false;
	m->count_pending = true;
	m->count_at_end = m->track.last.loop_count;
}

void uvs_loop_mem_recount(struct uvs_loop_mem *m, const struct uvs_mem_reader *r,
			  const struct uvs_lm_layout *layout, uint64_t now,
			  struct uvs_loop_snapshot *out)
{
	struct uvs_lm_reading rd;
	uint64_t counted;

	if (!m->count_pending)
		return;
	m->count_pending = false;
	if (uvs_lm_read(r, layout, m->lfields, now, &rd) || rd.loop_count < m->count_at_end)
		return;
	counted = rd.loop_count - m->count_at_end;
	/* A loop count that ran far ahead of its time is not one (plausibility as for a read). */
	if (counted <= out->iterations || counted > (out->busy_ns + out->idle_ns) / 100 + 1)
		return;
	m->iterations += counted - out->iterations;
	out->iterations = counted;
}

void uvs_loop_mem_totals(const struct uvs_loop_mem *m, struct uvs_loop_snapshot *out)
{
	uint64_t busy = out->busy_ns + m->busy_ns + m->carried_busy_ns;
	uint64_t idle = out->idle_ns + m->idle_ns + m->carried_idle_ns;

	out->busy_ns = busy > m->overlap_busy_ns ? busy - m->overlap_busy_ns : 0;
	out->idle_ns = idle > m->overlap_idle_ns ? idle - m->overlap_idle_ns : 0;
	out->utilization = ratio(out->busy_ns, out->idle_ns);
	out->iterations += m->iterations;
	out->blocks += m->blocks;
	out->blocked_ns += m->blocked_ns;
}
