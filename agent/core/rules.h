/* SPDX-License-Identifier: MIT */
/*
 * The alert rules' settings: one per kind of alert (enabled, severity, threshold, how long the
 * condition must hold before the alert fires, how long it must be gone before it resolves, and
 * a rate limit), their defaults, and what each threshold means. The rules file
 * (core/rules_file.h) and the command line change them; the engine (core/alerts.h) applies them.
 */
#ifndef UVSCOPE_RULES_H
#define UVSCOPE_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/snapshot.h"

/* What a rule's threshold is, which says how the rules file writes it. */
enum uvs_threshold_type {
	UVS_THRESHOLD_DURATION = 0, /* "100ms", "2s": kept in ns */
	UVS_THRESHOLD_SHARE,        /* "0.9" or "90%": a ratio above 0, at most 1 */
	UVS_THRESHOLD_COUNT,        /* a whole number, at least 1 */
	UVS_THRESHOLD_RATE,         /* a decimal number above 0, per second */
};

struct uvs_rule {
	bool enabled;
	enum uvs_severity severity;
	double threshold;       /* in the unit of the rule's threshold type (ns for durations) */
	uint64_t for_ns;        /* the condition holds this long before the alert fires */
	uint64_t hold_ns;       /* firing, the condition is gone this long before it resolves */
	uint32_t rate_max;      /* at most this many alerts fire per rate_per_ns (0: no limit) */
	uint64_t rate_per_ns;
};

/* What the engine applies: one rule per kind of alert (index 0 unused). */
struct uvs_alert_config {
	struct uvs_rule rule[UVS_ALERT_KINDS];
};

/* What a rule is, for the rules file and the documentation. */
struct uvs_rule_info {
	enum uvs_threshold_type type;
	double min, max;        /* the threshold's bounds, in its unit */
	bool has_for;           /* loop_blocked has none: its threshold is a duration already */
	const char *what;       /* a phrase for messages: "the share of the window a loop is busy" */
};

const struct uvs_rule_info *uvs_rule_info(enum uvs_alert_kind kind);

/* Every rule with its default settings. */
void uvs_alert_config_default(struct uvs_alert_config *c);

/* The kind whose rule is named `name` ("loop_blocked", ...), or 0. */
enum uvs_alert_kind uvs_alert_kind_from_name(const char *name);

/* loop_blocked's threshold: what the collector calls blocked. */
static inline uint64_t uvs_alert_config_block_ns(const struct uvs_alert_config *c)
{
	return (uint64_t)c->rule[UVS_ALERT_LOOP_BLOCKED].threshold;
}

#endif
