// SPDX-License-Identifier: MIT
/*
 * The page holds every target between its begin and its summary. Each target's part of it is
 * rendered when its figures change (its begin, each of its intervals, never at a scrape), and
 * the page is put together from the parts once per round of intervals: rendering is per
 * target and putting together is copying, so a page of N targets costs one render per
 * interval of each and one copy of the page per interval, not N.
 *
 * A round ends when every target on the page has a new interval, or when a target's second
 * comes before the others' first (the session's intervals are not in step): no figure on the
 * page is more than an interval older than its target's last. A target that begins or ends
 * shows on the page, or leaves it, at the end of the round; the first page and the empty one
 * are put out at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "render/prometheus.h"
#include "serve/metrics_output.h"
#include "target/container.h"
#include "util/log.h"

#define FORMATS 2 /* UVS_PROM_TEXT, UVS_PROM_OPENMETRICS */

/* One target on the page: what its begin said, its alert counts, its rendered samples. */
struct target {
	int pid;
	bool fresh; /* an interval of it came since the page was last put together */
	char comm[16], node_version[32], libuv_version[32], mode[16];
	char container[UVS_CONTAINER_ID_LEN + 1];
	uint64_t alerts[UVS_PROM_ALERT_KINDS];
	int ongoing[UVS_MAX_LOOPS]; /* loop threads alerted as blocked, the episode not ended */
	struct uvs_prom_part parts[FORMATS];
};

struct metrics {
	uvs_metrics_publish_fn publish;
	void *publish_arg;
	struct uvs_snapshot *totals; /* of the target being rendered */
	struct target **targets;     /* in the order they began: the order on the page */
	size_t n, cap;
	bool published;              /* a page is out */
	uint64_t left_off;           /* targets that began with the page full */
};

static struct metrics *priv(struct uvs_output *o)
{
	return o->priv;
}

static struct target *find(struct metrics *m, int pid, size_t *index)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->targets[i]->pid == pid) {
			if (index)
				*index = i;
			return m->targets[i];
		}
	}
	return NULL;
}

/* One format of the page, put together in memory and handed to the server. */
static int publish_format(struct metrics *m, enum uvs_prom_format f)
{
	const struct uvs_prom_part **parts = calloc(m->n ? m->n : 1, sizeof(*parts));
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int err;

	if (!parts)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++)
		parts[i] = &m->targets[i]->parts[f];
	mem = open_memstream(&buf, &len);
	if (!mem) {
		err = -errno;
		free(parts);
		return err;
	}
	err = uvs_prom_write_parts(mem, f, parts, m->n);
	free(parts);
	if (fclose(mem) && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		return err;
	}
	return m->publish(m->publish_arg, f, buf, len);
}

static int publish(struct metrics *m)
{
	int err = publish_format(m, UVS_PROM_TEXT);

	if (!err)
		err = publish_format(m, UVS_PROM_OPENMETRICS);
	for (size_t i = 0; i < m->n; i++)
		m->targets[i]->fresh = false;
	m->published = true;
	return err;
}

int uvs_metrics_output_publish_now(struct uvs_output *o)
{
	return publish(o->priv);
}

/* The end of a round: every target on the page has a new interval (or none is left). */
static int publish_if_round(struct metrics *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->targets[i]->fresh)
			return 0;
	return publish(m);
}

/* Renders t's part of the page from its totals (pulled now) and its last interval. */
static int render(struct uvs_output *o, struct target *t, const struct uvs_snapshot *window)
{
	struct metrics *m = priv(o);
	struct uvs_prom_page page = {
		.target = { .pid = t->pid, .comm = t->comm, .container = t->container,
			    .node_version = t->node_version, .libuv_version = t->libuv_version,
			    .mode = t->mode },
		.totals = m->totals, .window = window, .alerts = t->alerts };
	int err = o->source->totals(o->source->ctx, t->pid, m->totals);

	for (int f = 0; !err && f < FORMATS; f++)
		err = uvs_prom_part_render(&t->parts[f], (enum uvs_prom_format)f, &page);
	return err;
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* A place for one more target; NULL when the page is full or memory ran out (said once). */
static struct target *add(struct metrics *m, int pid)
{
	struct target *t;

	if (m->n == UVS_METRICS_MAX_TARGETS) {
		if (!m->left_off++)
			uvs_warn("serve: /metrics already has %d processes: pid %d and any more are "
				 "left off it (their alerts and JSON lines still come)",
				 UVS_METRICS_MAX_TARGETS, pid);
		return NULL;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		struct target **grown = realloc(m->targets, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		m->targets = grown;
		m->cap = cap;
	}
	t = calloc(1, sizeof(*t));
	if (t)
		m->targets[m->n++] = t;
	return t;
}

static void drop(struct metrics *m, size_t i)
{
	struct target *t = m->targets[i];

	for (int f = 0; f < FORMATS; f++)
		uvs_prom_part_free(&t->parts[f]);
	free(t);
	memmove(&m->targets[i], &m->targets[i + 1], (m->n - i - 1) * sizeof(m->targets[0]));
	m->n--;
}

static int metrics_begin(struct uvs_output *o, const struct uvs_attach_info *a)
{
	struct metrics *m = priv(o);
	size_t i;
	struct target *t;
	int err;

	/* The same pid again without its summary: a new process; nothing of the old one stays. */
	if (find(m, a->pid, &i))
		drop(m, i);
	t = add(m, a->pid);
	if (!t)
		return m->n == UVS_METRICS_MAX_TARGETS ? 0 : -ENOMEM;
	t->pid = a->pid;
	copy(t->comm, sizeof(t->comm), a->comm);
	copy(t->node_version, sizeof(t->node_version), a->node_version);
	copy(t->libuv_version, sizeof(t->libuv_version), a->libuv_version);
	copy(t->mode, sizeof(t->mode), a->mode);
	copy(t->container, sizeof(t->container), a->container);
	err = render(o, t, NULL);
	/* The first page at once: a readiness probe passes as soon as uvscope is attached. */
	if (!err && !m->published)
		err = publish(m);
	return err;
}

static int metrics_interval(struct uvs_output *o, const struct uvs_snapshot *s)
{
	struct metrics *m = priv(o);
	struct target *t = find(m, s->pid, NULL);
	int err;

	if (!t)
		return 0; /* left off the page */
	err = render(o, t, s);
	if (err)
		return err;
	if (t->fresh)
		return publish(m); /* its second interval in this round: the round is over */
	t->fresh = true;
	return publish_if_round(m);
}

bool uvs_metrics_alert_fires(const struct uvs_alert *a, int *ongoing)
{
	const struct uvs_alert_loop_blocked *b = &a->loop_blocked;
	size_t i, free_slot = UVS_MAX_LOOPS;

	/* An alert fires once and resolves once: only its firing counts. */
	if (a->kind != UVS_ALERT_LOOP_BLOCKED)
		return a->state == UVS_ALERT_FIRING;
	for (i = 0; i < UVS_MAX_LOOPS; i++) {
		if (ongoing[i] == b->tid && b->tid) {
			if (!b->ongoing)
				ongoing[i] = 0; /* the episode ended: it was counted when alerted */
			return false;
		}
		if (!ongoing[i] && free_slot == UVS_MAX_LOOPS)
			free_slot = i;
	}
	/* A new episode; an ongoing one is remembered so its end is not counted again. */
	if (b->ongoing && free_slot < UVS_MAX_LOOPS)
		ongoing[free_slot] = b->tid;
	return true;
}

/* Counted now, on the page from the target's next interval (with the figures it joins). */
static int metrics_alert(struct uvs_output *o, const struct uvs_alert *a)
{
	struct target *t = find(priv(o), a->pid, NULL);

	if (t && (unsigned int)a->kind < UVS_PROM_ALERT_KINDS &&
	    uvs_metrics_alert_fires(a, t->ongoing))
		t->alerts[a->kind]++;
	return 0;
}

/* The target is detached: its series leave the page, as Prometheus expects of a target gone. */
static int metrics_summary(struct uvs_output *o, const struct uvs_snapshot *s)
{
	struct metrics *m = priv(o);
	size_t i;

	if (!find(m, s->pid, &i))
		return 0;
	drop(m, i);
	return publish_if_round(m);
}

static int metrics_end(struct uvs_output *o)
{
	struct metrics *m = priv(o);

	if (m->left_off)
		uvs_warn("serve: %llu processes were left off /metrics (more than %d at once)",
			 (unsigned long long)m->left_off, UVS_METRICS_MAX_TARGETS);
	return 0;
}

static void metrics_destroy(struct uvs_output *o)
{
	struct metrics *m = priv(o);

	while (m->n)
		drop(m, m->n - 1);
	free(m->targets);
	free(m->totals);
}

static const struct uvs_output_ops metrics_ops = {
	.name = "metrics",
	.begin = metrics_begin,
	.interval = metrics_interval,
	.alert = metrics_alert,
	.summary = metrics_summary,
	.end = metrics_end,
	.destroy = metrics_destroy,
};

struct uvs_output *uvs_metrics_output_new_to(uvs_metrics_publish_fn publish, void *arg)
{
	struct uvs_output *o = uvs_output_new(&metrics_ops, NULL, sizeof(struct metrics));

	if (!o)
		return NULL;
	priv(o)->publish = publish;
	priv(o)->publish_arg = arg;
	priv(o)->totals = calloc(1, sizeof(struct uvs_snapshot));
	if (!priv(o)->totals) {
		free(o->priv);
		free(o);
		errno = ENOMEM;
		return NULL;
	}
	return o;
}

static int http_publish(void *http, enum uvs_prom_format format, char *buf, size_t len)
{
	return uvs_http_set_page(http, format, buf, len);
}

struct uvs_output *uvs_metrics_output_new(struct uvs_http *http)
{
	return uvs_metrics_output_new_to(http_publish, http);
}
