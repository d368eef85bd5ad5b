/* SPDX-License-Identifier: MIT */
/*
 * The two exposition formats Prometheus scrapes, as primitives: metric families with their
 * HELP and TYPE lines, samples with escaped labels, exact decimal seconds, histograms, and the
 * choice of format from a request's Accept header. The text format (0.0.4) and OpenMetrics
 * 1.0.0 differ only in a few places (a counter's TYPE line names the family without `_total`,
 * an info family is a gauge in the text format, OpenMetrics ends with `# EOF` and escapes `"`
 * in HELP), all of them here.
 */
#ifndef UVSCOPE_PROM_WRITER_H
#define UVSCOPE_PROM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/hist_math.h"

enum uvs_prom_format {
	UVS_PROM_TEXT = 0,    /* text/plain; version=0.0.4 */
	UVS_PROM_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

#define UVS_PROM_TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define UVS_PROM_OPENMETRICS_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

enum uvs_prom_type {
	UVS_PROM_COUNTER = 0, /* the family name has no `_total`; its samples get one */
	UVS_PROM_GAUGE,
	UVS_PROM_HISTOGRAM,
	UVS_PROM_INFO,        /* one sample of value 1 named <family>_info: a gauge in the text
			       * format, OpenMetrics' info type */
};

struct uvs_prom_family {
	const char *name; /* uvscope_..., without `_total` for a counter, `_info` for an info */
	enum uvs_prom_type type;
	const char *help;
};

/*
 * One page being written. The labels every sample carries (the target's) are escaped once
 * into `base`; a family's HELP and TYPE lines are written with its first sample, so a family
 * with nothing to report leaves no trace.
 *
 * A page of several targets is written in parts (render/prometheus.h): each target's samples
 * `headless` (no HELP and TYPE lines), `on_family` telling where each family's samples begin,
 * and the families put together afterwards with their HELP and TYPE lines once.
 */
struct uvs_prom_writer {
	FILE *out;
	enum uvs_prom_format format;
	const struct uvs_prom_family *family; /* the family samples go to */
	bool family_started;                  /* its HELP and TYPE lines are out */
	bool headless;                        /* samples only: no HELP and TYPE lines */
	/* Called by uvs_prom_family before the family changes (NULL: nothing to call). */
	void (*on_family)(struct uvs_prom_writer *w, const struct uvs_prom_family *f);
	void *arg;                            /* on_family's */
	char base[1024];                      /* `pid="1",comm="node",container=""` */
};

/* Starts a page; base labels are added with uvs_prom_base_label. */
void uvs_prom_begin(struct uvs_prom_writer *w, FILE *out, enum uvs_prom_format format);

/*
 * Adds name="value" to the labels of every sample, value escaped (backslash, double quote,
 * newline), cut at max_len bytes and made valid UTF-8 without control characters first
 * (a cut or odd byte becomes '?'). -ENOSPC when the base labels are full.
 */
int uvs_prom_base_label(struct uvs_prom_writer *w, const char *name, const char *value,
			size_t max_len);

/* The family the next samples belong to. */
void uvs_prom_family(struct uvs_prom_writer *w, const struct uvs_prom_family *f);

/* Writes the current family's HELP and TYPE lines now, if they are not out yet. */
void uvs_prom_family_header(struct uvs_prom_writer *w);

/*
 * One sample of the current family (a counter's `_total` is added here). `labels` are more
 * labels, already in exposition syntax without braces (`tid="12",role="main"`), or NULL;
 * their values must come from uvscope itself (names, numbers), never from the target.
 */
void uvs_prom_u64(struct uvs_prom_writer *w, const char *labels, uint64_t v);
void uvs_prom_double(struct uvs_prom_writer *w, const char *labels, double v);
/* A duration in ns, written as exact decimal seconds ("0.000001024"). */
void uvs_prom_seconds(struct uvs_prom_writer *w, const char *labels, uint64_t ns);

/* The current family (a histogram in seconds): _bucket per bound and +Inf, _sum, _count. */
void uvs_prom_histogram(struct uvs_prom_writer *w, const char *labels,
			const struct uvs_hist_pow2 *h);

/* Ends the page (OpenMetrics: `# EOF`). Returns 0, or -EIO when out is in error. */
int uvs_prom_end(struct uvs_prom_writer *w);

/* ns as decimal seconds into buf (at least 32 bytes): no exponent, no trailing zeros. */
void uvs_prom_format_seconds(uint64_t ns, char *buf, size_t cap);

/*
 * The format to answer with, from a request's Accept header (NULL: none): OpenMetrics when
 * it lists application/openmetrics-text with a quality above 0, as Prometheus does when
 * it can parse it; the text format otherwise.
 */
enum uvs_prom_format uvs_prom_negotiate(const char *accept);

#endif
