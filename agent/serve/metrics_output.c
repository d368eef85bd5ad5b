// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "render/prometheus.h"
#include "serve/metrics_output.h"
#include "target/container.h"
#include "util/log.h"

struct metrics {
	struct uvs_http *http;
	struct uvs_prom_target target;
	char comm[16], node_version[32], libuv_version[32], mode[16];
	char container[UVS_CONTAINER_ID_LEN + 1];
	struct uvs_snapshot *totals;
	uint64_t alerts[UVS_PROM_ALERT_KINDS];
	int ongoing[UVS_MAX_LOOPS]; /* loop threads alerted as blocked, the episode not ended */
};

static struct metrics *priv(struct uvs_output *o)
{
	return o->priv;
}

/* One format of the page, rendered into memory and handed to the server. */
static int publish(struct metrics *m, enum uvs_prom_format f, const struct uvs_prom_page *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int err;

	if (!mem)
		return -errno;
	err = uvs_prom_write_page(mem, f, p);
	if (fclose(mem) && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		return err;
	}
	return uvs_http_set_page(m->http, f, buf, len);
}

static int build(struct uvs_output *o, const struct uvs_snapshot *window)
{
	struct metrics *m = priv(o);
	struct uvs_prom_page page = { .target = m->target, .totals = m->totals, .window = window,
				      .alerts = m->alerts };
	int err = o->source->totals(o->source->ctx, m->totals);

	if (!err)
		err = publish(m, UVS_PROM_TEXT, &page);
	if (!err)
		err = publish(m, UVS_PROM_OPENMETRICS, &page);
	return err;
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static int metrics_begin(struct uvs_output *o, const struct uvs_attach_info *a)
{
	struct metrics *m = priv(o);

	copy(m->comm, sizeof(m->comm), a->comm);
	copy(m->node_version, sizeof(m->node_version), a->node_version);
	copy(m->libuv_version, sizeof(m->libuv_version), a->libuv_version);
	copy(m->mode, sizeof(m->mode), a->mode);
	copy(m->container, sizeof(m->container), a->container);
	m->target = (struct uvs_prom_target){ .pid = a->pid, .comm = m->comm, .container = m->container,
					      .node_version = m->node_version,
					      .libuv_version = m->libuv_version, .mode = m->mode };
	/* A page from the start: a readiness probe passes as soon as uvscope is attached. */
	return build(o, NULL);
}

static int metrics_interval(struct uvs_output *o, const struct uvs_snapshot *s)
{
	return build(o, s);
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

static int metrics_alert(struct uvs_output *o, const struct uvs_alert *a)
{
	struct metrics *m = priv(o);

	if ((unsigned int)a->kind < UVS_PROM_ALERT_KINDS && uvs_metrics_alert_fires(a, m->ongoing))
		m->alerts[a->kind]++;
	return 0;
}

static void metrics_destroy(struct uvs_output *o)
{
	free(priv(o)->totals);
}

static const struct uvs_output_ops metrics_ops = {
	.name = "metrics",
	.begin = metrics_begin,
	.interval = metrics_interval,
	.alert = metrics_alert,
	.destroy = metrics_destroy,
};

struct uvs_output *uvs_metrics_output_new(struct uvs_http *http)
{
	struct uvs_output *o = uvs_output_new(&metrics_ops, NULL, sizeof(struct metrics));

	if (!o)
		return NULL;
	priv(o)->http = http;
	priv(o)->totals = calloc(1, sizeof(struct uvs_snapshot));
	if (!priv(o)->totals) {
		free(o->priv);
		free(o);
		errno = ENOMEM;
		return NULL;
	}
	return o;
}
