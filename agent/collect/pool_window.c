// SPDX-License-Identifier: MIT
#include <string.h>

#include "collect/pool_window.h"
#include "util/hist_math.h"

void uvs_pool_history_init(struct uvs_pool_history *h, uint64_t now_mono)
{
	memset(h, 0, sizeof(*h));
	h->start_mono = h->last_window_mono = now_mono;
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

static void fill_kind(struct uvs_pool_kind_snapshot *k, const struct uvs_pool_kind_stats *now,
		      const struct uvs_pool_kind_stats *before)
{
	struct uvs_hist d;

	k->submitted = delta(now->submitted, before->submitted);
	k->completed = delta(now->completed, before->completed);
	uvs_hist_sub(&d, &now->wait, &before->wait);
	k->wait_p50_ns = uvs_hist_percentile(&d, 0.50);
	k->wait_p99_ns = uvs_hist_percentile(&d, 0.99);
	uvs_hist_to_pow2(&d, delta(now->wait_total_ns, before->wait_total_ns), &k->wait_hist);
	uvs_hist_sub(&d, &now->service, &before->service);
	k->service_p50_ns = uvs_hist_percentile(&d, 0.50);
	k->service_p99_ns = uvs_hist_percentile(&d, 0.99);
	uvs_hist_to_pow2(&d, delta(now->service_total_ns, before->service_total_ns),
			 &k->service_hist);
	uvs_hist_sub(&d, &now->delay, &before->delay);
	k->completion_p50_ns = uvs_hist_percentile(&d, 0.50);
	k->completion_p99_ns = uvs_hist_percentile(&d, 0.99);
}

/* Total time with work queued, counting a span still open now. */
static uint64_t queued_time(const struct uvs_pool_stats *s, uint64_t now_mono)
{
	uint64_t t = s->queued_ns;

	if (s->queued > 0 && s->queued_since && now_mono > s->queued_since)
		t += now_mono - s->queued_since;
	return t;
}

static double ratio(uint64_t part, uint64_t whole)
{
	double r = whole ? (double)part / (double)whole : 0;

	return r > 1 ? 1 : r;
}

/* The figures a window and the session share, against `before`. */
static void fill(const struct uvs_pool_reading *r, const struct uvs_pool_stats *before,
		 struct uvs_pool_snapshot *out)
{
	const struct uvs_pool_stats *now = r->now;
	uint64_t queued = now->queued > 0 ? (uint64_t)now->queued : 0;
	int i;

	memset(out, 0, sizeof(*out));
	out->available = true;
	out->fs_io_uring = r->fs_io_uring;
	out->size = r->size;
	out->queued = now->queued;
	out->running = now->running;
	out->queued_max = r->queued_max > queued ? r->queued_max : queued;
	for (i = 0; i < UVS_POOL_KINDS; i++) {
		fill_kind(&out->kinds[i], &now->kind[i], &before->kind[i]);
		out->submitted += out->kinds[i].submitted;
		out->completed += out->kinds[i].completed;
	}
	for (i = 0; i < UVS_FS_OPS; i++)
		out->fs_ops[i] = delta(now->fs_ops[i], before->fs_ops[i]);
	/*
	 * Where a sync call ran was decided when it ran (BPF), and both counters only grow: the
	 * window's share on loops can never exceed its total, whatever threads came and went.
	 */
	out->sync_fs_on_loop = delta(now->sync_fs_loop, before->sync_fs_loop);
	out->sync_fs_on_loop_ns = delta(now->sync_fs_loop_ns, before->sync_fs_loop_ns);
	out->sync_fs_other = delta(now->sync_fs, before->sync_fs);
	out->sync_fs_other = out->sync_fs_other > out->sync_fs_on_loop ?
				     out->sync_fs_other - out->sync_fs_on_loop : 0;
}

void uvs_pool_running_at_most(struct uvs_pool_snapshot *out, uint32_t busy)
{
	if (out->running <= (int64_t)busy)
		return;
	out->queued += out->running - (int64_t)busy;
	out->running = busy;
	if (out->queued > 0 && (uint64_t)out->queued > out->queued_max)
		out->queued_max = (uint64_t)out->queued;
}

double uvs_pool_saturation_with_cap(double saturation, uint64_t waits, uint64_t checks)
{
	double s = saturation;

	if (checks && waits <= checks)
		s += (double)waits / (double)checks;
	return s > 1.0 ? 1.0 : s;
}

void uvs_pool_window_math(struct uvs_pool_history *h, const struct uvs_pool_reading *r,
		     struct uvs_pool_snapshot *out)
{
	uint64_t qt = queued_time(r->now, r->now_mono);

	fill(r, &h->prev, out);
	out->saturation = ratio(delta(qt, h->prev_queued_time),
				r->now_mono > h->last_window_mono ? r->now_mono - h->last_window_mono :
								    0);
	h->prev_queued_time = qt;
	h->last_window_mono = r->now_mono;
	memcpy(&h->prev, r->now, sizeof(h->prev));
}

void uvs_pool_totals_math(const struct uvs_pool_history *h, const struct uvs_pool_reading *r,
		     struct uvs_pool_snapshot *out)
{
	static const struct uvs_pool_stats none;

	fill(r, &none, out);
	out->saturation = ratio(h->prev_queued_time, h->last_window_mono - h->start_mono);
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static struct uvs_dns_seen *seen_entry(struct uvs_pool_history *h, const char *name)
{
	uint64_t hash = fnv1a(name, UVS_DNS_NAME_LEN);
	size_t i;

	for (i = 0; i < h->nseen; i++)
		if (h->seen[i].hash == hash && memcmp(h->seen[i].name, name, UVS_DNS_NAME_LEN) == 0)
			return &h->seen[i];
	if (h->nseen == UVS_DNS_MAX_NAMES)
		return NULL;
	h->seen[h->nseen].hash = hash;
	memcpy(h->seen[h->nseen].name, name, UVS_DNS_NAME_LEN);
	h->seen[h->nseen].count = 0;
	return &h->seen[h->nseen++];
}

/* Keeps the UVS_DNS_TOP largest counts, most first. */
static void top_insert(struct uvs_pool_snapshot *out, const char *name, uint64_t count)
{
	size_t i;

	if (out->ndns == UVS_DNS_TOP && out->dns[UVS_DNS_TOP - 1].count >= count)
		return;
	i = out->ndns < UVS_DNS_TOP ? out->ndns++ : UVS_DNS_TOP - 1;
	for (; i > 0 && out->dns[i - 1].count < count; i--)
		out->dns[i] = out->dns[i - 1];
	memcpy(out->dns[i].name, name, UVS_DNS_NAME_LEN);
	out->dns[i].name[UVS_DNS_NAME_LEN - 1] = '\0';
	out->dns[i].count = count;
}

void uvs_pool_dns_name(struct uvs_pool_history *h, const char name[UVS_DNS_NAME_LEN],
		       uint64_t count, bool cumulative, struct uvs_pool_snapshot *out)
{
	struct uvs_dns_seen *e;

	if (cumulative) {
		top_insert(out, name, count);
		return;
	}
	e = seen_entry(h, name);
	if (e && count > e->count)
		top_insert(out, name, count - e->count);
	if (e)
		e->count = count;
}
