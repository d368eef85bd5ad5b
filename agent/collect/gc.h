/* SPDX-License-Identifier: MIT */
/*
 * V8's garbage collections (bpf/gc.bpf.c): finding and probing the collector in the target,
 * reading each thread's figures every window (the math is collect/gc_window.c), and handing
 * on one record per collection. Formats nothing.
 *
 * The BPF object is the agent's, shared by every target (collect/bpf_shared.h): the first
 * target's attach loads it, later ones take it from the host; each target has its uprobes,
 * its slot's figures and its threads' entries, and nothing else.
 */
#ifndef UVSCOPE_COLLECT_GC_H
#define UVSCOPE_COLLECT_GC_H

#include <stdbool.h>
#include <stddef.h>

#include "collect/bpf_shared.h"
#include "collect/collector.h"
#include "collect/gc_window.h"
#include "core/snapshot.h"
#include "target/process.h"
#include "target/uprobe_set.h"

struct gc_bpf;

struct uvs_gc {
	struct gc_bpf *skel;             /* the host's (not freed here) */
	struct uvs_bpf_shared *sh;
	int slot;                        /* the target's slot in sh */
	const struct uvs_target *target;
	const struct uvs_collect_sink *sink;
	struct uvs_uprobe_set uprobes;
	bool attached;
	char why[320];                   /* why collections are not measured, when they are not */
	struct uvs_gc_history *history;
	uint64_t prev_lost, prev_dropped; /* loss counters at the last window */
};

/*
 * Probes the collector of the target's V8 (t, slot `slot` of sh); on failure g->attached is
 * false and g->why says why in one sentence. Records go to sink->record (it may be NULL).
 * The object is loaded with the first target and shares the loop object's maps, so those must
 * have been handed to sh first.
 */
void uvs_gc_attach(struct uvs_gc *g, const struct uvs_target *t, struct uvs_bpf_shared *sh,
		   int slot, const struct uvs_collect_sink *sink);

/*
 * quiesce removes this target's uprobes; detach also clears its threads from the shared map
 * and frees. Neither touches the object or another target. Safe on a zeroed struct.
 */
void uvs_gc_quiesce(struct uvs_gc *g);
void uvs_gc_detach(struct uvs_gc *g);

/*
 * The ring buffer of per-collection records (one for every target), and its callback (ctx:
 * the struct uvs_bpf_shared; a record goes to the instance of its process, if it has one).
 */
int uvs_gc_records_fd(const struct uvs_gc *g);
int uvs_gc_on_record(void *ctx, void *data, size_t len);

/*
 * Turns one ring-buffer record into a uvs_gc_record, and its process into *tgid; -EINVAL when
 * malformed.
 */
int uvs_gc_record_from_event(const void *data, size_t len, struct uvs_gc_record *out,
			     pid_t *tgid);

/*
 * Fills loops[].gc of s (its loops already filled for the window) and the GC losses in
 * s->agent, and closes the window.
 */
void uvs_gc_window(struct uvs_gc *g, struct uvs_snapshot *s);

/* The same for the session, as of the last window. */
void uvs_gc_totals(struct uvs_gc *g, struct uvs_snapshot *s);

#endif
