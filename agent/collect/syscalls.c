// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/syscalls.h"
#include "syscalls.skel.h"
#include "util/clock.h"

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
	case UVS_ROLE_OTHER:
	case UVS_ROLE_LOOP:
		return UVS_SYS_OTHER;
	}
	return UVS_SYS_OTHER;
}

int uvs_syscalls_attach(struct uvs_syscalls *s, struct uvs_target *t, const struct uvs_loops *loops,
			const struct uvs_collect_sink *sink, uint64_t slow_ns, bool track_fds)
{
	struct syscalls_bpf *skel;
	int err;

	memset(s, 0, sizeof(*s));
	s->target = t;
	s->sink = sink;
	s->slow_ns = slow_ns;
	s->scratch = calloc(1, sizeof(*s->scratch));
	if (!s->scratch || uvs_sys_window_init(&s->math)) {
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
	/* The loop object's map of loop threads: slow syscalls are reported for those only. */
	err = bpf_map__reuse_fd(skel->maps.loop_state, uvs_loops_state_map_fd(loops));
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

void uvs_syscalls_quiesce(struct uvs_syscalls *s)
{
	if (s->skel)
		syscalls_bpf__detach(s->skel);
}

void uvs_syscalls_detach(struct uvs_syscalls *s)
{
	syscalls_bpf__destroy(s->skel);
	s->skel = NULL;
	uvs_sys_window_free(&s->math);
	free(s->scratch);
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

/* Whether a thread still exists: listed now, or (started since the listing) in /proc. */
static bool alive(const struct uvs_target *t, int tid, bool listed)
{
	char path[64];
	struct stat st;

	if (listed)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)t->pid, tid);
	return stat(path, &st) == 0;
}

static bool listed(const struct uvs_target *t, int tid)
{
	size_t i;

	for (i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return true;
	return false;
}

/* Reads every (thread, syscall) entry into the window; deletes the entries of exited threads. */
static void take_window(struct uvs_syscalls *s)
{
	int fd = bpf_map__fd(s->skel->maps.sys_stats);
	struct uvs_sys_key key, next, *dead = NULL, *grown;
	size_t ndead = 0, cap = 0, i;
	bool first = true;

	uvs_sys_window_begin(&s->math);
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		enum uvs_role role;
		bool known, live;

		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, s->scratch))
			continue;
		role = uvs_target_role(s->target, (int)key.tid, &known);
		live = alive(s->target, (int)key.tid, listed(s->target, (int)key.tid));
		uvs_sys_window_add(&s->math, &key, s->scratch, uvs_sys_role_of(role, known), live);
		if (live)
			continue;
		/* Deleted after the walk: deleting under bpf_map_get_next_key restarts it. */
		if (ndead == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(dead, cap * sizeof(*dead));
			if (!grown)
				continue; /* its slot is free: the next window takes it from zero */
			dead = grown;
		}
		dead[ndead++] = key;
	}
	for (i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	free(dead);
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

void uvs_syscalls_window(struct uvs_syscalls *s, struct uvs_syscalls_snapshot *out,
			 struct uvs_agent_snapshot *agent)
{
	struct uvs_sys_counters c;

	memset(out, 0, sizeof(*out));
	if (!s->attached)
		return;
	out->available = true;
	out->slow_threshold_ns = s->slow_ns;
	take_window(s);
	uvs_sys_window_fill(&s->math, false, out);
	memcpy(out->slow, s->slow, sizeof(out->slow));
	out->nslow = s->nslow;
	out->slow_count = s->window_slow;
	s->nslow = 0;
	s->window_slow = 0;
	agent->syscall_pairs_unfit = s->math.unfit_window;
	if (uvs_syscalls_counters(s, &c) == 0) {
		out->lost = delta(c.lost, s->prev.lost);
		agent->slow_syscalls_dropped = delta(c.slow_drops, s->prev.slow_drops);
		s->prev = c;
	}
}

void uvs_syscalls_totals(struct uvs_syscalls *s, struct uvs_syscalls_snapshot *out,
			 struct uvs_agent_snapshot *agent)
{
	memset(out, 0, sizeof(*out));
	if (!s->attached)
		return;
	out->available = true;
	out->slow_threshold_ns = s->slow_ns;
	uvs_sys_window_fill(&s->math, true, out);
	out->slow_count = s->session_slow;
	out->lost = s->prev.lost;
	agent->syscall_pairs_unfit = s->math.unfit_session;
	agent->slow_syscalls_dropped = s->prev.slow_drops;
}

int uvs_syscalls_on_slow(void *ctx, void *data, size_t len)
{
	struct uvs_syscalls *s = ctx;
	const struct uvs_slow_syscall *e = data;
	struct uvs_record r = { .kind = UVS_RECORD_SLOW_SYSCALL };
	struct uvs_slow_call *c = &r.slow_syscall;
	enum uvs_role role;
	bool known;

	if (len < sizeof(*e))
		return 0;
	role = uvs_target_role(s->target, (int)e->tid, &known);
	/* Only loops that run JavaScript: a background loop's long waits are its job. */
	if (uvs_sys_role_of(role, known) != UVS_SYS_LOOP)
		return 0;
	c->tid = (int)e->tid;
	c->role = role;
	c->nr = e->nr;
	c->ret = e->ret;
	c->duration_ns = e->duration_ns;
	/* The event's monotonic stamp, moved to the wall clock. */
	c->ts_ns = uvs_mono_to_real(e->ts_ns);
	r.pid = s->target->pid;
	s->session_slow++;
	s->window_slow++;
	if (s->nslow < UVS_MAX_SLOW_CALLS)
		s->slow[s->nslow++] = *c;
	if (s->sink->record)
		s->sink->record(s->sink->ctx, &r);
	return 0;
}
