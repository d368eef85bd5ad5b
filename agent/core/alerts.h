/* SPDX-License-Identifier: MIT */
/*
 * The alert engine: every alert rule, each a function of the snapshots, its settings (struct
 * uvs_alert_config, core/rules.h) and its own state (struct uvs_alert_state). Each alert fires
 * once its condition has held for the rule's `for` and resolves once the condition has been gone
 * for its `hold` (so a flapping condition is one alert, not many); a rate limit per rule caps
 * how many fire. Nothing here reads a map or the clock: time is the snapshots' (window lengths,
 * timestamps) and the caller's, so every rule is unit-tested without root, and any command
 * (watch, top, serve) runs the same engine on its snapshots.
 */
#ifndef UVSCOPE_ALERTS_H
#define UVSCOPE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rules.h"
#include "core/snapshot.h"

/* A loop thread as the collector sees it right now, for blocks still in progress. */
struct uvs_loop_busy {
	int tid;
	enum uvs_role role;
	bool busy;              /* outside its loop's poll wait */
	uint64_t busy_since_ns; /* CLOCK_MONOTONIC: when it left the wait (0: unknown) */
	bool since_attach;      /* busy_since_ns is when uvscope came: it was busy before */
	enum uvs_loop_stop stopped; /* not running now (read for loops over the threshold) */
};

/* A busy span that reached the threshold and just ended (reported by the collector). */
struct uvs_block_end {
	int tid;
	enum uvs_role role;
	uint64_t duration_ns;
	uint64_t end_ns;        /* CLOCK_MONOTONIC: when the loop came back (0: unknown) */
	bool since_attach;      /* counted from uvscope's attach: it began before */
};

/* One rule's condition for one subject (the process, or one loop thread). */
struct uvs_alert_track {
	int key;                /* the loop's tid for per-loop rules, else 0 */
	enum uvs_role role;
	bool used;
	bool seen;              /* judged in the current window */
	bool firing;
	bool muted;             /* the rate limit held this firing back, and so its resolution */
	uint32_t windows;       /* windows in a row the condition held */
	uint64_t true_ns;       /* ... and their length */
	uint64_t false_ns;      /* firing: how long the condition has been gone */
	uint64_t fired_ts;      /* ts_ns of the firing */
};

/* A rule's state in one process, and its counts since the start (for /metrics). */
struct uvs_alert_rule_state {
	struct uvs_alert_track track[UVS_MAX_LOOPS]; /* process-wide rules use track[0] */
	uint64_t period_start;  /* the rate limit's current period (ts_ns) */
	uint32_t in_period;     /* alerts fired in it */
	uint64_t held_back;     /* suppressed since the last alert that went out */
	uint64_t fired, resolved, suppressed; /* totals */
};

struct uvs_alert_state {
	struct uvs_alert_rule_state rule[UVS_ALERT_KINDS];
	/* loop_blocked: per loop thread, the busy span already alerted as ongoing */
	size_t nalerted;
	struct {
		int tid;
		uint64_t busy_since_ns;
		bool open;          /* its ended alert is still to come */
		bool muted;         /* the rate limit held the episode back */
		uint64_t seen_ns;   /* the longest it was seen blocked while ongoing */
		bool over_seen;     /* a check saw its span over, and no end has come since */
		/*
		 * Where the last span whose end was told ended (CLOCK_MONOTONIC, 0: none): a
		 * reading of a span that began before it is that span seen late, not a new one.
		 */
		uint64_t told_end_ns;
		bool since_attach;  /* its span was busy already at attach */
		enum uvs_loop_stop stopped; /* the first stop a check saw in its span */
	} alerted[UVS_MAX_LOOPS];
	/* the growth rules compare with the window before */
	bool fds_seen;
	uint64_t fds_prev_open;
	bool cw_seen;
	uint64_t cw_prev;
};

/*
 * The alerts one window raises or resolves (every rule but loop_blocked), given the state
 * earlier windows left; updates the state. Writes at most cap alerts stamped with the
 * snapshot's pid and time (an alert past cap is lost, its state kept); returns how many.
 */
size_t uvs_alerts_window(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			 const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap);

/*
 * The process is gone (exited, or detached): every alert of it still firing resolves, with the
 * figures of s, its last window (every rule but loop_blocked, whose episodes end with their
 * blocks). Writes at most cap alerts; returns how many.
 */
size_t uvs_alerts_gone(const struct uvs_alert_config *c, struct uvs_alert_state *st,
		       const struct uvs_snapshot *s, struct uvs_alert *out, size_t cap);

/*
 * Blocks in progress: one firing loop_blocked alert ("ongoing") per busy span at or past the
 * threshold, once per span. now_mono is when `loops` was read, now_real the wall clock for the
 * stamp and the rate limit. A span alerted as ongoing whose end never comes from the collector
 * (it measured the span under the threshold) is resolved here, at the second check that finds
 * the loop out of it, with the length seen while it lasted: never left firing.
 */
size_t uvs_alerts_blocks(const struct uvs_alert_config *c, struct uvs_alert_state *st, int pid,
			 const struct uvs_loop_busy *loops, size_t n, uint64_t now_mono,
			 uint64_t now_real, struct uvs_alert *out, size_t cap);

/*
 * A block that ended: the resolved loop_blocked alert with its whole length, in *out. Returns 1,
 * or 0 when nothing goes out (the rule is off, or the rate limit held the episode back).
 */
size_t uvs_alerts_block_ended(const struct uvs_alert_config *c, struct uvs_alert_state *st,
			      int pid, const struct uvs_block_end *b, uint64_t now_real,
			      struct uvs_alert *out);

#endif
