// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/output.h"
#include "util/log.h"

struct uvs_output *uvs_output_new(const struct uvs_output_ops *ops, FILE *out, size_t priv_size)
{
	struct uvs_output *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->ops = ops;
	o->out = out;
	if (priv_size) {
		o->priv = calloc(1, priv_size);
		if (!o->priv) {
			free(o);
			return NULL;
		}
	}
	return o;
}

int uvs_outputs_add(struct uvs_outputs *l, struct uvs_output *o,
		    const struct uvs_output_source *source)
{
	if (!o)
		return -EINVAL;
	if (l->n == UVS_MAX_OUTPUTS)
		return -E2BIG;
	o->source = source;
	l->list[l->n++] = o;
	return 0;
}

/*
 * Keeps the first failure and says it once (a full disk under --json-file, a closed pipe):
 * one broken output must not silence the others, nor fail without a word.
 */
static void note(struct uvs_outputs *l, struct uvs_output *o, int err, bool flush)
{
	/*
	 * A write that failed inside stdio (its buffer full, flushed under an fprintf) leaves
	 * only the stream's error flag, which renderers return as -EIO, and errno, which says
	 * why (ENOSPC for a full disk): errno is cleared before each call of the output.
	 */
	if (err == -EIO && errno && o->out && ferror(o->out))
		err = -errno;
	/* An output without a FILE (the /metrics page) says its own errors. */
	if (!err && o->out && flush && fflush(o->out))
		err = -errno;
	if (!err && o->out && ferror(o->out))
		err = -EIO;
	if (err && !l->failed) {
		l->failed = err;
		uvs_err("cannot write the %s output: %s", o->ops->name, strerror(-err));
	}
}

#define EACH_FLUSH(l, flush, op, ...)                                                \
	do {                                                                         \
		for (size_t i_ = 0; i_ < (l)->n; i_++) {                             \
			struct uvs_output *o_ = (l)->list[i_];                       \
			if (o_->ops->op) {                                           \
				errno = 0;                                           \
				note((l), o_, o_->ops->op(o_, ##__VA_ARGS__), flush); \
			}                                                            \
		}                                                                    \
	} while (0)
#define EACH(l, op, ...) EACH_FLUSH(l, true, op, ##__VA_ARGS__)

void uvs_outputs_begin(struct uvs_outputs *l, const struct uvs_attach_info *a)
{
	EACH(l, begin, a);
}

void uvs_outputs_interval(struct uvs_outputs *l, const struct uvs_snapshot *s)
{
	for (size_t i = 0; i < l->n; i++) {
		struct uvs_output *o = l->list[i];

		if (o->ops->interval && !o->alerts_only) {
			errno = 0;
			note(l, o, o->ops->interval(o, s), true);
		}
	}
}

void uvs_outputs_alert(struct uvs_outputs *l, const struct uvs_alert *a)
{
	EACH(l, alert, a);
}

/*
 * Records come at the rate of loop iterations under trace: no flush for each (a line-buffered
 * file still sends every line at once; a trace file fills its buffer first).
 */
void uvs_outputs_record(struct uvs_outputs *l, const struct uvs_record *r)
{
	EACH_FLUSH(l, false, record, r);
}

void uvs_outputs_summary(struct uvs_outputs *l, const struct uvs_snapshot *s)
{
	EACH(l, summary, s);
}

void uvs_outputs_end(struct uvs_outputs *l)
{
	EACH(l, end);
}

void uvs_outputs_free(struct uvs_outputs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct uvs_output *o = l->list[i];

		if (o->ops->destroy)
			o->ops->destroy(o);
		if (o->owns_out && o->out)
			fclose(o->out);
		free(o->priv);
		free(o);
	}
	l->n = 0;
}
