// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collect/syscall_window.h"
#include "util/hist_math.h"

_Static_assert((UVS_SYS_SLOTS & (UVS_SYS_SLOTS - 1)) == 0, "slot count is a power of two");

int uvs_sys_window_init(struct uvs_sys_window *w)
{
	memset(w, 0, sizeof(*w));
	w->slots = calloc(UVS_SYS_SLOTS, sizeof(*w->slots));
	w->window.rows = calloc(UVS_SYS_MAX_ROWS, sizeof(*w->window.rows));
	w->session.rows = calloc(UVS_SYS_MAX_ROWS, sizeof(*w->session.rows));
	if (!w->slots || !w->window.rows || !w->session.rows) {
		uvs_sys_window_free(w);
		return -ENOMEM;
	}
	return 0;
}

void uvs_sys_window_free(struct uvs_sys_window *w)
{
	size_t i;

	if (w->slots)
		for (i = 0; i < UVS_SYS_SLOTS; i++)
			free(w->slots[i].prev);
	free(w->slots);
	free(w->window.rows);
	free(w->session.rows);
	memset(w, 0, sizeof(*w));
}

void uvs_sys_window_begin(struct uvs_sys_window *w)
{
	w->window.n = 0;
	w->window.dropped = 0;
	w->unfit_window = 0;
}

static size_t home(const struct uvs_sys_key *k)
{
	return ((size_t)k->tid * 2654435761u ^ (size_t)k->nr * 40503u) & (UVS_SYS_SLOTS - 1);
}

/* The pair's slot, or a free one claimed for it; NULL when the table is full. */
static struct uvs_sys_slot *slot_of(struct uvs_sys_window *w, const struct uvs_sys_key *k)
{
	size_t i, h = home(k);

	for (i = 0; i < UVS_SYS_SLOTS; i++) {
		struct uvs_sys_slot *sl = &w->slots[(h + i) & (UVS_SYS_SLOTS - 1)];

		if (sl->used && sl->key.tid == k->tid && sl->key.nr == k->nr)
			return sl;
		if (sl->used)
			continue;
		if (w->nused == UVS_SYS_SLOTS - 1)
			return NULL; /* keep one slot free: it ends every probe */
		if (!sl->prev && !(sl->prev = calloc(1, sizeof(*sl->prev))))
			return NULL;
		memset(sl->prev, 0, sizeof(*sl->prev));
		sl->used = true;
		sl->key = *k;
		w->nused++;
		return sl;
	}
	return NULL;
}

/*
 * Frees a slot of the linear-probing table and moves back the entries after it that would no
 * longer be found (backward-shift deletion: no tombstones, so lookups stay short for ever).
 */
static void slot_free(struct uvs_sys_window *w, struct uvs_sys_slot *sl)
{
	size_t hole = (size_t)(sl - w->slots), i = hole;

	for (;;) {
		struct uvs_sys_slot tmp;
		size_t h;

		i = (i + 1) & (UVS_SYS_SLOTS - 1);
		if (!w->slots[i].used)
			break;
		h = home(&w->slots[i].key);
		/* Entry i stays if its home lies cyclically in (hole, i]. */
		if (hole <= i ? (h > hole && h <= i) : (h > hole || h <= i))
			continue;
		tmp = w->slots[hole];
		w->slots[hole] = w->slots[i];
		w->slots[i] = tmp;
		hole = i;
	}
	w->slots[hole].used = false;
	w->nused--;
}

static struct uvs_sys_acc *acc_of(struct uvs_sys_rows *r, uint32_t nr, enum uvs_sys_role role)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->rows[i].nr == nr && r->rows[i].role == role)
			return &r->rows[i];
	if (r->n == UVS_SYS_MAX_ROWS) {
		r->dropped++;
		return NULL;
	}
	memset(&r->rows[r->n], 0, sizeof(r->rows[r->n]));
	r->rows[r->n].nr = nr;
	r->rows[r->n].role = role;
	return &r->rows[r->n++];
}

/* Adds the change of one pair since the last window to a row. */
static void acc_add(struct uvs_sys_acc *a, const struct uvs_sys_stats *now,
		    const struct uvs_sys_stats *prev, const struct uvs_hist *delta)
{
	/* A pair's entry recreated since (its thread's id reused): all of it is new. */
	bool fresh = now->count < prev->count;
	uint64_t count = fresh ? now->count : now->count - prev->count;
	uint64_t max;

	if (!a || !count)
		return;
	a->count += count;
	a->errors += fresh ? now->errors : now->errors >= prev->errors ? now->errors - prev->errors : 0;
	a->total_ns += fresh ? now->total_ns :
			       now->total_ns >= prev->total_ns ? now->total_ns - prev->total_ns : 0;
	/* The window's largest value: exact when it set a new record, else its bucket's top. */
	max = fresh || now->max_ns > prev->max_ns ? now->max_ns :
						     uvs_hist_percentile_max(delta, 1.0, now->max_ns);
	if (max > a->max_ns)
		a->max_ns = max;
	uvs_hist_add(&a->latency, delta);
}

void uvs_sys_window_add(struct uvs_sys_window *w, const struct uvs_sys_key *k,
			const struct uvs_sys_stats *now, enum uvs_sys_role role, bool alive)
{
	static const struct uvs_sys_stats zero;
	struct uvs_sys_slot *sl = slot_of(w, k);
	const struct uvs_sys_stats *prev;
	struct uvs_hist d;

	if (!sl) {
		w->unfit_window++;
		w->unfit_session++;
		return;
	}
	prev = now->count < sl->prev->count ? &zero : sl->prev;
	uvs_hist_sub(&d, &now->latency, &prev->latency);
	acc_add(acc_of(&w->window, k->nr, role), now, prev, &d);
	acc_add(acc_of(&w->session, k->nr, role), now, prev, &d);
	if (alive)
		*sl->prev = *now;
	else
		slot_free(w, sl); /* its last figures are taken */
}

static int by_time_desc(const void *a, const void *b)
{
	const struct uvs_syscall_row *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	return x->nr < y->nr ? -1 : x->nr > y->nr;
}

void uvs_sys_window_fill(const struct uvs_sys_window *w, bool session,
			 struct uvs_syscalls_snapshot *out)
{
	const struct uvs_sys_rows *rows = session ? &w->session : &w->window;
	size_t i;

	for (i = 0; i < rows->n; i++) {
		const struct uvs_sys_acc *a = &rows->rows[i];
		struct uvs_syscall_row *r;

		if (!a->count)
			continue;
		out->count += a->count;
		out->errors += a->errors;
		out->role_count[a->role] += a->count;
		out->role_ns[a->role] += a->total_ns;
		if (out->nrows == UVS_MAX_SYSCALL_ROWS) {
			out->rows_dropped++;
			continue;
		}
		r = &out->rows[out->nrows++];
		r->nr = a->nr;
		r->role = a->role;
		r->count = a->count;
		r->errors = a->errors;
		r->total_ns = a->total_ns;
		r->p50_ns = uvs_hist_percentile_max(&a->latency, 0.50, a->max_ns);
		r->p99_ns = uvs_hist_percentile_max(&a->latency, 0.99, a->max_ns);
		r->max_ns = a->max_ns;
	}
	out->rows_dropped += rows->dropped;
	qsort(out->rows, out->nrows, sizeof(out->rows[0]), by_time_desc);
}
