/* SPDX-License-Identifier: MIT */
/*
 * The libuv thread pool: attaching its uprobes (bpf/pool.bpf.c) to the target and turning the
 * cumulative BPF statistics into per-window figures. Formats nothing.
 */
#ifndef UVSCOPE_POOL_PROBES_H
#define UVSCOPE_POOL_PROBES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/snapshot.h"
#include "target/process.h"
#include "target/uprobe_set.h"
#include "uvscope/pool.h"

struct pool_bpf;
struct bpf_link;

/* A host name's lookup count at the last window. */
struct uvs_dns_seen {
	uint64_t hash;
	uint64_t count;
	char name[UVS_DNS_NAME_LEN];
};

struct uvs_pool {
	struct pool_bpf *skel;
	struct uvs_uprobe_set uprobes; /* submit, work entry and return, done callbacks */
	bool attached;
	bool fs_io_uring;        /* seen: fs work goes to io_uring, not the pool */
	char why[320];           /* why the pool is not measured, when it is not */
	uint64_t nthreads_addr;  /* runtime address of libuv's `nthreads` static, 0 if unknown */
	struct uvs_pool_stats *prev; /* cumulative statistics at the last window */
	struct uvs_pool_stats *now;
	uint64_t prev_queued_time;   /* queued time (incl. a running span) at the last window */
	uint64_t last_window_mono;
	uint64_t start_mono;
	uint64_t sync_prev_loop;     /* sync fs figures at the last window (cumulative in BPF) */
	uint64_t sync_prev_loop_ns;
	uint64_t sync_prev_other;
	size_t nseen;
	struct uvs_dns_seen *seen;   /* UVS_DNS_MAX_NAMES entries */
};

/*
 * Attaches the pool probes; on failure p->attached is false and p->why says why. With
 * job_records, every served job is also sent to the agent (uvs_pool_records_fd).
 */
void uvs_pool_attach(struct uvs_pool *p, const struct uvs_target *t, bool job_records);

/* The ring buffer of per-job records. */
int uvs_pool_records_fd(const struct uvs_pool *p);

/* Turns one ring-buffer record into a uvs_pool_job_record; -EINVAL when malformed. */
int uvs_pool_record_from_event(const void *data, size_t len, struct uvs_pool_job_record *out);

/* Detaches and frees; safe on a zeroed struct. */
void uvs_pool_detach(struct uvs_pool *p);

/*
 * Fills *out with the window since the last call (cumulative = false) or with the session
 * (cumulative = true, after a last window). Sync fs calls are split by the threads' roles.
 */
void uvs_pool_window(struct uvs_pool *p, struct uvs_target *t, struct uvs_pool_snapshot *out,
		     bool cumulative);

#endif
