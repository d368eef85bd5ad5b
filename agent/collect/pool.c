// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util/log.h"
#include "collect/map_sweep.h"
#include "collect/pool.h"
#include "util/clock.h"
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
	case UVS_POOL_PROG_API:
		return p->skel->progs.uvs_pool_api;
	case UVS_POOL_PROG_QUEUE_WORK2:
		return p->skel->progs.uvs_pool_queue_work2;
	case UVS_POOL_PROG_END:
		return p->skel->progs.uvs_pool_end;
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
	cfg->pool_confirm_fs = plan->confirm_fs;
	if (uvs_elf_find_object(t->uv.elf, "nthreads", &sym) == 0)
		p->nthreads_addr = sym.addr + t->uv.bias;
	if (uvs_elf_find_object(t->uv.elf, "idle_threads", &sym) == 0)
		p->idle_threads_addr = sym.addr + t->uv.bias;
	if (uvs_elf_find_object(t->uv.elf, "wq", &sym) == 0 && sym.size == 16)
		p->wq_addr = sym.addr + t->uv.bias;
	if (uvs_elf_find_object(t->uv.elf, "slow_io_pending_wq", &sym) == 0 && sym.size == 16)
		p->slow_wq_addr = sym.addr + t->uv.bias;
	cfg->pool_nthreads_addr = p->nthreads_addr;
}

/* Where each probe went and what it costs, for -v. */
static void say_sites(const struct uvs_pool_plan *plan)
{
	size_t i;

	if (plan->two_probe)
		uvs_debug("pool: 2-probe plan: submit at libuv's entry points (uprobe sessions), end "
			  "of service in worker() at 0x%llx (`%s`, the job's uv__work is %s%+lld); "
			  "%u hits per job%s", (unsigned long long)plan->worker.addr, plan->worker.insn,
			  plan->worker.reg_name, (long long)plan->worker.disp,
			  uvs_pool_plan_hits_per_job(plan),
			  plan->confirm_fs ? " (fs: 3, io_uring may take it: confirmed at return)" : "");
	else
		uvs_debug("pool: 4-probe plan (%s): %u hits per job", plan->plan_why,
			  uvs_pool_plan_hits_per_job(plan));

	for (i = 0; i < plan->nsites; i++) {
		const struct uvs_pool_site *s = &plan->sites[i];

		uvs_debug("pool: %s at +%llu (`%s`, %s)%s%s", s->name,
			  (unsigned long long)s->offset, s->at.insn,
			  s->at.emulated ? "emulated" : "single-stepped", s->why[0] ? ": " : "",
			  s->why);
	}
	if (!plan->cpu_at_node_cb && !plan->two_probe)
		uvs_debug("pool: CPU work at uv__queue_work: %s", plan->cpu_why);
	if (!plan->track_done && plan->delay_asked)
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

		if (s->prog == UVS_POOL_PROG_API)
			err = uvs_uprobe_set_add_session(&p->uprobes, prog, s->file_offset, s->cookie);
		else
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
	/*
	 * The 2-probe plan's programs only where it can be used: the session program calls the
	 * session kfuncs, and the end of service uses task storage, which older kernels do not
	 * give uprobe programs; the 4-probe plan must load without them.
	 */
	if (uvs_uprobe_session_supported()) {
		uvs_uprobe_set_prepare_session(skel->progs.uvs_pool_api);
	} else {
		bpf_program__set_autoload(skel->progs.uvs_pool_api, false);
		bpf_program__set_autoload(skel->progs.uvs_pool_queue_work2, false);
		bpf_program__set_autoload(skel->progs.uvs_pool_end, false);
	}
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

/* The size of the shared mapping of the jobs in flight (whole pages, as the kernel maps it). */
static size_t jobs_map_len(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct uvs_pool_job) * UVS_POOL_MAX_JOBS + page - 1) / page * page;
}

/*
 * The table of jobs in flight, mapped into the agent (BPF_F_MMAPABLE): the sweep and forget()
 * give entries back with the same compare-and-swap the programs use, which a map update from
 * user space could not (it copies a whole entry over whatever a program just wrote).
 */
static int map_jobs(struct uvs_pool *p)
{
	void *m = mmap(NULL, jobs_map_len(), PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(p->skel->maps.jobs), 0);

	if (m == MAP_FAILED) {
		snprintf(p->why, sizeof(p->why), "cannot map the pool's jobs in flight: %s",
			 strerror(errno));
		return -errno;
	}
	p->jobs = m;
	return 0;
}

/*
 * Lookups per interval whose host name is counted exactly: UVS_DNS_NAMES_EXACT, or
 * UVSCOPE_DNS_NAMES_EXACT (0 to 1000000, for tests and comparisons).
 */
static __s64 dns_names_exact(void)
{
	const char *v = getenv("UVSCOPE_DNS_NAMES_EXACT");
	char *end;
	long n;

	if (!v || !*v)
		return UVS_DNS_NAMES_EXACT;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < 0 || n > 1000000)
		return UVS_DNS_NAMES_EXACT;
	return n;
}

/*
 * This slot's statistics start from zero (a slot may have served another process): a map of its
 * own (pool.bpf.c's pool_stats), put at the slot, which is also what lets the programs count
 * the process once it is published.
 */
static int reset_slot(struct uvs_pool *p)
{
	struct uvs_pool_gauge gauge = { 0 };
	struct uvs_pool_work_names names = { 0 };
	__u32 key = (__u32)p->slot, first = 0;
	__s64 names_left = dns_names_exact();
	__u64 zero = 0;

	memset(p->now, 0, sizeof(*p->now));
	p->stats_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "uvs_pool_stats", sizeof(__u32),
				     sizeof(struct uvs_pool_stats), 1, NULL);
	if (p->stats_fd < 0 ||
	    bpf_map_update_elem(p->stats_fd, &first, p->now, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(p->skel->maps.pool_stats), &key, &p->stats_fd,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(p->skel->maps.queued_max), &key, &zero, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(p->skel->maps.pool_gauge), &key, &gauge, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(p->skel->maps.dns_names_left), &key, &names_left,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(p->skel->maps.work_names), &key, &names, BPF_ANY)) {
		snprintf(p->why, sizeof(p->why), "cannot set up the pool statistics: %s",
			 strerror(errno));
		return -errno;
	}
	return 0;
}

void uvs_pool_attach(struct uvs_pool *p, const struct uvs_target *t, struct uvs_bpf_shared *sh,
		     int slot, struct uvs_target_cfg *cfg, bool job_records, bool delay,
		     const struct uvs_collect_sink *sink)
{
	memset(p, 0, sizeof(*p));
	p->busy_at_window = -1;
	p->stats_fd = -1;
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
	if (uvs_pool_plan_make(&p->plan, t, uvs_uprobe_session_supported(), delay, p->why,
			       sizeof(p->why)))
		return;
	say_sites(&p->plan);
	p->skel = uvs_bpf_shared_object(sh, UVS_OBJ_POOL);
	if (p->skel)
		p->uprobes.multi = uvs_uprobe_multi_supported(); /* as when it was loaded */
	else if (!(p->skel = load_object(p, sh, job_records)))
		return;
	p->sh = sh;
	p->slot = slot;
	if (map_jobs(p) || reset_slot(p) || attach_all(p, t)) {
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
	/* What the overhead guard needs to take the probes out and put them back. */
	uvs_pool_statics_attach(&p->statics, t);
	p->file_fd = open(t->uv.open_path, O_PATH | O_CLOEXEC);
	p->file_held = p->file_fd >= 0;
	if (!p->statics.available)
		uvs_debug("pool: the guard cannot take its probes out: %s", p->statics.why);
	else if (!p->plan.two_probe)
		uvs_debug("pool: the guard cannot take the 4-probe plan's probes out (jobs in flight "
			  "as they came back would count as sync fs calls)");
}

void uvs_pool_hooks(const struct uvs_pool *p, struct uvs_pool_hooks *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->sites = p->plan.nsites;
	out->plan = p->plan.two_probe ? "2-probe" : "4-probe";
	out->plan_why = p->plan.two_probe ? NULL : p->plan.plan_why;
	out->hits_per_job = uvs_pool_plan_hits_per_job(&p->plan);
	out->delay = p->plan.track_done;
	out->delay_why = p->plan.track_done ? NULL : p->plan.done_why;
	out->fs_confirmed = p->plan.confirm_fs;
	if (p->plan.two_probe) {
		out->cpu_work = "worker";
		out->cpu_work_why = NULL;
	} else {
		out->cpu_work = p->plan.cpu_at_node_cb ? "node_callbacks" : "uv__queue_work";
		out->cpu_work_why = p->plan.cpu_at_node_cb ? NULL : p->plan.cpu_why;
	}
	for (i = 0; i < p->plan.nsites && out->nstepped < UVS_POOL_HOOKS_MAX; i++)
		if (!p->plan.sites[i].at.emulated)
			out->stepped[out->nstepped++] = p->plan.sites[i].name;
}

void uvs_pool_start(struct uvs_pool *p)
{
	/* The programs count the process from now (its publication): the first window too. */
	if (p->attached)
		uvs_pool_history_init(p->history, uvs_now_mono());
}

void uvs_pool_mark_end(struct uvs_pool *p)
{
	if (!p->end_mono)
		p->end_mono = uvs_now_mono();
}

void uvs_pool_quiesce(struct uvs_pool *p)
{
	uvs_pool_mark_end(p);
	uvs_uprobe_set_detach(&p->uprobes);
}

/*
 * Gives back every entry of the jobs in flight that the process at p's slot holds and that
 * `drop` accepts (the programs' own compare-and-swap: an entry a program gave back meanwhile
 * stays with whoever took it next). Returns how many.
 */
static uint64_t give_back_jobs(struct uvs_pool *p,
			       bool (*drop)(const struct uvs_pool_job *, uint64_t), uint64_t arg)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; p->jobs && i < UVS_POOL_MAX_JOBS; i++) {
		struct uvs_pool_job *j = &p->jobs[i];
		__u64 owner = __atomic_load_n(&j->owner, __ATOMIC_ACQUIRE);

		if (!owner || uvs_pool_job_owner_slot(owner) != p->slot || !drop(j, arg))
			continue;
		if (__atomic_compare_exchange_n(&j->owner, &owner, 0, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			n++;
	}
	return n;
}

static bool any_job(const struct uvs_pool_job *j, uint64_t arg)
{
	(void)j;
	(void)arg;
	return true;
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
	if (p->stats_fd >= 0)
		close(p->stats_fd);
	p->stats_fd = -1;
	give_back_jobs(p, any_job, 0);
	uvs_map_drop_process(p->skel->maps.dns_names, offsetof(struct uvs_dns_key, tgid), tgid);
	uvs_bpf_shared_set_inst(p->sh, p->slot, UVS_OBJ_POOL, NULL);
}

void uvs_pool_detach(struct uvs_pool *p)
{
	uvs_uprobe_set_detach(&p->uprobes);
	if (p->file_held)
		close(p->file_fd);
	p->file_held = false;
	if (p->skel && p->sh && p->slot >= 0)
		forget(p);
	if (p->jobs)
		munmap(p->jobs, jobs_map_len());
	p->jobs = NULL;
	p->skel = NULL;
	p->sh = NULL;
	p->slot = -1;
	p->attached = false;
	free(p->now);
	free(p->history);
	p->now = NULL;
	p->history = NULL;
}

/*
 * The pool's size: libuv's nthreads, else its threads by role. Once started the pool keeps its
 * size until libuv's shutdown at the process's exit zeroes nthreads and ends the threads: a
 * last window read then still says how large the pool was, not "not started".
 */
static uint32_t pool_size(struct uvs_pool *p, const struct uvs_target *t)
{
	uint32_t n = 0;
	size_t i;

	if (!p->nthreads_addr || uvs_read_mem(t->pid, p->nthreads_addr, &n, sizeof(n)) != 0 ||
	    n > 1024)
		for (i = n = 0; i < t->nthreads; i++)
			n += t->threads[i].role == UVS_ROLE_THREADPOOL;
	if (n)
		p->size_seen = n;
	return n ? n : p->size_seen;
}

static uint64_t read_queued_max(struct uvs_pool *p)
{
	__u32 key = (__u32)p->slot;
	__u64 max = 0;

	bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.queued_max), &key, &max);
	return max;
}

/* The next window's maximum starts from what is queued (2-probe plan: in flight) now. */
static void reset_queued_max(struct uvs_pool *p)
{
	__u64 max = p->now->queued > 0 ? (__u64)p->now->queued : 0;

	if (p->plan.two_probe)
		max = (__u64)(p->now->queued + p->now->running);
	__u32 key = (__u32)p->slot;

	bpf_map_update_elem(bpf_map__fd(p->skel->maps.queued_max), &key, &max, BPF_ANY);
}

/*
 * libuv 1.45 to 1.47 (Node 20) send fs requests to io_uring when UV_USE_IO_URING=1, and then
 * they never reach the pool. Later versions use io_uring for fs only with a loop flag Node
 * does not set (and for epoll_ctl batching, which is not pool work). So for those versions an
 * io_uring fd in the process means its fs work bypasses the pool.
 */
static bool fs_may_go_to_io_uring(const struct uvs_pool *p)
{
	uint32_t v = p->target ? p->target->libuv_hex : 0;

	return p->attached && v >= 0x012d00 && v < 0x013000;
}

bool uvs_pool_wants_io_uring_check(const struct uvs_pool *p)
{
	return fs_may_go_to_io_uring(p) && !p->fs_io_uring;
}

/*
 * This process's most looked-up host names (the map has every watched process's). The window
 * math sanitizes them (the target chose them) once their counts are told apart by their raw
 * bytes.
 */
static void dns_names(struct uvs_pool *p, struct uvs_pool_snapshot *out, bool cumulative)
{
	int fd = bpf_map__fd(p->skel->maps.dns_names);
	struct uvs_dns_key key, next;
	bool first = true;
	__u64 count;

	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (key.tgid != (__u32)p->target->pid || bpf_map_lookup_elem(fd, &key, &count))
			continue;
		uvs_pool_dns_name(p->history, key.name, count, cumulative);
	}
	uvs_pool_dns_names_done(p->history, out);
}

/*
 * The host names' budget for the next interval: exact counts for its first UVS_DNS_NAMES_EXACT
 * lookups, then a random one in UVS_DNS_NAME_STRIDE (bpf/pool.bpf.c, dns_name_weight). Says
 * whether this interval's ran out, so that its counts are estimates.
 */
static bool dns_names_budget(struct uvs_pool *p)
{
	int fd = bpf_map__fd(p->skel->maps.dns_names_left);
	__s64 left = 0, full = dns_names_exact();
	__u32 key = (__u32)p->slot;
	bool ran_out = bpf_map_lookup_elem(fd, &key, &left) == 0 && left < 0;

	/* A lookup between the two loses its decrement: one more counted exactly, no harm. */
	bpf_map_update_elem(fd, &key, &full, BPF_ANY);
	p->dns_estimated |= ran_out;
	return ran_out;
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

/*
 * libuv's own view of its pool, from its statics: every thread idle and both queues empty
 * means no job is queued or served. One read each (not atomic together; see sweep()).
 */
static bool libuv_pool_idle(const struct uvs_pool *p, uint32_t size)
{
	uint64_t wq_next = 0, slow_next = 0;
	uint32_t idle = 0;
	pid_t pid = p->target->pid;

	if (!size || !p->idle_threads_addr || !p->wq_addr ||
	    uvs_read_mem(pid, p->idle_threads_addr, &idle, sizeof(idle)) ||
	    uvs_read_mem(pid, p->wq_addr, &wq_next, sizeof(wq_next)) ||
	    (p->slow_wq_addr && uvs_read_mem(pid, p->slow_wq_addr, &slow_next, sizeof(slow_next))))
		return false;
	return idle == size && wq_next == p->wq_addr && (!p->slow_wq_addr || slow_next == p->slow_wq_addr);
}

/* A job is taken for one that never reached the pool once it is this old in an idle pool. */
#define SWEEP_AGE_NS 10000000ull

/* Submitted more than SWEEP_AGE_NS before `seen` and not served (an owner read first: the
 * rest was filled before it was published, pool_jobs.bpf.h). */
static bool never_reached_pool(const struct uvs_pool_job *j, uint64_t seen)
{
	return !(j->owner & UVS_POOL_JOB_FILLING) &&
	       __atomic_load_n(&j->submit_ns, __ATOMIC_ACQUIRE) + SWEEP_AGE_NS < seen &&
	       !__atomic_load_n(&j->end_ns, __ATOMIC_ACQUIRE);
}

/*
 * The 2-probe plan counts a job in flight from its submit at libuv's entry point. A call that
 * libuv refuses before queueing it (EINVAL, ENOMEM) or a job cancelled in the queue never
 * ends in worker(), and would count as in flight for ever. So when libuv says its pool is idle
 * (every thread waiting, both queues empty), every job of the process submitted more than
 * SWEEP_AGE_NS before that reading is such a job: its entry is deleted, and the programs are
 * told how many (gauge.swept, which they take off). Whoever deletes an entry accounts for it
 * (the end of service counts a job only when its own delete succeeds), so a job served in the
 * meantime is never counted twice. With --pool-delay, a served job's entry waits for its done
 * callback (end_ns set): those are left alone.
 */
static void sweep(struct uvs_pool *p, uint32_t size)
{
	uint64_t n;

	if (!p->plan.two_probe || !libuv_pool_idle(p, size))
		return;
	n = give_back_jobs(p, never_reached_pool, uvs_now_mono());
	if (!n)
		return;
	p->swept_total += n;
	uvs_debug("pool: %llu job%s of pid %d never reached the pool (refused or cancelled)",
		  (unsigned long long)n, n == 1 ? "" : "s", (int)p->target->pid);
}

/* Tells the programs the pool's size and the jobs swept, when either changed. */
static void update_gauge(struct uvs_pool *p, uint32_t size)
{
	__u32 key = (__u32)p->slot;

	if (p->gauge.nthreads == size && p->gauge.swept == p->swept_total)
		return;
	p->gauge.nthreads = size;
	p->gauge.swept = p->swept_total;
	bpf_map_update_elem(bpf_map__fd(p->skel->maps.pool_gauge), &key, &p->gauge, BPF_ANY);
}

/*
 * The 2-probe plan has jobs in flight (submitted, not yet ended), not queued and running: with
 * a pool of `size` threads, the first `size` are served and the rest wait (libuv hands a job
 * to an idle thread at once). The dns cap (half the threads for slow I/O) is the exception:
 * dns jobs beyond it wait while threads idle. They count as served here, and libuv's count of
 * its busy threads takes them back out of running (busy_by_statics).
 */
static void split_in_flight(struct uvs_pool *p, uint32_t size, uint64_t *max)
{
	__s64 n = p->now->inflight - (__s64)p->swept_total;

	if (n < 0)
		n = 0;
	p->now->running = size && n > (__s64)size ? (__s64)size : n;
	p->now->queued = n - p->now->running;
	*max = *max > size ? *max - size : 0;
}

/*
 * libuv's own count of its threads busy now, from its statics (2-probe plan): the jobs in
 * flight beyond it are waiting, which the split by size misses for dns beyond libuv's cap.
 * Kept for the session's totals, which are as of the last window.
 */
static void busy_by_statics(struct uvs_pool *p, struct uvs_pool_snapshot *out)
{
	uint32_t nthreads, idle;

	p->busy_at_window = -1;
	if (!p->plan.two_probe || uvs_pool_statics_threads(&p->statics, &nthreads, &idle) ||
	    !nthreads)
		return;
	p->busy_at_window = nthreads - idle;
	uvs_pool_running_at_most(out, nthreads - idle);
}

/*
 * The 2-probe plan only: it counts a job, its fs operation and host name at the submit, so a
 * job submitted while the probes were out is simply not seen when they are back. The 4-probe
 * plan takes an fs job whose submit it did not see, at uv__fs_work, for a synchronous call on
 * that thread: the jobs in flight as the probes came back would count as sync fs calls off
 * the loop, and their operations twice (bpf/pool.bpf.c, uvs_pool_work_enter).
 */
bool uvs_pool_can_step(const struct uvs_pool *p)
{
	return p->attached && p->plan.two_probe && p->statics.available && p->file_held;
}

/*
 * What the probes left of this process once they are out: its jobs in flight in `jobs` (a job
 * that ends while they are out would leave its entry for ever, and one that ends after they
 * are back would be counted with its wait spanning the step), and its in-flight gauge. No
 * program of this process runs now (detaching waited for them), so the statistics can be
 * written whole: the open span of a saturated pool closed, and the in-flight count made zero
 * by the agent's count of swept jobs, which the programs take off it (struct uvs_pool_gauge).
 */
static void forget_in_flight(struct uvs_pool *p)
{
	uint64_t now = uvs_now_mono();
	__u32 key = 0; /* the process's own one-entry statistics map */
	int fd = p->stats_fd;

	give_back_jobs(p, any_job, 0);
	if (fd < 0 || bpf_map_lookup_elem(fd, &key, p->now))
		return;
	if (p->now->inflight - (__s64)p->swept_total > (__s64)p->gauge.nthreads &&
	    p->now->queued_since && now > p->now->queued_since)
		p->now->queued_ns += now - p->now->queued_since;
	p->now->queued_since = 0;
	p->swept_total = p->now->inflight > 0 ? (uint64_t)p->now->inflight : 0;
	bpf_map_update_elem(fd, &key, p->now, BPF_EXIST);
	update_gauge(p, p->gauge.nthreads);
}

/* Jobs in flight now by the statics (queued, and threads not idle): those the probes miss. */
static uint64_t in_flight_by_statics(struct uvs_pool *p)
{
	struct uvs_pool_reading_now r;

	if (uvs_pool_statics_read(&p->statics, &r))
		return 0;
	return r.queued + (r.nthreads - r.idle_threads);
}

/* Settled once the pool is seen idle: every job in flight from then on has its submit seen. */
static void settle(struct uvs_pool *p)
{
	if (p->settling && uvs_pool_statics_idle(&p->statics) == 1) {
		p->settling = false;
		uvs_debug("pool: idle since the probes came back: the queue depth is theirs again");
	}
}

int uvs_pool_set_probes(struct uvs_pool *p, bool in, char *why, size_t cap)
{
	char path[40];
	uint64_t unseen;
	int err;

	if (!uvs_pool_can_step(p)) {
		snprintf(why, cap, "the pool's probes cannot be stepped here");
		return -ENOENT;
	}
	if (in != p->probes_out)
		return 0;
	if (!in) {
		uvs_uprobe_set_detach(&p->uprobes);
		forget_in_flight(p);
		p->probes_out = p->out_in_window = p->statics_in_window = true;
		p->settling = false;
		return 0;
	}
	/* Read before: a job submitted while they go in may be ignored too, and is not counted. */
	unseen = in_flight_by_statics(p);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->file_fd);
	err = uvs_uprobe_set_attach(&p->uprobes, p->target->pid, path);
	if (err) {
		snprintf(why, cap, "cannot put the pool's uprobes back: %s", strerror(-err));
		return err;
	}
	p->probes_out = false;
	p->settling = true;
	p->unseen += unseen;
	p->unseen_total += unseen;
	settle(p);
	return 0;
}

void uvs_pool_check(struct uvs_pool *p)
{
	int capped;

	if (!p->attached)
		return;
	if (p->probes_out || p->settling) {
		uvs_pool_statics_sample(&p->statics);
		settle(p);
		return;
	}
	/* The probes count time with more jobs in flight than threads; libuv's dns cap is not. */
	if (!p->plan.two_probe || (capped = uvs_pool_statics_capped(&p->statics)) < 0)
		return;
	p->cap_checks++;
	p->cap_waits += (uint64_t)capped;
	p->all_cap_checks++;
	p->all_cap_waits += (uint64_t)capped;
}

/*
 * The window as the guard's step leaves it: with the probes out for any of it, the statics'
 * (size, queue, running; most queued and saturation from the readings at the block checks)
 * and no per-job figure; while they settle, the probes' jobs and the statics' gauge.
 */
static void guarded_window(struct uvs_pool *p, struct uvs_pool_snapshot *out,
			   struct uvs_agent_snapshot *agent)
{
	struct uvs_pool_snapshot st;

	agent->pool_jobs_unseen = p->unseen;
	p->unseen = 0;
	if (p->statics_in_window) {
		uvs_pool_statics_window(&p->statics, &st);
		if (p->out_in_window) {
			st.fs_io_uring = out->fs_io_uring;
			*out = st;
		} else if (st.available) {
			out->size = st.size;
			out->queued = st.queued;
			out->running = st.running;
			out->queued_max = st.queued_max;
			out->saturation = st.saturation;
		}
	}
	p->out_in_window = p->probes_out;
	p->statics_in_window = p->probes_out || p->settling;
}

void uvs_pool_window(struct uvs_pool *p, bool io_uring_seen, struct uvs_pool_snapshot *out,
		     struct uvs_agent_snapshot *agent)
{
	struct uvs_pool_reading r;
	uint64_t max;
	uint32_t size;
	__u32 key;

	memset(out, 0, sizeof(*out));
	key = 0;
	if (!p->attached || bpf_map_lookup_elem(p->stats_fd, &key, p->now))
		return;
	/* The fd table is read for the fds anyway: its ring means something only where fs can
	 * go to io_uring (libuv 1.48+ opens one for its epoll_ctl batching, Node 22 and later). */
	if (io_uring_seen && fs_may_go_to_io_uring(p))
		p->fs_io_uring = true;
	size = pool_size(p, p->target);
	max = read_queued_max(p);
	if (p->plan.two_probe) {
		sweep(p, size);
		update_gauge(p, size);
		split_in_flight(p, size, &max);
	}
	r = (struct uvs_pool_reading){ .now = p->now, .queued_max = max, .size = size,
				       .fs_io_uring = p->fs_io_uring,
				       .now_mono = p->end_mono ? p->end_mono : uvs_now_mono() };
	losses(p->now, &p->history->prev, agent);
	uvs_pool_window_math(p->history, &r, out);
	busy_by_statics(p, out);
	out->saturation = uvs_pool_saturation_with_cap(out->saturation, p->cap_waits,
						       p->cap_checks);
	p->cap_checks = p->cap_waits = 0;
	out->completion = p->plan.track_done;
	dns_names(p, out, false);
	out->dns_estimated = dns_names_budget(p);
	reset_queued_max(p);
	/* The probes' figures moved the history on; the guard's step may replace them. */
	guarded_window(p, out, agent);
	if (out->queued_max > p->queued_max_all)
		p->queued_max_all = out->queued_max;
}

uint64_t uvs_pool_probe_hits(const struct uvs_pool *p, const struct uvs_pool_snapshot *w)
{
	uint64_t per_job = uvs_pool_plan_hits_per_job(&p->plan);

	if (!p->attached)
		return 0;
	/* A sync fs call: the entry and return of uv_fs_* (2-probe plan) or uv__fs_work. */
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
	r = (struct uvs_pool_reading){ .now = &p->history->prev, .queued_max = p->queued_max_all,
				       .size = pool_size(p, p->target), .fs_io_uring = p->fs_io_uring,
				       .now_mono = p->history->last_window_mono };
	losses(&p->history->prev, &none, agent);
	uvs_pool_totals_math(p->history, &r, out);
	if (p->busy_at_window >= 0)
		uvs_pool_running_at_most(out, (uint32_t)p->busy_at_window);
	out->saturation = uvs_pool_saturation_with_cap(out->saturation, p->all_cap_waits,
						       p->all_cap_checks);
	out->completion = p->plan.track_done;
	dns_names(p, out, true);
	out->dns_estimated = p->dns_estimated;
	agent->pool_jobs_unseen = p->unseen_total;
	/* The probes' gauge is not the pool's now while they are out or settle: the statics'. */
	if ((p->probes_out || p->settling) && p->statics.have_last) {
		const struct uvs_pool_reading_now *now = &p->statics.last;

		out->size = now->nthreads;
		out->queued = (int64_t)now->queued;
		out->running = (int64_t)(now->nthreads - now->idle_threads);
	}
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
	out->end_mono_ns = e->end_ns;
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
