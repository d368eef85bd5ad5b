// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/loop.h"
#include "util/hist_math.h"
#include "util/log.h"
#include "collect/syscalls.h"
#include "syscalls.skel.h"

/* Twice the BPF map's capacity: the open-addressing table never fills. */
#define NSLOTS (2 * UVS_SYS_MAX_KEYS)
/* Accumulated rows: every (role, syscall) pair, which is far below this in practice. */
#define MAX_ACC 1536

/* One BPF map key's statistics at the last window (allocated on first sight). */
struct uvs_sys_slot {
	struct uvs_sys_key key;
	struct uvs_sys_stats *prev;
};

/* A (role, syscall) row being summed. */
struct uvs_sys_acc {
	uint32_t nr;
	enum uvs_sys_role role;
	uint64_t count;
	uint64_t errors;
	uint64_t total_ns;
	uint64_t max_ns;
	struct uvs_hist latency;
};

enum uvs_sys_role uvs_sys_role_of(enum uvs_role role, bool known)
{
	if (!known)
		return UVS_SYS_OTHER;
	switch (role) {
	case UVS_ROLE_MAIN:
	case UVS_ROLE_WORKER:
		return UVS_SYS_LOOP;
	case UVS_ROLE_THREADPOOL:
		return UVS_SYS_POOL;
	default:
		return UVS_SYS_OTHER;
	}
}

int uvs_syscalls_attach(struct uvs_syscalls *s, struct uvs_target *t, int loop_state_fd,
			uint64_t slow_ns, bool track_fds)
{
	struct syscalls_bpf *skel;
	int err;

	memset(s, 0, sizeof(*s));
	s->target = t;
	s->slow_ns = slow_ns;
	s->slots = calloc(NSLOTS, sizeof(*s->slots));
	s->window = calloc(MAX_ACC, sizeof(*s->window));
	s->session = calloc(MAX_ACC, sizeof(*s->session));
	s->scratch = calloc(1, sizeof(*s->scratch));
	if (!s->slots || !s->window || !s->session || !s->scratch) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return -ENOMEM;
	}
	skel = syscalls_bpf__open();
	if (!skel) {
		err = -errno;
		snprintf(s->why, sizeof(s->why), "cannot open the syscall programs: %s",
			 strerror(-err));
		return err;
	}
	s->skel = skel;
	skel->rodata->targ_tgid = (__u32)t->pid;
	skel->rodata->slow_ns = slow_ns;
	skel->rodata->track_fds = track_fds;
	err = bpf_map__reuse_fd(skel->maps.loop_state, loop_state_fd);
	if (!err)
		err = syscalls_bpf__load(skel);
	if (!err)
		err = syscalls_bpf__attach(skel);
	if (err) {
		snprintf(s->why, sizeof(s->why), "cannot attach the syscall tracepoints: %s",
			 strerror(-err));
		syscalls_bpf__destroy(skel);
		s->skel = NULL;
		return err;
	}
	s->attached = true;
	return 0;
}

void uvs_syscalls_detach(struct uvs_syscalls *s)
{
	size_t i;

	syscalls_bpf__destroy(s->skel);
	s->skel = NULL;
	if (s->slots)
		for (i = 0; i < NSLOTS; i++)
			free(s->slots[i].prev);
	free(s->slots);
	free(s->window);
	free(s->session);
	free(s->scratch);
	s->slots = NULL;
	s->window = s->session = NULL;
	s->scratch = NULL;
	s->attached = false;
}

int uvs_syscalls_events_fd(const struct uvs_syscalls *s)
{
	return bpf_map__fd(s->skel->maps.slow_events);
}

int uvs_syscalls_counters(const struct uvs_syscalls *s, struct uvs_sys_counters *out)
{
	__u32 zero = 0;

	if (!s->attached)
		return -ENOENT;
	return bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.sys_counters), &zero, out) ? -errno :
											   0;
}

static void remember_role(struct uvs_syscalls *s, pid_t tid, enum uvs_sys_role role)
{
	size_t i;

	for (i = 0; i < s->nroles; i++) {
		if (s->roles[i].tid == tid) {
			s->roles[i].role = role;
			return;
		}
	}
	if (s->nroles == UVS_SYS_ROLE_CACHE) {
		/* Forget the oldest: it is the likeliest to have exited long ago. */
		memmove(s->roles, s->roles + 1, sizeof(s->roles[0]) * (UVS_SYS_ROLE_CACHE - 1));
		s->nroles--;
	}
	s->roles[s->nroles].tid = tid;
	s->roles[s->nroles++].role = role;
}

/* The role of a thread, and whether it is still alive. */
static enum uvs_sys_role role_of_tid(struct uvs_syscalls *s, pid_t tid, bool *alive)
{
	const struct uvs_target *t = s->target;
	size_t i;

	for (i = 0; i < t->nthreads; i++) {
		if (t->threads[i].tid == tid) {
			enum uvs_sys_role r = uvs_sys_role_of(t->threads[i].role,
							      t->threads[i].role_known);

			*alive = true;
			remember_role(s, tid, r);
			return r;
		}
	}
	*alive = false;
	for (i = 0; i < s->nroles; i++)
		if (s->roles[i].tid == tid)
			return s->roles[i].role;
	return UVS_SYS_OTHER;
}

static struct uvs_sys_slot *slot_of(struct uvs_syscalls *s, const struct uvs_sys_key *k)
{
	size_t h = ((size_t)k->tid * 2654435761u ^ (size_t)k->nr * 40503u) % NSLOTS;
	size_t i;

	for (i = 0; i < NSLOTS; i++) {
		struct uvs_sys_slot *sl = &s->slots[(h + i) % NSLOTS];

		if (!sl->prev) {
			sl->prev = calloc(1, sizeof(*sl->prev));
			if (!sl->prev)
				return NULL;
			sl->key = *k;
			return sl;
		}
		if (sl->key.tid == k->tid && sl->key.nr == k->nr)
			return sl;
	}
	return NULL;
}

static struct uvs_sys_acc *acc_of(struct uvs_sys_acc *rows, size_t *n, uint64_t *dropped,
				  uint32_t nr, enum uvs_sys_role role)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (rows[i].nr == nr && rows[i].role == role)
			return &rows[i];
	if (*n == MAX_ACC) {
		(*dropped)++;
		return NULL;
	}
	memset(&rows[*n], 0, sizeof(rows[*n]));
	rows[*n].nr = nr;
	rows[*n].role = role;
	return &rows[(*n)++];
}

/* Adds the change of one map entry since the last window to a row. */
static void acc_add(struct uvs_sys_acc *a, const struct uvs_sys_stats *now,
		    const struct uvs_sys_stats *prev, struct uvs_hist *delta)
{
	uint64_t count = now->count >= prev->count ? now->count - prev->count : now->count;
	uint64_t max;

	if (!a || !count)
		return;
	a->count += count;
	a->errors += now->errors >= prev->errors ? now->errors - prev->errors : 0;
	a->total_ns += now->total_ns >= prev->total_ns ? now->total_ns - prev->total_ns : 0;
	/* The window's largest value: exact when it set a new record, else its bucket's top. */
	max = now->max_ns > prev->max_ns ? now->max_ns :
					   uvs_hist_percentile_max(delta, 1.0, now->max_ns);
	if (max > a->max_ns)
		a->max_ns = max;
	uvs_hist_add(&a->latency, delta);
}

/* Reads every (thread, syscall) entry and adds its change since the last window. */
static void take_window(struct uvs_syscalls *s)
{
	int fd = bpf_map__fd(s->skel->maps.sys_stats);
	struct uvs_sys_key key, next, dead[256];
	size_t ndead = 0, i;
	bool first = true;

	s->nwindow = 0;
	s->window_dropped = 0;
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		struct uvs_sys_stats *now = s->scratch;
		struct uvs_sys_slot *sl;
		enum uvs_sys_role role;
		struct uvs_hist d;
		bool alive;

		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, now))
			continue;
		sl = slot_of(s, &key);
		if (!sl)
			continue;
		role = role_of_tid(s, (pid_t)key.tid, &alive);
		uvs_hist_sub(&d, &now->latency, &sl->prev->latency);
		acc_add(acc_of(s->window, &s->nwindow, &s->window_dropped, key.nr, role), now,
			sl->prev, &d);
		acc_add(acc_of(s->session, &s->nsession, &s->session_dropped, key.nr, role), now,
			sl->prev, &d);
		if (!alive && ndead < sizeof(dead) / sizeof(dead[0])) {
			/*
			 * Its last figures are taken: free the BPF entry for the threads to come (a
			 * new thread with this tid starts from zero). Past the batch, next window.
			 */
			memset(sl->prev, 0, sizeof(*sl->prev));
			dead[ndead++] = key;
		} else {
			*sl->prev = *now;
		}
	}
	for (i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, &dead[i]);
}

static int by_time_desc(const void *a, const void *b)
{
	const struct uvs_syscall_row *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	return x->nr < y->nr ? -1 : x->nr > y->nr;
}

static void fill(const struct uvs_sys_acc *rows, size_t n, uint64_t dropped,
		 struct uvs_syscalls_snapshot *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct uvs_sys_acc *a = &rows[i];
		struct uvs_syscall_row *r;

		if (!a->count)
			continue;
		out->count += a->count;
		out->errors += a->errors;
		out->role_count[a->role] += a->count;
		out->role_ns[a->role] += a->total_ns;
		if (out->nrows == UVS_MAX_SYSCALL_ROWS) {
			out->rows_dropped++;
			continue;
		}
		r = &out->rows[out->nrows++];
		r->nr = a->nr;
		r->role = a->role;
		r->count = a->count;
		r->errors = a->errors;
		r->total_ns = a->total_ns;
		r->p50_ns = uvs_hist_percentile_max(&a->latency, 0.50, a->max_ns);
		r->p99_ns = uvs_hist_percentile_max(&a->latency, 0.99, a->max_ns);
		r->max_ns = a->max_ns;
	}
	out->rows_dropped += dropped;
	qsort(out->rows, out->nrows, sizeof(out->rows[0]), by_time_desc);
}

void uvs_syscalls_window(struct uvs_syscalls *s, struct uvs_syscalls_snapshot *out, bool session)
{
	struct uvs_sys_counters c;

	memset(out, 0, sizeof(*out));
	if (!s->attached)
		return;
	out->available = true;
	out->slow_threshold_ns = s->slow_ns;
	if (session) {
		fill(s->session, s->nsession, s->session_dropped, out);
		out->slow_count = s->session_slow;
		if (uvs_syscalls_counters(s, &c) == 0)
			out->lost = c.lost;
		return;
	}
	take_window(s);
	fill(s->window, s->nwindow, s->window_dropped, out);
	memcpy(out->slow, s->slow, sizeof(out->slow));
	out->nslow = s->nslow;
	out->slow_count = s->window_slow;
	s->nslow = 0;
	s->window_slow = 0;
	if (uvs_syscalls_counters(s, &c) == 0) {
		out->lost = c.lost - s->prev_lost;
		s->prev_lost = c.lost;
	}
}

int uvs_syscalls_on_slow(void *ctx, void *data, size_t len)
{
	struct uvs_syscalls *s = ctx;
	const struct uvs_slow_syscall *e = data;
	struct uvs_slow_call *c;
	enum uvs_role role;
	bool known;

	if (len < sizeof(*e))
		return 0;
	role = uvs_target_role(s->target, (pid_t)e->tid, &known);
	/* Only loops that run JavaScript: a background loop's long waits are its job. */
	if (uvs_sys_role_of(role, known) != UVS_SYS_LOOP)
		return 0;
	s->session_slow++;
	s->window_slow++;
	if (s->nslow == UVS_MAX_SLOW_CALLS)
		return 0;
	c = &s->slow[s->nslow++];
	c->tid = (int)e->tid;
	c->role = role;
	c->nr = e->nr;
	c->ret = e->ret;
	c->duration_ns = e->duration_ns;
	/* The event's monotonic stamp, moved to the wall clock. */
	c->ts_ns = uvs_mono_to_real(e->ts_ns);
	return 0;
}
