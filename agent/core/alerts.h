/* SPDX-License-Identifier: MIT */
/*
 * The alert engine: every alert rule, each a function of the snapshots, its thresholds (struct
 * uvs_alert_config) and its own state (struct uvs_alert_state: growth streaks, an episode in
 * progress, the block already alerted). Nothing here reads a map or the clock, so every rule is
 * unit-tested without root.
 */
#ifndef UVSCOPE_ALERTS_H
#define UVSCOPE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"

struct uvs_alert_config {
	uint64_t block_ns;             /* loop_blocked: a busy span this long */
	double pool_saturation;        /* threadpool_saturated: share of a window with work queued */
	int fd_growth_windows;         /* fd_growth: windows in a row in which the count grew */
	unsigned int fd_limit_percent; /* fd_limit: open fds at this share of RLIMIT_NOFILE ... */
	unsigned int fd_rearm_percent; /* ... and again only after falling below this share */
	int close_wait_windows;        /* close_wait_growth: windows in a row of growth */
	uint64_t retransmits_per_s;    /* retransmit_rate: over a window */
};

/* The defaults, with the loop_blocked threshold the user chose. */
void uvs_alert_config_default(struct uvs_alert_config *c, uint64_t block_ns);

/* A loop thread as the collector sees it right now, for blocks still in progress. */
struct uvs_loop_busy {
	int tid;
	enum uvs_role role;
	bool busy;              /* outside its loop's poll wait */
	uint64_t busy_since_ns; /* CLOCK_MONOTONIC: when it left the wait (0: unknown) */
};

/* A busy span that reached the threshold and just ended (reported by the collector). */
struct uvs_block_end {
	int tid;
	enum uvs_role role;
	uint64_t duration_ns;
	uint64_t end_ns;        /* CLOCK_MONOTONIC: when the loop came back (0: unknown) */
};

struct uvs_alert_state {
	/* loop_blocked: per loop thread, the busy span already alerted as ongoing */
	size_t nalerted;
	struct {
		int tid;
		uint64_t busy_since_ns;
	} alerted[UVS_MAX_LOOPS];
	/* fd_growth */
	bool fds_seen;
	uint64_t fds_prev_open;
	int fds_streak;
	/* fd_limit: an episode is standing until the count falls below the rearm share */
	bool fds_near_limit;
	/* close_wait_growth */
	bool cw_seen;
	uint64_t cw_prev;
	int cw_streak;
	/* accept_queue_full: an episode is standing until every accept queue has room */
	bool queue_full;
};

/*
 * The alerts one window raises (pool, sync I/O, fds, sockets), given the state earlier windows
 * left; updates the state. Writes at most cap alerts stamped with the snapshot's pid and time;
 * returns how many.
 */
size_t uvs_alerts_window(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			 const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap);

/*
 * Blocks in progress: one ongoing loop_blocked alert per busy span at or past the threshold,
 * once per span. now_mono is when `loops` was read, now_real the wall clock for the stamp.
 */
size_t uvs_alerts_blocks(const struct uvs_alert_config *c, struct uvs_alert_state *st, int pid,
			 const struct uvs_loop_busy *loops, size_t n, uint64_t now_mono,
			 uint64_t now_real, struct uvs_alert *out, size_t cap);

/* A block that ended: the final loop_blocked alert with its whole length. */
void uvs_alerts_block_ended(const struct uvs_alert_config *c, int pid, const struct uvs_block_end *b,
			    uint64_t now_real, struct uvs_alert *out);

#endif
