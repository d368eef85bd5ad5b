// SPDX-License-Identifier: MIT
#include <string.h>

#include "collect/pool_window.h"
#include "util/text.h"
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

/* The entry of name in table (n of them, UVS_DNS_MAX_NAMES at most), made if new; NULL: full. */
static struct uvs_dns_seen *entry_in(struct uvs_dns_seen *table, size_t *n, const char *name)
{
	uint64_t hash = fnv1a(name, UVS_DNS_NAME_LEN);
	size_t i;

	for (i = 0; i < *n; i++)
		if (table[i].hash == hash && memcmp(table[i].name, name, UVS_DNS_NAME_LEN) == 0)
			return &table[i];
	if (*n == UVS_DNS_MAX_NAMES)
		return NULL;
	table[*n].hash = hash;
	memcpy(table[*n].name, name, UVS_DNS_NAME_LEN);
	table[*n].count = 0;
	return &table[(*n)++];
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

/* The name as shown: its key's bytes, "…" at the end where they filled the key, sanitized. */
static void shown_name(const char raw[UVS_DNS_NAME_LEN], char shown[UVS_DNS_NAME_LEN])
{
	size_t len = strnlen(raw, UVS_DNS_NAME_LEN - 1);

	memset(shown, 0, UVS_DNS_NAME_LEN);
	memcpy(shown, raw, len);
	if (len == UVS_DNS_NAME_LEN - 1)
		shown[uvs_utf8_end_cut(shown, len, len)] = '\0';
	uvs_sanitize(shown, UVS_DNS_NAME_LEN);
}

void uvs_pool_dns_name(struct uvs_pool_history *h, const char raw[UVS_DNS_NAME_LEN],
		       uint64_t count, bool cumulative)
{
	char key[UVS_DNS_NAME_LEN], shown[UVS_DNS_NAME_LEN];
	struct uvs_dns_seen *e;
	uint64_t added = count;

	/* The map's keys are NUL-padded; a key of another shape is compared as one. */
	memset(key, 0, sizeof(key));
	memcpy(key, raw, strnlen(raw, UVS_DNS_NAME_LEN - 1));
	if (!cumulative) {
		e = entry_in(h->seen, &h->nseen, key);
		if (!e)
			return;
		added = count > e->count ? count - e->count : 0;
		e->count = count;
	}
	if (!added)
		return;
	shown_name(key, shown);
	e = entry_in(h->staged, &h->nstaged, shown);
	if (e)
		e->count += added;
}

void uvs_pool_dns_names_done(struct uvs_pool_history *h, struct uvs_pool_snapshot *out)
{
	size_t i;

	for (i = 0; i < h->nstaged; i++)
		top_insert(out, h->staged[i].name, h->staged[i].count);
	h->nstaged = 0;
}
