// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util/log.h"
#include "collect/map_sweep.h"
#include "collect/pool.h"
#include "util/clock.h"
#include "util/text.h"
#include "pool.skel.h"
#include "target/procfs.h"

/* The program of each kind of site. */
static struct bpf_program *program(struct uvs_pool *p, enum uvs_pool_prog prog)
{
	switch (prog) {
	case UVS_POOL_PROG_SUBMIT:
		return p->skel->progs.uvs_pool_submit;
	case UVS_POOL_PROG_QUEUE_WORK:
		return p->skel->progs.uvs_pool_queue_work;
	case UVS_POOL_PROG_WORK:
		return p->skel->progs.uvs_pool_work_enter;
	case UVS_POOL_PROG_DONE:
		return p->skel->progs.uvs_pool_done;
	}
	return NULL;
}

/* What the programs must know of this process's binary: its part of the configuration. */
static void configure(struct uvs_pool *p, const struct uvs_target *t, struct uvs_target_cfg *cfg)
{
	const struct uvs_pool_plan *plan = &p->plan;
	struct uvs_elf_symbol sym;
	int i;

	for (i = 0; i < UVS_POOL_FNS; i++)
		cfg->pool_fn_addr[i] = plan->fn_addr[i];
	cfg->pool_node_work_cb = plan->node_work_cb;
	if (!plan->node_work_cb)
		uvs_debug("node's ThreadPoolWork callback not found: crypto and zlib work show as "
			  "\"other\"");
	cfg->pool_cpu_at_node_cb = plan->cpu_at_node_cb;
	cfg->pool_track_done = plan->track_done;
	if (uvs_elf_find_object(t->uv.elf, "nthreads", &sym) == 0)
		p->nthreads_addr = sym.addr + t->uv.bias;
}

/* Where each probe went and what it costs, for -v. */
static void say_sites(const struct uvs_pool_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->nsites; i++) {
		const struct uvs_pool_site *s = &plan->sites[i];

		uvs_debug("pool: %s at +%llu (`%s`, %s)%s%s", s->name,
			  (unsigned long long)s->offset, s->at.insn,
			  s->at.emulated ? "emulated" : "single-stepped", s->why[0] ? ": " : "",
			  s->why);
	}
	if (!plan->cpu_at_node_cb)
		uvs_debug("pool: CPU work at uv__queue_work: %s", plan->cpu_why);
	if (!plan->track_done)
		uvs_debug("pool: the done callbacks cannot all be probed (%s): no completion delay",
			  plan->done_why);
}

static int add_all(struct uvs_pool *p)
{
	size_t i;
	int err = 0;

	for (i = 0; i < p->plan.nsites && !err; i++) {
		const struct uvs_pool_site *s = &p->plan.sites[i];
		struct bpf_program *prog = program(p, s->prog);

		err = uvs_uprobe_set_add(&p->uprobes, prog, s->file_offset, s->cookie, false);
		if (!err && s->prog == UVS_POOL_PROG_WORK)
			err = uvs_uprobe_set_add(&p->uprobes, p->skel->progs.uvs_pool_work_return,
						 s->file_offset, s->cookie, true);
	}
	return err;
}

static int attach_all(struct uvs_pool *p, const struct uvs_target *t)
{
	int err = add_all(p);

	if (err) {
		snprintf(p->why, sizeof(p->why), "cannot add the pool uprobes: %s", strerror(-err));
		return err;
	}
	err = uvs_uprobe_set_attach(&p->uprobes, t->pid, t->uv.open_path);
	if (err)
		snprintf(p->why, sizeof(p->why), "cannot attach the pool uprobes: %s",
			 strerror(-err));
	return err;
}

static void destroy_skel(void *skel)
{
	pool_bpf__destroy(skel);
}

/*
 * The agent's pool object: loaded by the first target that needs it, with the maps every
 * object shares (the loop object's map of loop threads places sync fs calls, pool.bpf.c), and
 * kept by the host until the agent ends. Every program is a uprobe, readied for the kind of
 * link the uprobe sets use (the same for every target: the kernel decides).
 */
static struct pool_bpf *load_object(struct uvs_pool *p, struct uvs_bpf_shared *sh,
				    bool job_records)
{
	struct pool_bpf *skel = pool_bpf__open();
	struct bpf_program *prog;
	int err;

	if (!skel) {
		snprintf(p->why, sizeof(p->why), "cannot open the pool BPF object: %s",
			 strerror(errno));
		return NULL;
	}
	bpf_object__for_each_program(prog, skel->obj)
		uvs_uprobe_set_prepare(&p->uprobes, prog);
	skel->rodata->job_events = job_records;
	err = uvs_bpf_shared_reuse(sh, skel->obj);
	if (!err)
		err = pool_bpf__load(skel);
	if (err) {
		snprintf(p->why, sizeof(p->why), "cannot load the pool BPF programs: %s",
			 strerror(-err));
		pool_bpf__destroy(skel);
		return NULL;
	}
	uvs_bpf_shared_set_object(sh, UVS_OBJ_POOL, skel, destroy_skel);
	return skel;
}

/*
 * This slot's statistics start from zero (a slot may have served another process): a fresh
 * entry, which is also what lets the programs count the process once it is published.
 */
static int reset_slot(struct uvs_pool *p)
{
	__u32 key = (__u32)p->slot;
	__u64 zero = 0;

	memset(p->now, 0, sizeof(*p->now));
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.pool_stats), &key, p->now, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(p->skel->maps.queued_max), &key, &zero, BPF_ANY)) {
		snprintf(p->why, sizeof(p->why), "cannot set up the pool statistics: %s",
			 strerror(errno));
		return -errno;
	}
	return 0;
}

void uvs_pool_attach(struct uvs_pool *p, const struct uvs_target *t, struct uvs_bpf_shared *sh,
		     int slot, struct uvs_target_cfg *cfg, bool job_records,
		     const struct uvs_collect_sink *sink)
{
	memset(p, 0, sizeof(*p));
	p->target = t;
	p->sink = sink;
	p->slot = -1;
	p->now = calloc(1, sizeof(*p->now));
	p->history = calloc(1, sizeof(*p->history));
	if (!p->now || !p->history) {
		snprintf(p->why, sizeof(p->why), "out of memory");
		return;
	}
	if (slot < 0 || slot >= UVS_MAX_TARGETS) {
		snprintf(p->why, sizeof(p->why), "no slot for the process");
		return;
	}
	if (uvs_pool_plan_make(&p->plan, t, p->why, sizeof(p->why)))
		return;
	say_sites(&p->plan);
	p->skel = uvs_bpf_shared_object(sh, UVS_OBJ_POOL);
	if (p->skel)
		p->uprobes.multi = uvs_uprobe_multi_supported(); /* as when it was loaded */
	else if (!(p->skel = load_object(p, sh, job_records)))
		return;
	p->sh = sh;
	p->slot = slot;
	if (reset_slot(p) || attach_all(p, t)) {
		char why[sizeof(p->why)];

		memcpy(why, p->why, sizeof(why));
		uvs_pool_detach(p);
		memcpy(p->why, why, sizeof(why));
		return;
	}
	configure(p, t, cfg);
	uvs_bpf_shared_set_inst(sh, slot, UVS_OBJ_POOL, p);
	p->attached = true;
	uvs_pool_history_init(p->history, uvs_now_mono());
}

void uvs_pool_hooks(const struct uvs_pool *p, struct uvs_pool_hooks *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->sites = p->plan.nsites;
	out->cpu_work = p->plan.cpu_at_node_cb ? "node_callbacks" : "uv__queue_work";
	out->cpu_work_why = p->plan.cpu_at_node_cb ? NULL : p->plan.cpu_why;
	for (i = 0; i < p->plan.nsites && out->nstepped < UVS_POOL_HOOKS_MAX; i++)
		if (!p->plan.sites[i].at.emulated)
			out->stepped[out->nstepped++] = p->plan.sites[i].name;
}

void uvs_pool_quiesce(struct uvs_pool *p)
{
	uvs_uprobe_set_detach(&p->uprobes);
}

/*
 * What this process left in the shared maps, once its uprobes are gone: its statistics, jobs
 * in flight and host names (a later process may get its slot or its pid). Its threads' entries
 * in `running` are told apart by their tgid and leave the LRU in their turn.
 */
static void forget(struct uvs_pool *p)
{
	__u32 key = (__u32)p->slot, tgid = (__u32)p->target->pid;

	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.pool_stats), &key);
	uvs_map_drop_process(p->skel->maps.jobs, offsetof(struct uvs_pool_job_key, tgid), tgid);
	uvs_map_drop_process(p->skel->maps.dns_names, offsetof(struct uvs_dns_key, tgid), tgid);
	uvs_bpf_shared_set_inst(p->sh, p->slot, UVS_OBJ_POOL, NULL);
}

void uvs_pool_detach(struct uvs_pool *p)
{
	uvs_uprobe_set_detach(&p->uprobes);
	if (p->skel && p->sh && p->slot >= 0)
		forget(p);
	p->skel = NULL;
	p->sh = NULL;
	p->slot = -1;
	p->attached = false;
	free(p->now);
	free(p->history);
	p->now = NULL;
	p->history = NULL;
}

static uint32_t pool_size(const struct uvs_pool *p, const struct uvs_target *t)
{
	uint32_t n = 0;
	size_t i;

	if (p->nthreads_addr && uvs_read_mem(t->pid, p->nthreads_addr, &n, sizeof(n)) == 0 &&
	    n <= 1024)
		return n;
	for (i = n = 0; i < t->nthreads; i++)
		n += t->threads[i].role == UVS_ROLE_THREADPOOL;
	return n;
}

static uint64_t read_queued_max(struct uvs_pool *p)
{
	__u32 key = (__u32)p->slot;
	__u64 max = 0;

	bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.queued_max), &key, &max);
	return max;
}

/* The next window's maximum starts from what is queued now. */
static void reset_queued_max(struct uvs_pool *p)
{
	__u64 max = p->now->queued > 0 ? (__u64)p->now->queued : 0;
	__u32 key = (__u32)p->slot;

	bpf_map_update_elem(bpf_map__fd(p->skel->maps.queued_max), &key, &max, BPF_ANY);
}

/*
 * libuv 1.45 to 1.47 (Node 20) send fs requests to io_uring when UV_USE_IO_URING=1, and then
 * they never reach the pool. Later versions use io_uring for fs only with a loop flag Node
 * does not set (and for epoll_ctl batching, which is not pool work). So for those versions an
 * io_uring fd in the process means its fs work bypasses the pool.
 */
bool uvs_pool_wants_io_uring_check(const struct uvs_pool *p)
{
	uint32_t v = p->target ? p->target->libuv_hex : 0;

	return p->attached && !p->fs_io_uring && v >= 0x012d00 && v < 0x013000;
}

/*
 * This process's most looked-up host names (the map has every watched process's), sanitized
 * as they are read (the target chose them).
 */
static void dns_names(struct uvs_pool *p, struct uvs_pool_snapshot *out, bool cumulative)
{
	int fd = bpf_map__fd(p->skel->maps.dns_names);
	struct uvs_dns_key key, next;
	char name[UVS_DNS_NAME_LEN];
	bool first = true;
	__u64 count;

	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (key.tgid != (__u32)p->target->pid || bpf_map_lookup_elem(fd, &key, &count))
			continue;
		memcpy(name, key.name, sizeof(name));
		name[sizeof(name) - 1] = '\0';
		uvs_sanitize(name, sizeof(name));
		uvs_pool_dns_name(p->history, name, count, cumulative, out);
	}
}

static void losses(const struct uvs_pool_stats *now, const struct uvs_pool_stats *before,
		   struct uvs_agent_snapshot *agent)
{
	agent->pool_jobs_lost = now->lost >= before->lost ? now->lost - before->lost : 0;
	agent->pool_jobs_unfollowed = now->unfollowed >= before->unfollowed ?
					      now->unfollowed - before->unfollowed : 0;
	agent->pool_records_dropped = now->job_event_drops >= before->job_event_drops ?
					      now->job_event_drops - before->job_event_drops : 0;
}

void uvs_pool_window(struct uvs_pool *p, bool io_uring_seen, struct uvs_pool_snapshot *out,
		     struct uvs_agent_snapshot *agent)
{
	struct uvs_pool_reading r;
	__u32 key;

	memset(out, 0, sizeof(*out));
	key = (__u32)p->slot;
	if (!p->attached || bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.pool_stats), &key, p->now))
		return;
	p->fs_io_uring |= io_uring_seen;
	r = (struct uvs_pool_reading){ .now = p->now, .queued_max = read_queued_max(p),
				       .size = pool_size(p, p->target), .fs_io_uring = p->fs_io_uring,
				       .now_mono = uvs_now_mono() };
	losses(p->now, &p->history->prev, agent);
	uvs_pool_window_math(p->history, &r, out);
	dns_names(p, out, false);
	reset_queued_max(p);
}

uint64_t uvs_pool_probe_hits(const struct uvs_pool *p, const struct uvs_pool_snapshot *w)
{
	/* A job: its submit, the entry and return of its work function, and its done callback. */
	uint64_t per_job = 3 + (p->plan.track_done ? 1 : 0);

	if (!p->attached)
		return 0;
	/* A sync fs call: the entry and return of uv__fs_work. */
	return w->submitted * per_job + (w->sync_fs_on_loop + w->sync_fs_other) * 2;
}

void uvs_pool_totals(struct uvs_pool *p, struct uvs_pool_snapshot *out,
		     struct uvs_agent_snapshot *agent)
{
	static const struct uvs_pool_stats none;
	struct uvs_pool_reading r;

	memset(out, 0, sizeof(*out));
	if (!p->attached)
		return;
	/* As of the last window: the history's copy of it. */
	r = (struct uvs_pool_reading){ .now = &p->history->prev, .queued_max = 0,
				       .size = pool_size(p, p->target), .fs_io_uring = p->fs_io_uring,
				       .now_mono = p->history->last_window_mono };
	losses(&p->history->prev, &none, agent);
	uvs_pool_totals_math(p->history, &r, out);
	dns_names(p, out, true);
}

int uvs_pool_records_fd(const struct uvs_pool *p)
{
	return bpf_map__fd(p->skel->maps.job_records);
}

int uvs_pool_record_from_event(const void *data, size_t len, struct uvs_pool_job_record *out,
			       pid_t *tgid)
{
	const struct uvs_pool_job_event *e = data;

	if (len < sizeof(*e) || e->kind >= UVS_POOL_KINDS)
		return -EINVAL;
	*tgid = (pid_t)e->tgid;
	out->tid = (int)e->tid;
	out->kind = (enum uvs_pool_kind)e->kind;
	out->fs_type = e->kind == UVS_POOL_FS ? e->fs_type : -1;
	out->wait_ns = e->wait_ns;
	out->service_ns = e->service_ns;
	/* The end of service, moved from the monotonic clock to the wall clock. */
	out->ts_ns = uvs_mono_to_real(e->end_ns);
	return 0;
}

int uvs_pool_on_record(void *ctx, void *data, size_t len)
{
	struct uvs_record r = { .kind = UVS_RECORD_POOL_JOB };
	const struct uvs_pool *p;
	pid_t tgid;

	if (uvs_pool_record_from_event(data, len, &r.pool_job, &tgid))
		return 0;
	/* A process the agent has just stopped watching has no instance any more: dropped. */
	p = uvs_bpf_shared_inst_of(ctx, tgid, UVS_OBJ_POOL);
	if (!p || !p->sink || !p->sink->record)
		return 0;
	r.pid = p->target->pid;
	p->sink->record(p->sink->ctx, &r);
	return 0;
}
