// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "render/prom_writer.h"
#include "util/text.h"

void uvs_prom_begin(struct uvs_prom_writer *w, FILE *out, enum uvs_prom_format format)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->format = format;
}

/* Escapes a label value whose bytes are already valid UTF-8 without control characters. */
static size_t escape_value(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s; s++) {
		const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		size_t len = rep ? 2 : 1;

		if (n + len >= cap)
			break;
		memcpy(out + n, rep ? rep : s, len);
		n += len;
	}
	out[n] = '\0';
	return n;
}

int uvs_prom_base_label(struct uvs_prom_writer *w, const char *name, const char *value,
			size_t max_len)
{
	char raw[256], esc[2 * sizeof(raw)];
	size_t used = strlen(w->base), n;

	if (max_len >= sizeof(raw))
		max_len = sizeof(raw) - 1;
	n = strnlen(value ? value : "", max_len);
	memcpy(raw, value ? value : "", n);
	raw[n] = '\0';
	/* A cut in the middle of a UTF-8 sequence, or a byte the target set, must not reach
	 * a scraper as invalid UTF-8 or as a line break. */
	uvs_sanitize(raw, sizeof(raw));
	escape_value(raw, esc, sizeof(esc));
	n = (size_t)snprintf(w->base + used, sizeof(w->base) - used, "%s%s=\"%s\"",
			     used ? "," : "", name, esc);
	if (used + n >= sizeof(w->base)) {
		w->base[used] = '\0';
		return -ENOSPC;
	}
	return 0;
}

void uvs_prom_family(struct uvs_prom_writer *w, const struct uvs_prom_family *f)
{
	if (w->on_family)
		w->on_family(w, f);
	w->family = f;
	w->family_started = false;
}

/* HELP text: backslash and newline escaped in both formats, `"` in OpenMetrics too. */
static void write_help(struct uvs_prom_writer *w, const char *help)
{
	for (; *help; help++) {
		if (*help == '\\')
			fputs("\\\\", w->out);
		else if (*help == '\n')
			fputs("\\n", w->out);
		else if (*help == '"' && w->format == UVS_PROM_OPENMETRICS)
			fputs("\\\"", w->out);
		else
			fputc(*help, w->out);
	}
}

static void start_family(struct uvs_prom_writer *w)
{
	static const char *const types[] = { [UVS_PROM_COUNTER] = "counter",
					     [UVS_PROM_GAUGE] = "gauge",
					     [UVS_PROM_HISTOGRAM] = "histogram",
					     [UVS_PROM_INFO] = "info" };
	const struct uvs_prom_family *f = w->family;
	bool text = w->format == UVS_PROM_TEXT;
	/* The text format names a family by its sample; OpenMetrics without the suffix. */
	const char *suffix = !text ? "" : f->type == UVS_PROM_COUNTER ? "_total" :
					 f->type == UVS_PROM_INFO ? "_info" : "";
	/* The text format has no info type: a gauge of value 1 is what Prometheus makes of it. */
	const char *type = text && f->type == UVS_PROM_INFO ? "gauge" : types[f->type];

	if (w->family_started)
		return;
	w->family_started = true;
	if (w->headless)
		return;
	fprintf(w->out, "# HELP %s%s ", f->name, suffix);
	write_help(w, f->help);
	fprintf(w->out, "\n# TYPE %s%s %s\n", f->name, suffix, type);
}

void uvs_prom_family_header(struct uvs_prom_writer *w)
{
	start_family(w);
}

/* `name<suffix>{base,labels} ` : everything of a sample line but its value. */
static void sample_head(struct uvs_prom_writer *w, const char *suffix, const char *labels,
			const char *le)
{
	bool more = false;

	start_family(w);
	fprintf(w->out, "%s%s{", w->family->name, suffix);
	if (w->base[0]) {
		fputs(w->base, w->out);
		more = true;
	}
	if (labels && *labels) {
		fprintf(w->out, "%s%s", more ? "," : "", labels);
		more = true;
	}
	if (le)
		fprintf(w->out, "%sle=\"%s\"", more ? "," : "", le);
	fputs("} ", w->out);
}

static const char *value_suffix(const struct uvs_prom_writer *w)
{
	return w->family->type == UVS_PROM_COUNTER ? "_total" :
	       w->family->type == UVS_PROM_INFO ? "_info" : "";
}

void uvs_prom_u64(struct uvs_prom_writer *w, const char *labels, uint64_t v)
{
	sample_head(w, value_suffix(w), labels, NULL);
	fprintf(w->out, "%" PRIu64 "\n", v);
}

void uvs_prom_double(struct uvs_prom_writer *w, const char *labels, double v)
{
	sample_head(w, value_suffix(w), labels, NULL);
	if (isnan(v))
		fputs("NaN\n", w->out);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf\n" : "-Inf\n", w->out);
	else
		fprintf(w->out, "%.9g\n", v);
}

void uvs_prom_format_seconds(uint64_t ns, char *buf, size_t cap)
{
	uint64_t frac = ns % UINT64_C(1000000000);
	size_t n;

	if (!frac) {
		snprintf(buf, cap, "%" PRIu64, ns / UINT64_C(1000000000));
		return;
	}
	n = (size_t)snprintf(buf, cap, "%" PRIu64 ".%09" PRIu64, ns / UINT64_C(1000000000), frac);
	if (n >= cap)
		n = cap - 1;
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
}

void uvs_prom_seconds(struct uvs_prom_writer *w, const char *labels, uint64_t ns)
{
	char s[32];

	uvs_prom_format_seconds(ns, s, sizeof(s));
	sample_head(w, value_suffix(w), labels, NULL);
	fprintf(w->out, "%s\n", s);
}

void uvs_prom_histogram(struct uvs_prom_writer *w, const char *labels,
			const struct uvs_hist_pow2 *h)
{
	char le[32], sum[32];
	unsigned int i;

	for (i = 0; i < UVS_POW2_BOUNDS; i++) {
		uvs_prom_format_seconds(uvs_pow2_bound_ns(i), le, sizeof(le));
		sample_head(w, "_bucket", labels, le);
		fprintf(w->out, "%" PRIu64 "\n", h->below[i]);
	}
	sample_head(w, "_bucket", labels, "+Inf");
	fprintf(w->out, "%" PRIu64 "\n", h->count);
	uvs_prom_format_seconds(h->sum_ns, sum, sizeof(sum));
	sample_head(w, "_sum", labels, NULL);
	fprintf(w->out, "%s\n", sum);
	sample_head(w, "_count", labels, NULL);
	fprintf(w->out, "%" PRIu64 "\n", h->count);
}

int uvs_prom_end(struct uvs_prom_writer *w)
{
	if (w->format == UVS_PROM_OPENMETRICS)
		fputs("# EOF\n", w->out);
	return ferror(w->out) ? -EIO : 0;
}

/* ---- content negotiation -------------------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* [s, e) without the spaces and tabs around it. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_space(**s))
		(*s)++;
	while (*e > *s && is_space((*e)[-1]))
		(*e)--;
}

/*
 * An RFC 9110 qvalue ("0", "0.5", "1.000") above zero; anything that is not a qvalue counts
 * as zero, so a malformed header falls back to the text format, which every scraper reads.
 */
static bool qvalue_positive(const char *s, const char *e)
{
	size_t digits = 0;
	bool nonzero;

	if (s == e || (*s != '0' && *s != '1'))
		return false;
	nonzero = *s++ == '1';
	if (s == e)
		return nonzero;
	if (*s++ != '.')
		return false;
	for (; s < e; s++, digits++) {
		if (*s < '0' || *s > '9' || digits == 3)
			return false;
		if (*s != '0') {
			if (nonzero) /* 1.x with x > 0 is no qvalue */
				return false;
			nonzero = true;
		}
	}
	return nonzero;
}

/* One element of an Accept list: a media range and its parameters, [s, e). */
static bool accepts_openmetrics(const char *s, const char *e)
{
	static const char want[] = "application/openmetrics-text";
	const char *semi = memchr(s, ';', (size_t)(e - s)), *type_end = semi ? semi : e;
	const char *p;

	trim(&s, &type_end);
	if ((size_t)(type_end - s) != sizeof(want) - 1 || strncasecmp(s, want, sizeof(want) - 1))
		return false;
	/* Parameters: only q matters (any version of OpenMetrics reads 1.0.0). */
	for (p = semi; p && p < e;) {
		const char *next = memchr(p + 1, ';', (size_t)(e - p - 1)), *pe = next ? next : e;
		const char *ps = p + 1, *eq;

		trim(&ps, &pe);
		eq = memchr(ps, '=', (size_t)(pe - ps));
		if (eq && eq - ps == 1 && (*ps == 'q' || *ps == 'Q')) {
			const char *vs = eq + 1;

			trim(&vs, &pe);
			return qvalue_positive(vs, pe);
		}
		p = next;
	}
	return true;
}

enum uvs_prom_format uvs_prom_negotiate(const char *accept)
{
	const char *s = accept, *end;

	if (!accept)
		return UVS_PROM_TEXT;
	end = s + strlen(s);
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s)), *e = comma ? comma : end;

		if (accepts_openmetrics(s, e))
			return UVS_PROM_OPENMETRICS;
		s = comma ? comma + 1 : end;
	}
	return UVS_PROM_TEXT;
}
