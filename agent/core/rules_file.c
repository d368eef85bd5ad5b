// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "core/rules_file.h"
#include "util/text.h"
#include "util/duration.h"

#define DAY_NS (86400ULL * 1000000000ULL)

/* Keys a section gave, so one given twice is an error and [defaults] fills only the rest. */
enum {
	KEY_ENABLED = 1 << 0,
	KEY_SEVERITY = 1 << 1,
	KEY_THRESHOLD = 1 << 2,
	KEY_FOR = 1 << 3,
	KEY_HOLD = 1 << 4,
	KEY_RATE = 1 << 5,
};

struct parse {
	const char *name;          /* the file, for messages */
	const char *p, *end;       /* what is left to read */
	int line;                  /* the line inih is on */
	bool failed;
	int failed_line;
	char *why;
	size_t cap;
	struct uvs_alert_config c; /* the result, applied only when all is well */
	unsigned int given[UVS_ALERT_KINDS]; /* keys per rule section; [defaults] at 0 */
	struct uvs_rule defaults;
};

static int fail(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (ps->failed)
		return 0;
	ps->failed = true;
	ps->failed_line = ps->line;
	len = (size_t)snprintf(ps->why, ps->cap, "%s:%d: ", ps->name, ps->line);
	if (len < ps->cap) {
		va_start(ap, fmt);
		vsnprintf(ps->why + len, ps->cap - len, fmt, ap);
		va_end(ap);
	}
	/* It quotes the file, which may hold anything: never a raw control byte on a terminal. */
	uvs_sanitize(ps->why, ps->cap);
	return 0;
}

/*
 * inih's reader: one line at a time, counted, so the handler knows where it is. A line that is
 * too long or holds a NUL byte ends the parse with an error (inih would cut or end it silently).
 */
#define NO_SUCH_RULE "[%s]: no such rule (rules: loop_blocked, loop_utilization, " \
	"threadpool_saturated, pool_queue_wait, sync_io_on_loop, fd_limit, fd_growth, " \
	"close_wait_growth, accept_queue_full, retransmit_rate, gc_share; or [defaults])"

static bool known_section(const char *name)
{
	return !strcmp(name, "defaults") || uvs_alert_kind_from_name(name);
}

/*
 * A section is checked as its line is read: inih says nothing of a section without keys, and a
 * misspelt one must not pass for an empty one.
 */
static void check_section(struct parse *ps, const char *line)
{
	const char *p = line + strspn(line, " \t"), *end;
	char name[UVS_RULES_MAX_LINE];

	if (*p != '[' || !(end = strchr(p, ']')))
		return;
	p++;
	snprintf(name, sizeof(name), "%.*s", (int)(end - p), p);
	if (!known_section(name))
		fail(ps, NO_SUCH_RULE, name);
}

static char *read_line(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	const char *nl;
	size_t n;

	if (ps->failed || ps->p >= ps->end)
		return NULL;
	nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
	n = nl ? (size_t)(nl - ps->p) + 1 : (size_t)(ps->end - ps->p);
	ps->line++;
	if (memchr(ps->p, '\0', n)) {
		fail(ps, "a NUL byte: this is not a text file");
		return NULL;
	}
	if (n > UVS_RULES_MAX_LINE || num < 0 || n + 1 > (size_t)num) {
		fail(ps, "line longer than %d bytes", UVS_RULES_MAX_LINE);
		return NULL;
	}
	memcpy(str, ps->p, n);
	str[n] = '\0';
	ps->p += n;
	check_section(ps, str);
	return ps->failed ? NULL : str;
}

/*
 * A duration with its unit ("100ms", "30s"), or 0. uvs_parse_duration takes a bare number as
 * seconds, which in a file of thresholds in ms is a trap: "threshold = 100" is refused.
 */
static bool parse_file_duration(const char *s, uint64_t *ns)
{
	if (strcmp(s, "0") && s[strspn(s, "0123456789.")] == '\0')
		return false;
	return !uvs_parse_duration(s, ns);
}

/* "12", "0.25": digits, and a fraction after a dot; no sign, exponent, space or "inf". */
static bool parse_decimal(const char *s, double *out)
{
	double v = 0, scale = 1;
	const char *p = s;
	bool digits = false;

	for (; *p >= '0' && *p <= '9' && p - s < 15; p++, digits = true)
		v = v * 10 + (*p - '0');
	if (*p == '.') {
		const char *f = ++p;

		for (; *p >= '0' && *p <= '9' && p - f < 9; p++)
			v += (*p - '0') * (scale /= 10);
		if (p == f)
			return false;
	}
	if (!digits || *p)
		return false;
	*out = v;
	return true;
}

static bool parse_share(const char *s, double *out)
{
	size_t len = strlen(s);
	char buf[32];

	if (len && s[len - 1] == '%' && len < sizeof(buf)) {
		memcpy(buf, s, len - 1);
		buf[len - 1] = '\0';
		if (!parse_decimal(buf, out))
			return false;
		*out /= 100;
		return true;
	}
	return parse_decimal(s, out);
}

static int set_threshold(struct parse *ps, const char *section, enum uvs_alert_kind k,
			 const char *v)
{
	const struct uvs_rule_info *info = uvs_rule_info(k);
	uint64_t n;
	double d = 0;
	bool ok = false;

	switch (info->type) {
	case UVS_THRESHOLD_DURATION:
		ok = parse_file_duration(v, &n) && n >= info->min && n <= info->max;
		d = (double)n;
		if (!ok)
			return fail(ps, "[%s] threshold: '%s' is not a duration from %s to %s "
				    "with its unit (such as 100ms or 2s): %s", section, v,
				    info->min >= 1e6 ? "1ms" : "1us", "1h", info->what);
		break;
	case UVS_THRESHOLD_SHARE:
		ok = parse_share(v, &d) && d > 0 && d <= 1;
		if (!ok)
			return fail(ps, "[%s] threshold: '%s' is not a share above 0 and at most 1 "
				    "(such as 0.9 or 90%%): %s", section, v, info->what);
		break;
	case UVS_THRESHOLD_COUNT:
		ok = !uvs_parse_uint(v, (uint64_t)info->min, (uint64_t)info->max, &n);
		d = (double)n;
		if (!ok)
			return fail(ps, "[%s] threshold: '%s' is not a whole number from 1 to "
				    "1000000000: %s", section, v, info->what);
		break;
	case UVS_THRESHOLD_RATE:
		ok = parse_decimal(v, &d) && d > info->min && d <= info->max;
		if (!ok)
			return fail(ps, "[%s] threshold: '%s' is not a number above 0 (such as 10 "
				    "or 2.5): %s", section, v, info->what);
		break;
	}
	ps->c.rule[k].threshold = d;
	return 1;
}

/* "10/1h": at most 10 alerts an hour; "none": no limit. */
static int parse_rate(struct parse *ps, const char *section, const char *v, struct uvs_rule *r)
{
	const char *slash = strchr(v, '/');
	char count[16];
	uint64_t n, per;

	if (!strcmp(v, "none")) {
		r->rate_max = 0;
		r->rate_per_ns = 0;
		return 1;
	}
	if (!slash || (size_t)(slash - v) >= sizeof(count))
		goto bad;
	memcpy(count, v, (size_t)(slash - v));
	count[slash - v] = '\0';
	if (uvs_parse_uint(count, 1, 1000000, &n) || !parse_file_duration(slash + 1, &per) ||
	    per < 1000000ULL || per > DAY_NS)
		goto bad;
	r->rate_max = (uint32_t)n;
	r->rate_per_ns = per;
	return 1;
bad:
	return fail(ps, "[%s] rate_limit: '%s' is not COUNT/DURATION (such as 10/1h: at most 10 "
		    "alerts an hour; COUNT 1 to 1000000, DURATION 1ms to 24h) or none", section, v);
}

static int parse_span(struct parse *ps, const char *section, const char *key, const char *v,
		      uint64_t *out)
{
	if (!parse_file_duration(v, out) || *out > DAY_NS)
		return fail(ps, "[%s] %s: '%s' is not a duration from 0 to 24h with its unit (such "
			    "as 30s or 500ms)", section, key, v);
	return 1;
}

static int rule_key(struct parse *ps, const char *section, enum uvs_alert_kind k,
		    const char *key, const char *v)
{
	struct uvs_rule *r = &ps->c.rule[k];

	if (!strcmp(key, "enabled")) {
		if (strcmp(v, "true") && strcmp(v, "false"))
			return fail(ps, "[%s] enabled: '%s' is not true or false", section, v);
		r->enabled = !strcmp(v, "true");
		return 1;
	}
	if (!strcmp(key, "severity")) {
		if (!strcmp(v, "info"))
			r->severity = UVS_SEVERITY_INFO;
		else if (!strcmp(v, "warning"))
			r->severity = UVS_SEVERITY_WARNING;
		else if (!strcmp(v, "critical"))
			r->severity = UVS_SEVERITY_CRITICAL;
		else
			return fail(ps, "[%s] severity: '%s' is not info, warning or critical",
				    section, v);
		return 1;
	}
	if (!strcmp(key, "threshold"))
		return set_threshold(ps, section, k, v);
	if ((!strcmp(key, "for") || !strcmp(key, "hold")) && !uvs_rule_info(k)->has_for)
		return fail(ps, "[%s] %s: loop_blocked has no %s: its threshold is how long a "
			    "loop must be busy, and each episode ends when the loop comes back",
			    section, key, key);
	if (!strcmp(key, "for"))
		return parse_span(ps, section, key, v, &r->for_ns);
	if (!strcmp(key, "hold"))
		return parse_span(ps, section, key, v, &r->hold_ns);
	return parse_rate(ps, section, v, r);
}

static unsigned int key_bit(const char *key)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} keys[] = {
		{ "enabled", KEY_ENABLED }, { "severity", KEY_SEVERITY },
		{ "threshold", KEY_THRESHOLD }, { "for", KEY_FOR }, { "hold", KEY_HOLD },
		{ "rate_limit", KEY_RATE },
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i].name))
			return keys[i].bit;
	return 0;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse *ps = user;
	enum uvs_alert_kind k;
	bool defaults = !strcmp(section, "defaults");
	unsigned int bit = key_bit(key), *given;

	if (ps->failed)
		return 0;
	if (!*section)
		return fail(ps, "%s: a key before any [section] (sections: [defaults] and one per "
			    "rule, such as [loop_blocked])", key);
	k = uvs_alert_kind_from_name(section);
	if (!k && !defaults)
		return fail(ps, NO_SUCH_RULE, section);
	if (!bit || (defaults && bit != KEY_HOLD && bit != KEY_RATE))
		return fail(ps, "[%s] %s: no such key (%s)", section, key, defaults ?
			    "[defaults] takes hold and rate_limit" :
			    "keys: enabled, severity, threshold, for, hold, rate_limit");
	given = &ps->given[defaults ? 0 : k];
	if (*given & bit)
		return fail(ps, "[%s] %s: given twice (an indented line continues the key above)",
			    section, key);
	*given |= bit;
	if (!defaults)
		return rule_key(ps, section, k, key, value);
	if (bit == KEY_HOLD)
		return parse_span(ps, section, key, value, &ps->defaults.hold_ns);
	return parse_rate(ps, section, value, &ps->defaults);
}

/* [defaults] fills hold and rate_limit wherever a rule's section did not set them. */
static void apply_defaults(struct parse *ps)
{
	int k;

	for (k = UVS_ALERT_LOOP_BLOCKED; k <= UVS_ALERT_KIND_LAST; k++) {
		struct uvs_rule *r = &ps->c.rule[k];

		if ((ps->given[0] & KEY_HOLD) && !(ps->given[k] & KEY_HOLD) &&
		    uvs_rule_info((enum uvs_alert_kind)k)->has_for)
			r->hold_ns = ps->defaults.hold_ns;
		if ((ps->given[0] & KEY_RATE) && !(ps->given[k] & KEY_RATE)) {
			r->rate_max = ps->defaults.rate_max;
			r->rate_per_ns = ps->defaults.rate_per_ns;
		}
	}
}

int uvs_rules_parse(const char *name, const char *text, size_t len, struct uvs_alert_config *c,
		    char *why, size_t cap)
{
	struct parse *ps = calloc(1, sizeof(*ps));
	int line, err = 0;

	if (!ps) {
		snprintf(why, cap, "%s: out of memory", name);
		return -ENOMEM;
	}
	*ps = (struct parse){ .name = name, .p = text, .end = text + len, .why = why, .cap = cap,
			      .c = *c };
	line = ini_parse_stream(read_line, ps, on_key, ps);
	/* inih goes on after a line it cannot read: the first error is the earlier one. */
	if (line > 0 && (!ps->failed || line < ps->failed_line)) {
		ps->failed = false;
		ps->line = line;
		fail(ps, "not a [section] or a key = value line");
	} else if (!ps->failed && line < 0) {
		fail(ps, "out of memory");
	}
	if (ps->failed) {
		err = -EINVAL;
	} else {
		apply_defaults(ps);
		*c = ps->c;
	}
	free(ps);
	return err;
}

int uvs_rules_load(const char *path, struct uvs_alert_config *c, char *why, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), err;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		err = -errno;
		snprintf(why, cap, "%s: %s", path, strerror(-err));
		return err;
	}
	buf = malloc(UVS_RULES_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		snprintf(why, cap, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* One byte more than allowed, to tell a file at the limit from one past it. */
	while (len <= UVS_RULES_MAX_BYTES &&
	       (n = read(fd, buf + len, UVS_RULES_MAX_BYTES + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			snprintf(why, cap, "%s: %s", path, strerror(-err));
			goto out;
		}
		len += (size_t)n;
	}
	if (len > UVS_RULES_MAX_BYTES) {
		err = -EINVAL;
		snprintf(why, cap, "%s: larger than %d bytes: not a rules file", path,
			 UVS_RULES_MAX_BYTES);
		goto out;
	}
	err = uvs_rules_parse(path, buf, len, c, why, cap);
out:
	free(buf);
	close(fd);
	if (err)
		uvs_sanitize(why, cap); /* the path too is shown as given */
	return err;
}
