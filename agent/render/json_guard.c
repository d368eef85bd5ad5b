// SPDX-License-Identifier: MIT
/*
 * The overhead guard in JSON lines (docs/json.md): its state in each interval and the summary,
 * and a "type":"guard" line each time it steps.
 */
#include <errno.h>
#include <inttypes.h>

#include "render/json.h"

/* "exact" while exact phases are in, "off" while the guard has them out, null if not asked. */
static const char *phases_state(bool asked, bool off)
{
	if (!asked)
		return "null";
	return off ? "\"off\"" : "\"exact\"";
}

/*
 * Where the pool's figures come from: "probes" while its per-job probes are in, "statics"
 * while the guard has them out (size and queue only), null if the guard cannot step them.
 */
static const char *pool_state(bool asked, bool off)
{
	if (!asked)
		return "null";
	return off ? "\"statics\"" : "\"probes\"";
}

static void rate_or_null(FILE *out, const char *name, uint32_t hz)
{
	if (hz)
		fprintf(out, ",\"%s\":%u", name, hz);
	else
		fprintf(out, ",\"%s\":null", name);
}

void uvs_json_guard_object(FILE *out, const struct uvs_guard_snapshot *g, bool summary)
{
	if (!g->enabled) {
		fputs("null", out);
		return;
	}
	fprintf(out, "{\"budget\":%" PRIu64 ",\"rate\":%" PRIu64 ",\"level\":%d,\"phases\":%s",
		g->budget, g->rate, g->level, phases_state(g->phases_asked, g->phases_off));
	rate_or_null(out, "sample_hz", g->sample_hz);
	rate_or_null(out, "blocked_hz", g->blocked_hz);
	fprintf(out, ",\"pool\":%s", pool_state(g->pool_asked, g->pool_off));
	fprintf(out, ",\"loop_hooks\":%s", g->loop_hooks_off ? "\"off\"" : "\"on\"");
	if (summary)
		fprintf(out, ",\"steps_down\":%" PRIu64 ",\"steps_up\":%" PRIu64
			",\"phases_off_ns\":%" PRIu64 ",\"sampling_low_ns\":%" PRIu64
			",\"pool_off_ns\":%" PRIu64 ",\"loop_hooks_off_ns\":%" PRIu64, g->steps_down,
			g->steps_up, g->phases_off_ns, g->sampling_low_ns, g->pool_off_ns,
			g->loop_hooks_off_ns);
	fputc('}', out);
}

static const char *action_name(enum uvs_guard_record_action a)
{
	switch (a) {
	case UVS_GUARD_RECORD_DOWN:
		return "down";
	case UVS_GUARD_RECORD_UP:
		return "up";
	case UVS_GUARD_RECORD_EXHAUSTED:
		return "exhausted";
	case UVS_GUARD_RECORD_FAILED:
		return "failed";
	}
	return "unknown";
}

int uvs_json_guard_record(FILE *out, int pid, const struct uvs_guard_record *r)
{
	fprintf(out, "{\"type\":\"guard\",\"schema\":%d,\"pid\":%d,\"ts_ns\":%" PRIu64
		",\"action\":\"%s\",\"step\":", UVS_SCHEMA_VERSION, pid, r->ts_ns,
		action_name(r->action));
	uvs_json_string(out, r->step);
	fprintf(out, ",\"level\":%d,\"rate\":%" PRIu64 ",\"predicted\":", r->level, r->rate);
	if (r->action == UVS_GUARD_RECORD_UP)
		fprintf(out, "%" PRIu64, r->predicted);
	else
		fputs("null", out);
	fprintf(out, ",\"budget\":%" PRIu64 ",\"windows\":%u,\"phases\":%s", r->budget, r->windows,
		phases_state(r->phases_asked, r->phases_off));
	rate_or_null(out, "sample_hz", r->sample_hz);
	rate_or_null(out, "blocked_hz", r->blocked_hz);
	fprintf(out, ",\"pool\":%s", pool_state(r->pool_asked, r->pool_off));
	fprintf(out, ",\"loop_hooks\":%s", r->loop_hooks_off ? "\"off\"" : "\"on\"");
	fprintf(out, ",\"rate_by_source\":{\"loop\":%" PRIu64 ",\"pool\":%" PRIu64 ",\"gc\":%" PRIu64
		",\"samples\":%" PRIu64 "}", r->rate_loop, r->rate_pool, r->rate_gc, r->rate_samples);
	fputs(",\"error\":", out);
	uvs_json_string(out, r->action == UVS_GUARD_RECORD_FAILED ? r->error : NULL);
	fputs("}\n", out);
	return ferror(out) ? -EIO : 0;
}
