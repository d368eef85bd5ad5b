// SPDX-License-Identifier: MIT
/*
 * Chrome trace-event JSON (the "JSON Object Format" of the Trace Event Format document):
 * {"traceEvents":[...],"displayTimeUnit":"ms","otherData":{...}}, one event per line.
 *
 * Perfetto and chrome://tracing build each thread's slice stacks from "X" (complete) events and
 * demand proper nesting: a slice that overlaps its neighbour without containing it is shown
 * wrong or dropped. The BPF side sends a phase span before the iteration it belongs to (the
 * iteration ends when the next wait begins), so the phases of a thread wait here until their
 * iteration comes, are clipped to it and written after it: parent before children, which is
 * also how both viewers order slices that start at the same microsecond. A phase span that
 * falls wholly outside its iteration is left out: it is the few microseconds between libuv's
 * epoll(0) probe and its real wait, which the loop statistics add to the next iteration's busy
 * time but which lie before that iteration's start on the time line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render/json.h"
#include "render/trace_json.h"
#include "util/clock.h"
#include "util/text.h"

/* Threads with a track: loop threads and pool threads are a few dozen in practice. */
#define MAX_THREADS 512
/* Phase spans of one iteration waiting for it: eight phases, more when a poll waits often. */
#define MAX_PENDING 64

struct pending_phase {
	int phase;
	uint64_t start_ns;
	uint64_t end_ns;
};

struct thread_track {
	int tid;
	enum uvs_role role;
	bool role_known;
	bool named;          /* its thread_name event is written */
	enum uvs_role named_role;
	char comm[16];
	uint64_t last_end_ns; /* where the last slice written at depth 0 ended */
	/* The last window saw this loop blocked, in an iteration that has not ended since. */
	bool blocked;
	uint64_t blocked_since_ns;
	uint64_t blocked_seen_ns;
	size_t npending;
	struct pending_phase pending[MAX_PENDING];
};

struct trace_priv {
	struct uvs_trace_clock clock;
	bool begun;
	bool any_event;     /* an event is written: the next one needs a comma first */
	int pid;
	char comm[16];
	char node_version[32];
	char mode[32];
	size_t nthreads;
	struct thread_track *threads[MAX_THREADS];
	struct uvs_trace_stats stats;
};

static struct trace_priv *priv(const struct uvs_output *o)
{
	return o->priv;
}

struct uvs_trace_clock uvs_trace_clock_now(void)
{
	return (struct uvs_trace_clock){ .origin_mono_ns = uvs_now_mono(),
					 .origin_real_ns = uvs_now_real() };
}

static void copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- time --------------------------------------------------------------------------------- */

/* Nanoseconds as microseconds with three decimals, in integers (no locale, no rounding). */
static void put_us(FILE *out, uint64_t ns)
{
	fprintf(out, "%" PRIu64 ".%03u", ns / 1000, (unsigned int)(ns % 1000));
}

/* A monotonic time on the trace's time line; before time 0 is time 0. */
static uint64_t rel_mono(const struct trace_priv *p, uint64_t mono_ns)
{
	return mono_ns > p->clock.origin_mono_ns ? mono_ns - p->clock.origin_mono_ns : 0;
}

static uint64_t rel_real(const struct trace_priv *p, uint64_t real_ns)
{
	return real_ns > p->clock.origin_real_ns ? real_ns - p->clock.origin_real_ns : 0;
}

/* ---- events ------------------------------------------------------------------------------- */

/* Starts an event: the separator, then {"ph":..,"pid":..,"tid":.. (the caller closes it). */
static void event_open(struct trace_priv *p, FILE *out, char ph, int tid)
{
	fputs(p->any_event ? ",\n" : "\n", out);
	p->any_event = true;
	fprintf(out, "{\"ph\":\"%c\",\"pid\":%d,\"tid\":%d", ph, p->pid, tid);
}

/* Opens a complete event from start to end (trace-relative ns); the caller may add "args". */
static void slice(struct trace_priv *p, FILE *out, int tid, const char *cat, const char *name,
		  uint64_t start, uint64_t end)
{
	event_open(p, out, 'X', tid);
	fprintf(out, ",\"cat\":\"%s\",\"name\":", cat);
	uvs_json_string(out, name);
	fputs(",\"ts\":", out);
	put_us(out, start);
	fputs(",\"dur\":", out);
	put_us(out, end > start ? end - start : 0);
	p->stats.slices++;
}

/* ---- threads ------------------------------------------------------------------------------ */

static const char *track_role_name(enum uvs_role role, bool known)
{
	if (!known)
		return "event loop";
	switch (role) {
	case UVS_ROLE_MAIN:
		return "main loop";
	case UVS_ROLE_WORKER:
		return "worker loop";
	case UVS_ROLE_THREADPOOL:
		return "pool thread";
	case UVS_ROLE_LOOP:
		return "libuv loop"; /* as watch and top name it */
	case UVS_ROLE_OTHER:
		return "thread";
	}
	return "thread";
}

/* Main loop first, then worker loops, other loops, pool threads: the order of the tracks. */
static int sort_index(enum uvs_role role)
{
	switch (role) {
	case UVS_ROLE_MAIN:
		return 0;
	case UVS_ROLE_WORKER:
		return 1;
	case UVS_ROLE_LOOP:
		return 2;
	case UVS_ROLE_THREADPOOL:
		return 3;
	case UVS_ROLE_OTHER:
		return 4;
	}
	return 4;
}

/* The thread's name metadata, again whenever what we know of its role changes. */
static void name_thread(struct trace_priv *p, FILE *out, struct thread_track *t)
{
	char name[64];

	if (t->named && t->named_role == t->role)
		return;
	if (t->comm[0])
		snprintf(name, sizeof(name), "%s (%s)", track_role_name(t->role, t->role_known),
			 t->comm);
	else
		copy_text(name, sizeof(name), track_role_name(t->role, t->role_known));
	event_open(p, out, 'M', t->tid);
	fputs(",\"name\":\"thread_name\",\"args\":{\"name\":", out);
	uvs_json_string(out, name);
	fputs("}}", out);
	event_open(p, out, 'M', t->tid);
	fprintf(out, ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%d}}",
		sort_index(t->role));
	t->named = true;
	t->named_role = t->role;
}

static struct thread_track *find_thread(struct trace_priv *p, int tid)
{
	size_t i;

	for (i = 0; i < p->nthreads; i++)
		if (p->threads[i]->tid == tid)
			return p->threads[i];
	return NULL;
}

/* The thread's track, created on first sight; NULL when the table is full. */
static struct thread_track *thread_of(struct trace_priv *p, int tid)
{
	struct thread_track *t = find_thread(p, tid);

	if (t || p->nthreads == MAX_THREADS)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tid = tid;
	t->role = UVS_ROLE_OTHER;
	p->threads[p->nthreads++] = t;
	return t;
}

/* What the session knows of a thread's role and name, from attach and from every window. */
static void learn_thread(struct trace_priv *p, int tid, enum uvs_role role, bool known,
			 const char *comm)
{
	struct thread_track *t = thread_of(p, tid);

	if (!t || (t->role_known && !known))
		return;
	t->role = role;
	t->role_known = known;
	if (comm && comm[0])
		copy_text(t->comm, sizeof(t->comm), comm);
}

/* The track of a thread that a record names; its role follows from the record when unknown. */
static struct thread_track *track(struct trace_priv *p, FILE *out, int tid, enum uvs_role role)
{
	struct thread_track *t = thread_of(p, tid);

	if (!t)
		return NULL;
	if (!t->role_known && role != UVS_ROLE_OTHER) {
		t->role = role;
		t->role_known = true;
	}
	name_thread(p, out, t);
	return t;
}

/* ---- records ------------------------------------------------------------------------------ */

static void queue_phase(struct trace_priv *p, FILE *out, const struct uvs_phase_record *r)
{
	struct thread_track *t = track(p, out, r->tid, UVS_ROLE_OTHER);

	if (!t || t->npending == MAX_PENDING || r->end_ns <= r->start_ns) {
		p->stats.unplaced++;
		return;
	}
	t->pending[t->npending++] = (struct pending_phase){ .phase = r->phase,
							    .start_ns = r->start_ns,
							    .end_ns = r->end_ns };
}

/* The thread's waiting phases inside the slice [start, end), each clipped to it and to the last. */
static void write_phases(struct trace_priv *p, FILE *out, struct thread_track *t, uint64_t start,
			 uint64_t end)
{
	uint64_t from, to, floor = start;
	size_t i;

	for (i = 0; i < t->npending; i++) {
		const struct pending_phase *ph = &t->pending[i];

		from = rel_mono(p, ph->start_ns);
		to = rel_mono(p, ph->end_ns);
		if (from < floor)
			from = floor;
		if (to > end)
			to = end;
		if (to <= from)
			continue;
		slice(p, out, t->tid, "phase", uvs_phase_name((enum uvs_phase)ph->phase), from, to);
		fputc('}', out);
		floor = to;
	}
	t->npending = 0;
}

/* The iteration's busy part, then its phases. */
static void write_iteration(struct trace_priv *p, FILE *out, const struct uvs_iteration_record *r)
{
	struct thread_track *t = track(p, out, r->tid, UVS_ROLE_OTHER);
	uint64_t start = rel_mono(p, r->busy_start_ns), end = rel_mono(p, r->busy_end_ns);

	/* Iterations of one thread never overlap; a clock oddity must not make them. */
	if (t && start < t->last_end_ns)
		start = t->last_end_ns;
	if (end < start)
		end = start;
	slice(p, out, r->tid, "loop", "iteration", start, end);
	if (r->wait_start_ns && r->wait_start_ns <= r->busy_start_ns) {
		fputs(",\"args\":{\"idle_before_us\":", out);
		put_us(out, r->busy_start_ns - r->wait_start_ns);
		fputc('}', out);
	}
	fputc('}', out);
	p->stats.iterations++;
	if (!t)
		return;
	t->last_end_ns = end;
	t->blocked = false;
	write_phases(p, out, t, start, end);
}

/*
 * A loop still blocked when the session ends has no iteration record: its busy part so far, as
 * the last window saw it, with the phases it went through, on a slice of its own ("cat":
 * "unfinished", not an iteration uvscope counted).
 */
static void write_unfinished(struct trace_priv *p, FILE *out, struct thread_track *t)
{
	uint64_t start = t->blocked_since_ns;

	if (start < t->last_end_ns)
		start = t->last_end_ns;
	if (t->blocked_seen_ns <= start)
		return;
	name_thread(p, out, t);
	slice(p, out, t->tid, "unfinished", "iteration (still running)", start, t->blocked_seen_ns);
	fputc('}', out);
	write_phases(p, out, t, start, t->blocked_seen_ns);
}

static void write_gc(struct trace_priv *p, FILE *out, const struct uvs_gc_record *r)
{
	if (r->end_ns < r->start_ns)
		return;
	track(p, out, r->tid, UVS_ROLE_OTHER);
	slice(p, out, r->tid, "gc", r->major ? "GC (major)" : "GC (minor)",
	      rel_mono(p, r->start_ns), rel_mono(p, r->end_ns));
	fputc('}', out);
}

/*
 * A pool job: its service, from its end back by its length, on its thread. On the monotonic
 * clock, as BPF took it: the wall clock is a conversion made per record, whose jitter made
 * back-to-back jobs of one thread overlap by tens of ns.
 */
static void write_pool_job(struct trace_priv *p, FILE *out, const struct uvs_pool_job_record *r)
{
	const char *op = r->fs_type >= 0 ? uvs_fs_op_name((unsigned int)r->fs_type) : NULL;
	uint64_t end = rel_mono(p, r->end_mono_ns);
	uint64_t start = end > r->service_ns ? end - r->service_ns : 0;
	char name[48];

	if (r->kind == UVS_POOL_FS)
		snprintf(name, sizeof(name), "fs %s", op ? op : "unknown");
	else
		copy_text(name, sizeof(name), uvs_pool_kind_name(r->kind));
	track(p, out, r->tid, UVS_ROLE_THREADPOOL);
	slice(p, out, r->tid, "pool", name, start, end);
	fprintf(out, ",\"args\":{\"kind\":\"%s\",\"queue_wait_us\":", uvs_pool_kind_name(r->kind));
	put_us(out, r->wait_ns);
	fputs("}}", out);
}

static int trace_record(struct uvs_output *o, const struct uvs_record *r)
{
	struct trace_priv *p = priv(o);

	if (!p->begun)
		return 0;
	switch (r->kind) {
	case UVS_RECORD_ITERATION:
		write_iteration(p, o->out, &r->iteration);
		break;
	case UVS_RECORD_PHASE:
		queue_phase(p, o->out, &r->phase);
		break;
	case UVS_RECORD_GC:
		write_gc(p, o->out, &r->gc);
		break;
	case UVS_RECORD_POOL_JOB:
		write_pool_job(p, o->out, &r->pool_job);
		break;
	case UVS_RECORD_SLOW_SYSCALL:
		break; /* not on the timeline (yet): the JSON lines list them */
	case UVS_RECORD_GUARD:
		break; /* trace runs without the overhead guard: a timeline keeps what it asked for */
	}
	return ferror(o->out) ? -EIO : 0;
}

/* ---- session ------------------------------------------------------------------------------ */

static int trace_begin(struct uvs_output *o, const struct uvs_attach_info *a)
{
	struct trace_priv *p = priv(o);
	size_t i;

	p->pid = a->pid;
	copy_text(p->comm, sizeof(p->comm), a->comm);
	copy_text(p->node_version, sizeof(p->node_version), a->node_version);
	copy_text(p->mode, sizeof(p->mode), a->mode);
	for (i = 0; i < a->nthreads; i++)
		learn_thread(p, a->threads[i].tid, a->threads[i].role, a->threads[i].role_known,
			     a->threads[i].comm);
	fputs("{\"traceEvents\":[", o->out);
	p->begun = true;
	event_open(p, o->out, 'M', a->pid);
	fputs(",\"name\":\"process_name\",\"args\":{\"name\":", o->out);
	uvs_json_string(o->out, p->comm[0] ? p->comm : "node");
	fputs("}}", o->out);
	return ferror(o->out) ? -EIO : 0;
}

/* Each window names the loops it saw: a Worker started after attach gets its role here. */
static int trace_interval(struct uvs_output *o, const struct uvs_snapshot *s)
{
	struct trace_priv *p = priv(o);
	size_t i;

	for (i = 0; i < s->nloops && i < UVS_MAX_LOOPS; i++) {
		const struct uvs_loop_snapshot *l = &s->loops[i];
		struct thread_track *t;

		/* A loop the session could not place yet is an "event loop", not a "thread". */
		learn_thread(p, l->tid, l->role, l->role != UVS_ROLE_OTHER, l->comm);
		t = find_thread(p, l->tid);
		if (!t)
			continue;
		if (p->begun && t->named)
			name_thread(p, o->out, t);
		t->blocked = l->blocked_now && s->ts_ns >= l->blocked_for_ns;
		if (t->blocked) {
			t->blocked_seen_ns = rel_real(p, s->ts_ns);
			t->blocked_since_ns = rel_real(p, s->ts_ns - l->blocked_for_ns);
		}
	}
	return ferror(o->out) ? -EIO : 0;
}

static int trace_alert(struct uvs_output *o, const struct uvs_alert *a)
{
	struct trace_priv *p = priv(o);
	const struct uvs_alert_loop_share *l = a->kind == UVS_ALERT_LOOP_UTILIZATION ?
		&a->loop_utilization : a->kind == UVS_ALERT_GC_SHARE ? &a->gc_share : NULL;
	bool on_loop = a->kind == UVS_ALERT_LOOP_BLOCKED || l;
	int tid = a->kind == UVS_ALERT_LOOP_BLOCKED ? a->loop_blocked.tid : l ? l->tid : p->pid;

	if (!p->begun)
		return 0;
	if (on_loop)
		track(p, o->out, tid, l ? l->role : a->loop_blocked.role);
	event_open(p, o->out, 'i', tid);
	/* A blocked loop is marked on its thread; the others concern the whole process. */
	fprintf(o->out, ",\"s\":\"%c\",\"cat\":\"alert\",\"name\":\"%s\",\"ts\":",
		on_loop ? 't' : 'p', uvs_alert_kind_name(a->kind));
	put_us(o->out, rel_real(p, a->ts_ns));
	fprintf(o->out, ",\"args\":{\"kind\":\"%s\"", uvs_alert_kind_name(a->kind));
	uvs_json_alert_fields(o->out, a);
	fputs("}}", o->out);
	p->stats.instants++;
	return ferror(o->out) ? -EIO : 0;
}

static int trace_summary(struct uvs_output *o, const struct uvs_snapshot *s)
{
	priv(o)->stats.dropped = s->agent.drops + s->agent.pool_records_dropped;
	return 0;
}

/* Closes the JSON: the session ends here however it ended (duration, Ctrl-C, target exit). */
static int trace_end(struct uvs_output *o)
{
	struct trace_priv *p = priv(o);
	const struct uvs_trace_stats *st = &p->stats;
	size_t i;

	if (!p->begun)
		return 0;
	/* Phases of an iteration still running stay out, unless it is a blocked one. */
	for (i = 0; i < p->nthreads; i++) {
		if (p->threads[i]->blocked)
			write_unfinished(p, o->out, p->threads[i]);
		p->threads[i]->npending = 0;
	}
	fputs("\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"uvscope trace\"", o->out);
	fprintf(o->out, ",\"pid\":%d,\"node_version\":", p->pid);
	uvs_json_string(o->out, p->node_version);
	fputs(",\"mode\":", o->out);
	uvs_json_string(o->out, p->mode);
	fprintf(o->out, ",\"ts_origin_monotonic_ns\":%" PRIu64 ",\"ts_origin_realtime_ns\":%" PRIu64
		",\"iterations\":%" PRIu64 ",\"slices\":%" PRIu64 ",\"alerts\":%" PRIu64
		",\"phase_spans_unplaced\":%" PRIu64 ",\"records_dropped\":%" PRIu64 "}}\n",
		p->clock.origin_mono_ns, p->clock.origin_real_ns, st->iterations, st->slices,
		st->instants, st->unplaced, st->dropped);
	p->begun = false;
	return ferror(o->out) ? -EIO : 0;
}

static void trace_destroy(struct uvs_output *o)
{
	struct trace_priv *p = priv(o);
	size_t i;

	for (i = 0; p && i < p->nthreads; i++)
		free(p->threads[i]);
}

static const struct uvs_output_ops trace_ops = {
	.name = "trace",
	.begin = trace_begin,
	.interval = trace_interval,
	.alert = trace_alert,
	.record = trace_record,
	.summary = trace_summary,
	.end = trace_end,
	.destroy = trace_destroy,
};

struct uvs_output *uvs_trace_output_new(FILE *out, const struct uvs_trace_clock *clock)
{
	struct uvs_output *o = uvs_output_new(&trace_ops, out, sizeof(struct trace_priv));

	if (o)
		priv(o)->clock = *clock;
	return o;
}

void uvs_trace_output_stats(const struct uvs_output *o, struct uvs_trace_stats *st)
{
	*st = priv(o)->stats;
}

void uvs_trace_summary_line(FILE *out, const char *path, const struct uvs_trace_stats *st)
{
	char shown[512];

	/* The operator's path, made safe for the terminal as every message is (util/log.c). */
	snprintf(shown, sizeof(shown), "%s", path);
	uvs_sanitize(shown, sizeof(shown));
	fprintf(out, "uvscope: trace: %" PRIu64 " loop iterations, %" PRIu64 " slices and %" PRIu64
		" alerts written to %s; %" PRIu64 " records dropped (ring buffer full)",
		st->iterations, st->slices, st->instants, shown, st->dropped);
	if (st->unplaced)
		fprintf(out, ", %" PRIu64 " phase spans left out (no iteration to put them in)",
			st->unplaced);
	fputc('\n', out);
}
