// SPDX-License-Identifier: MIT
#include <string.h>

#include "core/rules.h"

#define MS 1000000ULL
#define S 1000000000ULL

/* The bounds of each threshold: wide enough for any sane use, tight enough to catch a typo. */
static const struct uvs_rule_info infos[UVS_ALERT_KINDS] = {
	[UVS_ALERT_LOOP_BLOCKED] = { UVS_THRESHOLD_DURATION, 1 * MS, 3600 * S, false,
				     "a loop busy this long without returning to its poll" },
	[UVS_ALERT_LOOP_UTILIZATION] = { UVS_THRESHOLD_SHARE, 0, 1, true,
					 "the share of the window a loop is busy" },
	[UVS_ALERT_POOL_SATURATED] = { UVS_THRESHOLD_SHARE, 0, 1, true,
				       "the share of the window the pool has work queued" },
	[UVS_ALERT_POOL_QUEUE_WAIT] = { UVS_THRESHOLD_DURATION, 1000, 3600 * S, true,
					"the p99 queue wait of a kind of pool work" },
	[UVS_ALERT_SYNC_IO_ON_LOOP] = { UVS_THRESHOLD_COUNT, 1, 1e9, true,
					"sync fs calls on loop threads in one window" },
	[UVS_ALERT_FD_LIMIT] = { UVS_THRESHOLD_SHARE, 0, 1, true,
				 "open fds as a share of RLIMIT_NOFILE" },
	[UVS_ALERT_FD_GROWTH] = { UVS_THRESHOLD_COUNT, 1, 1e9, true,
				  "fds more than at the window before" },
	[UVS_ALERT_CLOSE_WAIT_GROWTH] = { UVS_THRESHOLD_COUNT, 1, 1e9, true,
					  "sockets in CLOSE_WAIT more than at the window before" },
	[UVS_ALERT_ACCEPT_QUEUE_FULL] = { UVS_THRESHOLD_COUNT, 1, 1e9, true,
					  "listeners whose accept queue is full" },
	[UVS_ALERT_RETRANSMIT_RATE] = { UVS_THRESHOLD_RATE, 0, 1e9, true,
					"TCP retransmits per second" },
	[UVS_ALERT_GC_SHARE] = { UVS_THRESHOLD_SHARE, 0, 1, true,
				 "the share of the window a loop spends in V8's collector" },
};

const struct uvs_rule_info *uvs_rule_info(enum uvs_alert_kind kind)
{
	if (kind < UVS_ALERT_LOOP_BLOCKED || kind > UVS_ALERT_KIND_LAST)
		return NULL;
	return &infos[kind];
}

/*
 * The defaults. A condition that is bad at once (a blocked loop, a full accept queue, sync I/O
 * on a loop) fires in the first window that shows it; one that is normal for a moment (a busy
 * loop, GC, a pool queue, fds growing) must last before it fires. Every rule resolves after 5 s
 * without its condition (a flapping condition stays one alert), and fires at most 10 times in
 * 10 minutes per process; loop_blocked, whose episodes the kernel delimits, 60 times a minute.
 */
void uvs_alert_config_default(struct uvs_alert_config *c)
{
	static const struct {
		enum uvs_alert_kind kind;
		enum uvs_severity severity;
		double threshold;
		uint64_t for_ns;
	} d[] = {
		{ UVS_ALERT_LOOP_BLOCKED, UVS_SEVERITY_CRITICAL, 100 * MS, 0 },
		{ UVS_ALERT_LOOP_UTILIZATION, UVS_SEVERITY_WARNING, 0.9, 30 * S },
		{ UVS_ALERT_POOL_SATURATED, UVS_SEVERITY_WARNING, 0.5, 0 },
		{ UVS_ALERT_POOL_QUEUE_WAIT, UVS_SEVERITY_WARNING, 100 * MS, 10 * S },
		{ UVS_ALERT_SYNC_IO_ON_LOOP, UVS_SEVERITY_WARNING, 1, 0 },
		{ UVS_ALERT_FD_LIMIT, UVS_SEVERITY_CRITICAL, 0.8, 0 },
		{ UVS_ALERT_FD_GROWTH, UVS_SEVERITY_WARNING, 1, 5 * S },
		{ UVS_ALERT_CLOSE_WAIT_GROWTH, UVS_SEVERITY_WARNING, 1, 3 * S },
		{ UVS_ALERT_ACCEPT_QUEUE_FULL, UVS_SEVERITY_CRITICAL, 1, 0 },
		{ UVS_ALERT_RETRANSMIT_RATE, UVS_SEVERITY_WARNING, 10, 0 },
		{ UVS_ALERT_GC_SHARE, UVS_SEVERITY_WARNING, 0.25, 30 * S },
	};

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		c->rule[d[i].kind] = (struct uvs_rule){
			.enabled = true,
			.severity = d[i].severity,
			.threshold = d[i].threshold,
			.for_ns = d[i].for_ns,
			.hold_ns = 5 * S,
			.rate_max = 10,
			.rate_per_ns = 600 * S,
		};
	c->rule[UVS_ALERT_LOOP_BLOCKED].hold_ns = 0;
	c->rule[UVS_ALERT_LOOP_BLOCKED].rate_max = 60;
	c->rule[UVS_ALERT_LOOP_BLOCKED].rate_per_ns = 60 * S;
}

enum uvs_alert_kind uvs_alert_kind_from_name(const char *name)
{
	int k;

	for (k = UVS_ALERT_LOOP_BLOCKED; k <= UVS_ALERT_KIND_LAST; k++)
		if (!strcmp(name, uvs_alert_kind_name((enum uvs_alert_kind)k)))
			return (enum uvs_alert_kind)k;
	return 0;
}
