/* SPDX-License-Identifier: MIT */
/*
 * Window math of the thread pool: from the cumulative statistics read now and those of the last
 * window, the window's jobs per kind with their percentiles, saturation, sync fs calls by where
 * they ran, and the most looked-up host names. Pure: no maps, no clock, no /proc.
 */
#ifndef UVSCOPE_POOL_WINDOW_H
#define UVSCOPE_POOL_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "uvscope/pool.h"

/*
 * A host name's lookup count: at the last window, by the name's bytes as the BPF map keeps them
 * (seen); or this reading's, by the name as it is shown (staged: sanitized, several keys may
 * show as one).
 */
struct uvs_dns_seen {
	uint64_t hash;
	uint64_t count;
	char name[UVS_DNS_NAME_LEN];
};

/* What the pool's window math remembers between windows. */
struct uvs_pool_history {
	struct uvs_pool_stats prev;  /* cumulative statistics at the last window */
	uint64_t prev_queued_time;   /* queued time (incl. a running span) at the last window */
	uint64_t start_mono;
	uint64_t last_window_mono;
	size_t nseen;
	struct uvs_dns_seen seen[UVS_DNS_MAX_NAMES];
	size_t nstaged;
	struct uvs_dns_seen staged[UVS_DNS_MAX_NAMES];
};

/* One reading of the pool. */
struct uvs_pool_reading {
	const struct uvs_pool_stats *now;
	uint64_t queued_max;   /* the most jobs queued at once since the last reset */
	uint32_t size;         /* pool threads */
	bool fs_io_uring;
	uint64_t now_mono;
};

void uvs_pool_history_init(struct uvs_pool_history *h, uint64_t now_mono);

/*
 * The 2-probe plan's running and queued now are its jobs in flight split by the pool's size,
 * which takes the first `size` for served. libuv runs dns (slow I/O) on at most half its
 * threads, and the rest of those jobs wait while threads idle. `busy`, libuv's own count of
 * threads not waiting for work (nthreads - idle_threads, its statics), bounds the jobs served:
 * the ones beyond it are moved to queued (and the window's most queued is at least that).
 * Never the other way: a thread busy with a job the probes did not see (submitted before
 * attach) adds nothing.
 */
void uvs_pool_running_at_most(struct uvs_pool_snapshot *out, uint32_t busy);

/*
 * The probes' saturation (time with more jobs in flight than threads: every thread busy) plus
 * the share of `checks` block checks that found dns waiting at libuv's cap while a thread idled
 * (`waits`): the two never hold at once, since the cap's wait needs an idle thread. At most 1.
 */
double uvs_pool_saturation_with_cap(double saturation, uint64_t waits, uint64_t checks);

/* Fills out with the window since the last call and moves the history on. */
void uvs_pool_window_math(struct uvs_pool_history *h, const struct uvs_pool_reading *r,
		     struct uvs_pool_snapshot *out);

/* Fills out with the session since attach, as of the last window (r->now: that reading). */
void uvs_pool_totals_math(const struct uvs_pool_history *h, const struct uvs_pool_reading *r,
		     struct uvs_pool_snapshot *out);

/*
 * One host name's cumulative count read now, its key's bytes as the BPF map holds them (raw:
 * from the target, NUL-padded): stages the window's lookups (or, with cumulative, the
 * session's) under the name as shown, sanitized, and ending in "…" where it filled the key (the
 * BPF side keeps UVS_DNS_NAME_LEN - 1 bytes of it), and remembers the count by the raw key.
 * Names that differ only in what sanitizing replaced are one name, their counts added.
 */
void uvs_pool_dns_name(struct uvs_pool_history *h, const char raw[UVS_DNS_NAME_LEN],
		       uint64_t count, bool cumulative);

/* After every name of a reading: out's top list, most looked up first, from what was staged. */
void uvs_pool_dns_names_done(struct uvs_pool_history *h, struct uvs_pool_snapshot *out);

#endif
