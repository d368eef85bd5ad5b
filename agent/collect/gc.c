// SPDX-License-Identifier: MIT
/*
 * Why a return probe is safe on Heap::PerformGarbageCollection (DESIGN.md: no uretprobe on a
 * path that C++ exceptions or longjmp can cross): node and V8 are built with -fno-exceptions
 * (official node binaries do not even reference __cxa_throw, and this function's code has no
 * landing pad) and V8 has no setjmp/longjmp, so it always returns through its own frame (an
 * exception from libstdc++, such as bad_alloc, would end the process in std::terminate). No
 * JavaScript runs inside it (it opens with DisallowJavascriptExecution), so no JS exception or
 * termination unwinds it either. V8's stack walks during the collection start from the last
 * exit frame of JavaScript, above this frame, and never read the return address the probe
 * replaces; conservative stack scanning (cppgc) treats it as a plain word that points at no
 * heap object. Nesting: V8 never starts a collection inside another (0 of 61 on Node 20 under
 * allocation and forced collections); should it, the BPF side measures the inner one and counts
 * the event.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/gc.h"
#include "collect/map_sweep.h"
#include "gc.skel.h"
#include "target/procfs.h"
#include "util/log.h"
#include "v8/gc_sites.h"

/*
 * The return probes are placed before the entry probes: a collection that begins between the
 * two then has a return and no entry (ignored), never an entry without a return.
 */
static int add_probes(struct uvs_gc *g, const struct uvs_gc_sites *sites)
{
	int err = 0;
	size_t i;

	for (i = 0; i < sites->n && !err; i++)
		err = uvs_uprobe_set_add(&g->uprobes, g->skel->progs.uvs_gc_return,
					 sites->file_offset[i], 0, true);
	for (i = 0; i < sites->n && !err; i++)
		err = uvs_uprobe_set_add(&g->uprobes, g->skel->progs.uvs_gc_enter,
					 sites->file_offset[i], 0, false);
	return err;
}

static void destroy_skel(void *skel)
{
	gc_bpf__destroy(skel);
}

/*
 * The agent's GC object: loaded by the first target that needs it, with the maps every object
 * shares, and kept by the host until the agent ends.
 */
static int load_object(struct uvs_gc *g, struct uvs_bpf_shared *sh)
{
	struct gc_bpf *skel = gc_bpf__open();
	int err;

	if (!skel) {
		err = -errno;
		snprintf(g->why, sizeof(g->why), "cannot open the GC BPF object: %s",
			 strerror(-err));
		return err;
	}
	uvs_uprobe_set_prepare(&g->uprobes, skel->progs.uvs_gc_return);
	uvs_uprobe_set_prepare(&g->uprobes, skel->progs.uvs_gc_enter);
	err = uvs_bpf_shared_reuse(sh, skel->obj);
	if (!err)
		err = gc_bpf__load(skel);
	if (err) {
		snprintf(g->why, sizeof(g->why), "cannot load the GC BPF programs: %s",
			 strerror(-err));
		gc_bpf__destroy(skel);
		return err;
	}
	uvs_bpf_shared_set_object(sh, UVS_OBJ_GC, skel, destroy_skel);
	g->skel = skel;
	return 0;
}

static int load_and_attach(struct uvs_gc *g, const struct uvs_target *t,
			   const struct uvs_gc_sites *sites, struct uvs_bpf_shared *sh, int slot)
{
	int err;

	g->skel = uvs_bpf_shared_object(sh, UVS_OBJ_GC);
	if (g->skel)
		g->uprobes.multi = uvs_uprobe_multi_supported(); /* as when it was loaded */
	else if ((err = load_object(g, sh)))
		return err;
	g->sh = sh;
	g->slot = slot;
	/* The slot's figures start from zero: it may have served another process. */
	g->skel->bss->window_epoch[slot] = 0;
	g->skel->bss->threads_lost[slot] = 0;
	g->skel->bss->records_dropped[slot] = 0;
	err = add_probes(g, sites);
	if (!err)
		err = uvs_uprobe_set_attach(&g->uprobes, t->pid, sites->object->open_path);
	if (err)
		snprintf(g->why, sizeof(g->why), "cannot attach the GC uprobes: %s",
			 strerror(-err));
	return err;
}

void uvs_gc_attach(struct uvs_gc *g, const struct uvs_target *t, struct uvs_bpf_shared *sh,
		   int slot, const struct uvs_collect_sink *sink)
{
	struct uvs_gc_sites sites;

	memset(g, 0, sizeof(*g));
	g->target = t;
	g->sink = sink;
	g->slot = -1;
	g->history = calloc(1, sizeof(*g->history));
	if (!g->history) {
		snprintf(g->why, sizeof(g->why), "out of memory");
		return;
	}
	if (slot < 0 || slot >= UVS_MAX_TARGETS) {
		snprintf(g->why, sizeof(g->why), "no slot for the process");
		return;
	}
	if (uvs_gc_sites_find(t, &sites, g->why, sizeof(g->why)))
		return;
	if (load_and_attach(g, t, &sites, sh, slot)) {
		char why[sizeof(g->why)];

		memcpy(why, g->why, sizeof(why));
		uvs_gc_detach(g);
		memcpy(g->why, why, sizeof(why));
		return;
	}
	uvs_debug("V8's collector probed at %zu site%s in %s", sites.n, sites.n == 1 ? "" : "s",
		  sites.object->path);
	uvs_bpf_shared_set_inst(sh, slot, UVS_OBJ_GC, g);
	g->attached = true;
}

void uvs_gc_quiesce(struct uvs_gc *g)
{
	uvs_uprobe_set_detach(&g->uprobes);
}

void uvs_gc_detach(struct uvs_gc *g)
{
	uvs_uprobe_set_detach(&g->uprobes);
	/* Its threads leave the shared map: a later process may reuse their ids. */
	if (g->skel && g->sh && g->slot >= 0) {
		uvs_map_drop_process(g->skel->maps.gc_threads,
				     offsetof(struct uvs_gc_thread_key, tgid), (__u32)g->target->pid);
		uvs_bpf_shared_set_inst(g->sh, g->slot, UVS_OBJ_GC, NULL);
	}
	g->skel = NULL;
	g->sh = NULL;
	g->slot = -1;
	g->attached = false;
	free(g->history);
	g->history = NULL;
}

int uvs_gc_records_fd(const struct uvs_gc *g)
{
	return bpf_map__fd(g->skel->maps.gc_records);
}

int uvs_gc_record_from_event(const void *data, size_t len, struct uvs_gc_record *out,
			     pid_t *tgid)
{
	const struct uvs_gc_event *e = data;

	if (len < sizeof(*e) || e->end_ns < e->start_ns)
		return -EINVAL;
	*tgid = (pid_t)e->tgid;
	out->tid = (int)e->tid;
	out->major = e->collector == UVS_GC_MARK_COMPACTOR;
	out->start_ns = e->start_ns;
	out->end_ns = e->end_ns;
	return 0;
}

int uvs_gc_on_record(void *ctx, void *data, size_t len)
{
	struct uvs_record r = { .kind = UVS_RECORD_GC };
	const struct uvs_gc *g;
	pid_t tgid;

	if (uvs_gc_record_from_event(data, len, &r.gc, &tgid))
		return 0;
	/* A process the agent has just stopped watching has no instance any more: dropped. */
	g = uvs_bpf_shared_inst_of(ctx, tgid, UVS_OBJ_GC);
	if (!g || !g->sink || !g->sink->record)
		return 0;
	r.pid = g->target->pid;
	g->sink->record(g->sink->ctx, &r);
	return 0;
}

/*
 * Reads every thread's entry. Liveness is checked before the read, so a thread found gone has
 * made its last collection before the read; its entry then leaves the map (tids are reused).
 */
static void read_threads(struct uvs_gc *g, uint64_t closed)
{
	int fd = bpf_map__fd(g->skel->maps.gc_threads);
	struct uvs_gc_thread_key key, next;
	struct uvs_gc_snapshot cumulative;
	struct uvs_gc_thread th;
	uint64_t window_max;
	bool first = true, alive;

	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (key.tgid != (__u32)g->target->pid)
			continue; /* another watched process's thread */
		/* One /proc cannot speak for keeps its entry until a window that can. */
		alive = uvs_thread_presence(g->target->pid, (int)key.tid) != UVS_THREAD_GONE;
		if (bpf_map_lookup_elem(fd, &key, &th))
			continue;
		uvs_gc_thread_figures(&th, closed, &cumulative, &window_max);
		uvs_gc_history_read(g->history, (int)key.tid, &cumulative, window_max, !alive);
		if (th.nested)
			uvs_debug("thread %u started a collection inside another (%u times)",
				  key.tid, th.nested);
		if (!alive)
			bpf_map_delete_elem(fd, &key);
	}
}

static void losses(struct uvs_gc *g, struct uvs_agent_snapshot *agent, bool totals)
{
	uint64_t lost = g->skel->bss->threads_lost[g->slot] + g->history->unfit;
	uint64_t dropped = g->skel->bss->records_dropped[g->slot];

	agent->gc_threads_lost = totals ? g->prev_lost : lost - g->prev_lost;
	agent->gc_records_dropped = totals ? g->prev_dropped : dropped - g->prev_dropped;
	if (!totals) {
		g->prev_lost = lost;
		g->prev_dropped = dropped;
	}
}

void uvs_gc_window(struct uvs_gc *g, struct uvs_snapshot *s)
{
	uint64_t closed;

	if (!g->attached)
		return;
	/* Close the window first: later collections keep their maximum in the other slot. */
	closed = g->skel->bss->window_epoch[g->slot];
	__atomic_store_n(&g->skel->bss->window_epoch[g->slot], closed + 1, __ATOMIC_SEQ_CST);
	read_threads(g, closed);
	uvs_gc_history_place(g->history, s);
	losses(g, &s->agent, false);
}

void uvs_gc_totals(struct uvs_gc *g, struct uvs_snapshot *s)
{
	if (!g->attached)
		return;
	uvs_gc_history_totals(g->history, s);
	losses(g, &s->agent, true);
}
