// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/held_object.h"
#include "collect/syscalls.h"
#include "syscalls.skel.h"
#include "target/procfs.h"
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

static void destroy_skel(void *skel)
{
	syscalls_bpf__destroy(skel);
}

/*
 * The object every target shares, loaded by the first target: its options are the agent's.
 * Its tracepoints run in every process on the host: held by the targets (held_object.h).
 */
static struct uvs_held_object *load_host(struct uvs_syscalls *s, uint64_t slow_ns, bool track_fds,
					 int *err)
{
	struct syscalls_bpf *skel = syscalls_bpf__open();
	bool opened = skel != NULL; /* skel is gone after a failed load */
	struct uvs_held_object *h;

	if (skel) {
		skel->rodata->slow_ns = slow_ns;
		skel->rodata->track_fds = track_fds;
	}
	/* With the loop object's map of loop threads: slow syscalls are reported for those only. */
	h = uvs_held_object_load(s->sh, UVS_OBJ_SYSCALLS, skel, skel ? skel->skeleton : NULL,
				 destroy_skel, err);
	if (!h)
		snprintf(s->why, sizeof(s->why), "%s: %s",
			 opened ? "cannot attach the syscall tracepoints" :
				"cannot open the syscall programs", strerror(-*err));
	return h;
}

static struct syscalls_bpf *skel_of(const struct uvs_syscalls *s)
{
	return s->host->skel;
}

/*
 * The target's part at its slot: counters from zero (the slot may have served another
 * process), and a statistics map of its own. Returns the map's fd, or -errno.
 */
static int own_slot(const struct syscalls_bpf *skel, int slot)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	static const struct uvs_sys_counters zero;
	__u32 key = (__u32)slot;
	int fd, err;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.sys_counters), &key, &zero, BPF_ANY))
		return -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "uvs_sys_stats", sizeof(struct uvs_sys_key),
			    sizeof(struct uvs_sys_stats), UVS_SYS_MAX_KEYS, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.sys_stats), &key, &fd, BPF_ANY)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int uvs_syscalls_attach(struct uvs_syscalls *s, struct uvs_bpf_shared *sh, int slot,
			struct uvs_target *t, const struct uvs_collect_sink *sink, uint64_t slow_ns,
			bool track_fds)
{
	int err = 0;

	memset(s, 0, sizeof(*s));
	s->sh = sh;
	s->slot = slot;
	s->stats_fd = -1;
	s->target = t;
	s->sink = sink;
	s->slow_ns = slow_ns;
	s->scratch = calloc(1, sizeof(*s->scratch));
	if (!s->scratch || uvs_sys_window_init(&s->math)) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return -ENOMEM;
	}
	s->host = uvs_bpf_shared_object(sh, UVS_OBJ_SYSCALLS);
	if (!s->host)
		s->host = load_host(s, slow_ns, track_fds, &err);
	if (!s->host)
		return err;
	s->stats_fd = own_slot(skel_of(s), slot);
	if (s->stats_fd < 0) {
		err = s->stats_fd;
		snprintf(s->why, sizeof(s->why), "cannot make the syscall statistics map: %s",
			 strerror(-err));
		return err;
	}
	err = uvs_held_object_hold(s->host);
	if (err) {
		snprintf(s->why, sizeof(s->why), "cannot attach the syscall tracepoints: %s",
			 strerror(-err));
		return err;
	}
	s->holds_links = true;
	uvs_bpf_shared_set_inst(sh, slot, UVS_OBJ_SYSCALLS, s);
	s->attached = true;
	return 0;
}

void uvs_syscalls_quiesce(struct uvs_syscalls *s)
{
	if (s->holds_links)
		uvs_held_object_let_go(s->host);
	s->holds_links = false;
}

void uvs_syscalls_detach(struct uvs_syscalls *s)
{
	__u32 key = (__u32)s->slot;

	uvs_syscalls_quiesce(s);
	if (s->host && s->stats_fd >= 0) {
		/* The kernel frees the map, entries and all, when the slot and our fd let go. */
		bpf_map_delete_elem(bpf_map__fd(skel_of(s)->maps.sys_stats), &key);
		close(s->stats_fd);
	}
	s->stats_fd = -1;
	if (s->attached)
		uvs_bpf_shared_set_inst(s->sh, s->slot, UVS_OBJ_SYSCALLS, NULL);
	s->host = NULL;
	uvs_sys_window_free(&s->math);
	free(s->scratch);
	s->scratch = NULL;
	s->attached = false;
}

int uvs_syscalls_events_fd(const struct uvs_syscalls *s)
{
	return bpf_map__fd(skel_of(s)->maps.slow_events);
}

int uvs_syscalls_counters(const struct uvs_syscalls *s, struct uvs_sys_counters *out)
{
	__u32 key = (__u32)s->slot;

	if (!s->attached)
		return -ENOENT;
	return bpf_map_lookup_elem(bpf_map__fd(skel_of(s)->maps.sys_counters), &key, out) ?
		       -errno : 0;
}

/*
 * Whether a thread still exists: listed now, or (started since the listing) in /proc. One /proc
 * cannot speak for keeps its entries until a window that can.
 */
static bool alive(const struct uvs_target *t, int tid, bool listed)
{
	return listed || uvs_thread_presence(t->pid, tid) != UVS_THREAD_GONE;
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
	int fd = s->stats_fd;
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

int uvs_slow_syscall_from_event(const void *data, size_t len, pid_t *tgid,
				struct uvs_slow_call *out)
{
	const struct uvs_slow_syscall *e = data;

	if (len < sizeof(*e))
		return -EINVAL;
	*tgid = (pid_t)e->tgid;
	memset(out, 0, sizeof(*out));
	out->tid = (int)e->tid;
	out->role = UVS_ROLE_OTHER;
	out->nr = e->nr;
	out->ret = e->ret;
	out->duration_ns = e->duration_ns;
	/* The event's monotonic stamp, moved to the wall clock. */
	out->ts_ns = uvs_mono_to_real(e->ts_ns);
	return 0;
}

int uvs_syscalls_on_slow(void *ctx, void *data, size_t len)
{
	struct uvs_record r = { .kind = UVS_RECORD_SLOW_SYSCALL };
	struct uvs_slow_call *c = &r.slow_syscall;
	struct uvs_syscalls *s;
	bool known;
	pid_t tgid;

	if (uvs_slow_syscall_from_event(data, len, &tgid, c))
		return 0;
	/* A target detached since: its records are nobody's. */
	s = uvs_bpf_shared_inst_of(ctx, tgid, UVS_OBJ_SYSCALLS);
	if (!s)
		return 0;
	c->role = uvs_target_role(s->target, c->tid, &known);
	/* Only loops that run JavaScript: a background loop's long waits are its job. */
	if (uvs_sys_role_of(c->role, known) != UVS_SYS_LOOP)
		return 0;
	r.pid = s->target->pid;
	s->session_slow++;
	s->window_slow++;
	if (s->nslow < UVS_MAX_SLOW_CALLS)
		s->slow[s->nslow++] = *c;
	if (s->sink->record)
		s->sink->record(s->sink->ctx, &r);
	return 0;
}
