// SPDX-License-Identifier: MIT
/*
 * The `watch` output: its lines (render/watch.c) as the session produces them, for one target
 * or several. Once a second target has begun (-p A,B, or --all), every line says whose it is
 * after its clock, "21:50:03 pid 4242 (node): main/4242 util ...", from then on, so that a
 * stream that has had several processes reads the same throughout; with one target the text
 * is as it always was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "render/guard_text.h"
#include "render/watch.h"

/* A target between its begin and its summary, and what its lines say of it. */
struct watch_target {
	int pid;
	char who[40]; /* "pid 4242 (node):" */
};

struct watch {
	struct watch_target *targets;
	size_t n, cap;
	size_t begun;  /* targets begun in the session */
	char who[24];  /* "pid 4242:" for a line of a target that did not begin */
};

static struct watch *priv(struct uvs_output *o)
{
	return o->priv;
}

/* What a line of pid says of it: NULL while only one target has begun (the text of one). */
static const char *who(struct uvs_output *o, int pid)
{
	struct watch *w = priv(o);

	if (w->begun < 2)
		return NULL;
	for (size_t i = 0; i < w->n; i++)
		if (w->targets[i].pid == pid)
			return w->targets[i].who;
	snprintf(w->who, sizeof(w->who), "pid %d:", pid);
	return w->who;
}

static int watch_begin(struct uvs_output *o, const struct uvs_attach_info *a)
{
	struct watch *w = priv(o);
	struct watch_target *t;

	w->begun++;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 4;
		struct watch_target *grown = realloc(w->targets, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		w->targets = grown;
		w->cap = cap;
	}
	t = &w->targets[w->n++];
	t->pid = a->pid;
	/* comm was sanitized where it was read (util/text.h): it is safe to print. */
	if (a->comm && a->comm[0])
		snprintf(t->who, sizeof(t->who), "pid %d (%.15s):", a->pid, a->comm);
	else
		snprintf(t->who, sizeof(t->who), "pid %d:", a->pid);
	return 0;
}

static int watch_interval(struct uvs_output *o, const struct uvs_snapshot *s)
{
	return uvs_watch_interval_of(o->out, who(o, s->pid), s);
}

static int watch_alert(struct uvs_output *o, const struct uvs_alert *a)
{
	return uvs_watch_alert_of(o->out, who(o, a->pid), a);
}

static int watch_record(struct uvs_output *o, const struct uvs_record *r)
{
	switch (r->kind) {
	case UVS_RECORD_POOL_JOB:
		return uvs_watch_pool_job_of(o->out, who(o, r->pid), &r->pool_job);
	case UVS_RECORD_SLOW_SYSCALL:
		return 0; /* shown in its interval's line */
	case UVS_RECORD_ITERATION:
	case UVS_RECORD_PHASE:
	case UVS_RECORD_GC:
		return 0; /* timeline events: the interval's figures sum them up */
	case UVS_RECORD_GUARD:
		return uvs_guard_text_record(o->out, who(o, r->pid), &r->guard);
	}
	return 0;
}

/* The target is detached (it exited, or the session ends): its summary, and it is forgotten. */
static int watch_summary(struct uvs_output *o, const struct uvs_snapshot *s)
{
	struct watch *w = priv(o);

	for (size_t i = 0; i < w->n; i++) {
		if (w->targets[i].pid == s->pid) {
			w->targets[i] = w->targets[--w->n];
			break;
		}
	}
	return uvs_watch_summary(o->out, s);
}

static void watch_destroy(struct uvs_output *o)
{
	free(priv(o)->targets);
}

static const struct uvs_output_ops watch_ops = {
	.name = "watch",
	.begin = watch_begin,
	.interval = watch_interval,
	.alert = watch_alert,
	.record = watch_record,
	.summary = watch_summary,
	.destroy = watch_destroy,
};

struct uvs_output *uvs_watch_output_new(FILE *out)
{
	return uvs_output_new(&watch_ops, out, sizeof(struct watch));
}
