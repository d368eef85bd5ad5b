// SPDX-License-Identifier: GPL-2.0
/*
 * The libuv thread pool of one target process, per kind of work. Two plans
 * (collect/pool_sites.h): the 2-probe plan's programs are at the end of this file
 * (uvs_pool_api, uvs_pool_queue_work2, uvs_pool_end); what follows first is the 4-probe plan.
 *
 * A job is a struct uv__work (work, done, loop, wq: 40 bytes in every libuv 1.x). It is
 * submitted through uv__work_submit (fs, dns, random) or uv_queue_work (CPU work: node's
 * crypto, zlib, N-API, addons; uv__work_submit is inlined there), waits in the queue, and is
 * served when a pool thread calls its work function: uv__fs_work, uv__getaddrinfo_work,
 * uv__getnameinfo_work, uv__queue_work or uv__random_work. Queue wait is submit -> entry of
 * the work function, service time entry -> return, completion delay return -> entry of its
 * done callback on the loop. uv__queue_work and uv__queue_done are single-stepped by the
 * kernel, so CPU work is normally followed one call further in, at node's ThreadPoolWork work
 * and after-work callbacks (collect/pool_sites.h), which take the uv_work_t. A uv__fs_work
 * that was never submitted ran synchronously on the calling thread (readFileSync, require).
 *
 * One object serves every process the agent watches (include/uvscope/targets.h): the
 * uprobes are attached per process, the programs find theirs in `targets`, its work
 * functions' addresses in its configuration, and keep its figures under its slot. The loop
 * object's map of loop threads (loop_state) and the map of watched processes are shared: the
 * agent creates them with the loop object and hands them to this one (bpf_map__reuse_fd).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "loop_state.bpf.h"
#include "targets.bpf.h"
#include "uvscope/pool.h"

/* Offsets inside libuv's public, ABI-stable request structs (uv.h of libuv 1.x, x86-64). */
#define UV_FS_T_TYPE_FROM_W -272 /* uv_fs_t.fs_type, relative to its work_req */
/* node::ThreadPoolWork: the uv_work_t is followed by `const char *type_`. */
#define NODE_TPW_TYPE_FROM_W 40
/* uv_getaddrinfo_t.hostname (char *), relative to its work_req. */
#define UV_GETADDRINFO_HOST_FROM_W 56

/*
 * What differs between processes is in their configuration (struct uvs_target_cfg): the
 * runtime addresses of the work functions (enum uvs_pool_fn) and of node's work callback;
 * whether CPU work is followed at node's work and after-work callbacks, not at uv__queue_work
 * and uv__queue_done (which the kernel single-steps: a uv_queue_work job with another work
 * callback then has no probe on its service, and is only counted as unfollowed); whether the
 * done callbacks are probed too (a served job is then kept until its completion).
 */
/* Send a record of every served job to the agent (--pool-jobs: the same for every process). */
const volatile __u8 job_events = 0;

/*
 * The statistics of each watched process: an array of maps indexed by its slot, each holding
 * one entry, that the agent makes at attach. An entry is 48 KiB (three histograms per kind),
 * so one array of them would hold one for every possible slot, 12 MiB of kernel memory for a
 * process or two; a hash keyed by the slot cost each program run a hash lookup, where both
 * array lookups here are pointer sums the verifier inlines.
 */
struct pool_stats_of_one {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct uvs_pool_stats));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__array(values, struct pool_stats_of_one);
} pool_stats SEC(".maps");

/* The most jobs queued at once since the agent last reset it, per slot (its own map, so that
 * the agent's reset never races with the counters above). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u64);
} queued_max SEC(".maps");

/*
 * Jobs in flight (pool_jobs.bpf.h), named by process slot and uv__work pointer. A job that
 * never ends (refused by libuv, cancelled) keeps its entry until the agent sweeps it
 * (collect/pool.c) or the process is forgotten; a job that finds none of its entries free is
 * counted as lost.
 */
#include "pool_jobs.bpf.h"

/* What each thread is serving now: a uv__work pointer, or 0 for a sync fs call. */
struct running_job {
	__u64 w;
	__u64 start_ns;
	__u64 wait_ns;
	__u32 kind;
	__u32 sync;
	__s32 fs_type;
	__u32 pad;
};

/*
 * Two levels: on Node 26 a CPU job (fs.readFile) makes sync fs calls inside itself. The
 * process it was pushed in: an entry left by a process the agent stopped watching mid-job is
 * not taken for one of a later process whose thread got the same id.
 */
struct running_stack {
	struct running_job slot[2];
	__u32 depth;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct running_stack);
} running SEC(".maps");

/* Lookups per process and host name: LRU, the names come from the target. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UVS_DNS_MAX_NAMES);
	__type(key, struct uvs_dns_key);
	__type(value, __u64);
} dns_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} job_records SEC(".maps");

/*
 * Per process slot, set by the agent at each interval (collect/pool.c): how many more lookups
 * have their host name counted exactly. Beyond that, one lookup in UVS_DNS_NAME_STRIDE, chosen
 * at random, is counted for UVS_DNS_NAME_STRIDE (an unbiased estimate; random, so that names
 * that alternate are not aliased by a stride). Reading the name from the target is most of
 * what a dns submit costs (count_dns_host); a process that looks names up by the ten thousand
 * a second pays it for one in UVS_DNS_NAME_STRIDE. Below zero at the interval's end: the
 * interval's counts are estimates.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __s64);
} dns_names_left SEC(".maps");

/* What a lookup's host name counts for: 1, UVS_DNS_NAME_STRIDE, or 0 (not read). */
static __always_inline __u64 dns_name_weight(const struct uvs_target_cfg *t)
{
	__u32 slot = uvs_slot(t);
	__s64 *left = bpf_map_lookup_elem(&dns_names_left, &slot), v;

	/*
	 * Read before the atomic: once the budget is spent, the rest of the interval's lookups only
	 * read it. The first to find it at zero marks the interval as sampled (below zero) with a
	 * plain store; two doing it at once store the same value.
	 */
	if (left) {
		v = *left;
		if (v > 0 && __sync_fetch_and_add(left, -1) > 0)
			return 1;
		if (v == 0)
			*left = -1;
	}
	return bpf_get_prandom_u32() % UVS_DNS_NAME_STRIDE ? 0 : UVS_DNS_NAME_STRIDE;
}

/* A key is too big for the BPF stack next to everything else: build it here. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct uvs_dns_key);
} name_scratch SEC(".maps");

/* The statistics of process t: NULL until the agent has made them (at attach). */
static __always_inline struct uvs_pool_stats *stats(const struct uvs_target_cfg *t)
{
	__u32 slot = uvs_slot(t), zero = 0;
	void *one = bpf_map_lookup_elem(&pool_stats, &slot);

	return one ? bpf_map_lookup_elem(one, &zero) : NULL;
}

static __always_inline __u32 current_tgid(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32);
}

/* The statistics of one kind, or NULL; written so the verifier keeps the bounds check. */
static __always_inline struct uvs_pool_kind_stats *kind_stats(struct uvs_pool_stats *s, __u32 k)
{
	if (k >= UVS_POOL_KINDS)
		return NULL;
	asm volatile("" : "+r"(k));
	if (k >= UVS_POOL_KINDS)
		return NULL;
	return &s->kind[k];
}

static __always_inline void submitted(const struct uvs_target_cfg *t, __u64 w, __u32 kind)
{
	struct uvs_pool_stats *s = stats(t);
	__u32 slot = uvs_slot(t);
	__u64 *max, now = bpf_ktime_get_ns();
	__s64 q;

	struct uvs_pool_kind_stats *ks = s ? kind_stats(s, kind) : NULL;

	if (!s || !ks)
		return;
	if (!job_claim(uvs_pool_job_owner(slot, w), now, kind, 0)) {
		__sync_fetch_and_add(&s->lost, 1);
		return;
	}
	__sync_fetch_and_add(&ks->submitted, 1);
	q = __sync_fetch_and_add(&s->queued, 1) + 1;
	if (q == 1)
		s->queued_since = now; /* the queue just became non-empty */
	max = bpf_map_lookup_elem(&queued_max, &slot);
	if (max && q > 0 && (__u64)q > *max)
		*max = (__u64)q; /* a lost race here under-reports a maximum by one at worst */
}

static __always_inline __u32 kind_of_work_fn(const struct uvs_target_cfg *t, __u64 work,
					     __u32 uv_kind)
{
	if (work && work == t->pool_fn_addr[UVS_POOL_FN_FS])
		return UVS_POOL_FS;
	if (work && (work == t->pool_fn_addr[UVS_POOL_FN_GETADDRINFO] ||
		     work == t->pool_fn_addr[UVS_POOL_FN_GETNAMEINFO]))
		return UVS_POOL_DNS;
	if (work && work == t->pool_fn_addr[UVS_POOL_FN_RANDOM])
		return UVS_POOL_RANDOM;
	/* libuv's own kinds: UV__WORK_CPU 0, FAST_IO 1, SLOW_IO 2. */
	return uv_kind == 1 ? UVS_POOL_FS : uv_kind == 2 ? UVS_POOL_DNS : UVS_POOL_OTHER;
}

/* uv__work_submit(loop, w, kind, work, done) */
SEC("uprobe")
int BPF_KPROBE(uvs_pool_submit, void *loop, void *w, int kind, void *work)
{
	const struct uvs_target_cfg *t = uvs_current_target();

	if (!t)
		return 0;
	submitted(t, (__u64)w, kind_of_work_fn(t, (__u64)work, (__u32)kind));
	return 0;
}

/* node's ThreadPoolWork names its work: "crypto", "zlib", "node_api", ... */
/* Node's names for its crypto and zlib work, by address (struct uvs_pool_work_names). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct uvs_pool_work_names);
} work_names SEC(".maps");

static __always_inline __u32 node_work_kind(const struct uvs_target_cfg *t, __u64 w)
{
	__u32 slot = uvs_slot(t);
	struct uvs_pool_work_names *known = bpf_map_lookup_elem(&work_names, &slot);
	char type[8] = {};
	void *name;

	if (bpf_probe_read_user(&name, sizeof(name), (void *)(w + NODE_TPW_TYPE_FROM_W)) || !name)
		return UVS_POOL_OTHER;
	if (known && known->crypto == (__u64)name)
		return UVS_POOL_CRYPTO;
	if (known && known->zlib == (__u64)name)
		return UVS_POOL_ZLIB;
	if (bpf_probe_read_user_str(type, sizeof(type), name) < 0)
		return UVS_POOL_OTHER;
	if (type[0] == 'c' && type[1] == 'r' && type[2] == 'y' && type[3] == 'p' &&
	    type[4] == 't' && type[5] == 'o' && type[6] == 0) {
		if (known)
			known->crypto = (__u64)name;
		return UVS_POOL_CRYPTO;
	}
	if (type[0] == 'z' && type[1] == 'l' && type[2] == 'i' && type[3] == 'b' && type[4] == 0) {
		if (known)
			known->zlib = (__u64)name;
		return UVS_POOL_ZLIB;
	}
	return UVS_POOL_OTHER;
}

/* uv_queue_work(loop, req, work_cb, after_work_cb) */
SEC("uprobe")
int BPF_KPROBE(uvs_pool_queue_work, void *loop, void *req, void *work_cb)
{
	const struct uvs_target_cfg *t;
	__u64 w;

	if (!req || !work_cb || !(t = uvs_current_target()))
		return 0; /* uv_queue_work refuses a NULL work_cb: nothing is queued */
	w = (__u64)req + UVS_UV_WORK_T_WORK_REQ;
	if (t->pool_node_work_cb && (__u64)work_cb == t->pool_node_work_cb) {
		submitted(t, w, node_work_kind(t, w));
	} else if (t->pool_cpu_at_node_cb) {
		struct uvs_pool_stats *s = stats(t);

		if (s)
			__sync_fetch_and_add(&s->unfollowed, 1);
	} else {
		submitted(t, w, UVS_POOL_OTHER);
	}
	return 0;
}

/* Counts an fs job by operation; returns its uv_fs_type (-1 when unreadable). */
static __always_inline int count_fs_op(struct uvs_pool_stats *s, __u64 w)
{
	int type = 0;
	__u32 i;

	if (bpf_probe_read_user(&type, sizeof(type), (void *)(w + UV_FS_T_TYPE_FROM_W)))
		return -1;
	i = type > 0 && type < UVS_FS_OPS ? (__u32)type : UVS_FS_OPS - 1;
	/* The mask is what the verifier can follow; the line above already bounds i. */
	__sync_fetch_and_add(&s->fs_ops[i & (UVS_FS_OPS - 1)], 1);
	return type;
}

/*
 * One more lookup of host name `host` (a pointer in the target) by this process, counted for
 * dns_name_weight (exactly up to the agent's budget per interval, then sampled): the key is the
 * name as bpf_probe_read_user_str leaves it (at most UVS_DNS_NAME_LEN - 1 bytes and a NUL) with
 * zeros after it, since the map compares whole keys. This is ~200 ns of the dns submit's ~500
 * (bpf_stats): ~150 the string read, ~50 the LRU map with its 68-byte key. A plain 16-byte read
 * cut at the NUL in place of the string read measured the same (519-545 against 527-568 ns a
 * submit): not worth its code. Nor was counting in the agent from a ring buffer of names
 * (bench/README.md): its reserve and submit cost what the map did; the read is the cost, any
 * read of the target's memory from here 100-150 ns. Hence the budget and the sampling.
 */
static __always_inline void count_dns_host(const struct uvs_target_cfg *t, __u64 host)
{
	struct uvs_dns_key *key;
	__u64 weight, *n;
	__u32 zero = 0;

	/* A lookup with no name (a service alone) takes nothing of the exact budget. */
	if (!host || !(weight = dns_name_weight(t)))
		return;
	key = bpf_map_lookup_elem(&name_scratch, &zero);
	if (!key)
		return;
	__builtin_memset(key, 0, sizeof(*key));
	key->tgid = current_tgid();
	if (bpf_probe_read_user_str(key->name, UVS_DNS_NAME_LEN, (void *)host) <= 0)
		return;
	n = bpf_map_lookup_elem(&dns_names, key);
	if (n)
		__sync_fetch_and_add(n, weight);
	else if (bpf_map_update_elem(&dns_names, key, &weight, BPF_NOEXIST) &&
		 (n = bpf_map_lookup_elem(&dns_names, key)))
		__sync_fetch_and_add(n, weight); /* another CPU made it first */
}

/* The 4-probe plan, at uv__getaddrinfo_work: the name from the request (libuv's copy). */
static __always_inline void count_dns_name(const struct uvs_target_cfg *t, __u64 w)
{
	void *host;

	if (bpf_probe_read_user(&host, sizeof(host), (void *)(w + UV_GETADDRINFO_HOST_FROM_W)))
		return;
	count_dns_host(t, (__u64)host);
}

static __always_inline void push_running(__u32 tid, struct running_job *job)
{
	struct running_stack fresh = {}, *st;
	__u32 tgid = current_tgid();

	st = bpf_map_lookup_elem(&running, &tid);
	if (!st || st->tgid != tgid) {
		fresh.slot[0] = *job;
		fresh.depth = 1;
		fresh.tgid = tgid;
		bpf_map_update_elem(&running, &tid, &fresh, BPF_ANY);
		return;
	}
	if (st->depth == 0)
		st->slot[0] = *job;
	else if (st->depth == 1)
		st->slot[1] = *job;
	if (st->depth < 2)
		st->depth++;
}

/*
 * Entry of a work function; the cookie is an enum uvs_pool_fn. Its argument is the uv__work,
 * or for node's work callback the uv_work_t that holds it.
 */
SEC("uprobe")
int uvs_pool_work_enter(struct pt_regs *ctx)
{
	__u64 fn = bpf_get_attach_cookie(ctx), w = PT_REGS_PARM1(ctx), now;
	const struct uvs_target_cfg *t = uvs_current_target();
	struct running_job run = {};
	struct uvs_pool_stats *s;
	struct uvs_pool_job *job;

	if (!t || !(s = stats(t)))
		return 0;
	if (fn == UVS_POOL_FN_NODE_WORK)
		w += UVS_UV_WORK_T_WORK_REQ;
	now = bpf_ktime_get_ns();
	run.w = w;
	run.start_ns = now;
	run.fs_type = -1;
	job = job_find(uvs_pool_job_owner(uvs_slot(t), w));
	if (fn == UVS_POOL_FN_FS)
		run.fs_type = count_fs_op(s, w);
	else if (fn == UVS_POOL_FN_GETADDRINFO)
		count_dns_name(t, w);
	if (job) {
		struct uvs_pool_kind_stats *ks = kind_stats(s, job->kind);
		__u64 wait = now > job->submit_ns ? now - job->submit_ns : 0;

		if (ks) {
			__sync_fetch_and_add(&ks->started, 1);
			__sync_fetch_and_add(&ks->wait_total_ns, wait);
			uvs_hist_record_atomic(&ks->wait, wait);
		}
		run.kind = job->kind;
		run.wait_ns = wait;
		job->start_ns = now;
		if (__sync_fetch_and_add(&s->queued, -1) == 1 && s->queued_since &&
		    now > s->queued_since)
			__sync_fetch_and_add(&s->queued_ns, now - s->queued_since);
		__sync_fetch_and_add(&s->running, 1);
	} else if (fn == UVS_POOL_FN_FS) {
		run.sync = 1; /* never submitted: a synchronous call on this thread */
	} else {
		return 0;     /* submitted before we attached: nothing to measure */
	}
	push_running((__u32)bpf_get_current_pid_tgid(), &run);
	return 0;
}

/*
 * A sync fs call ended. It held up a loop when this thread runs one: the loop object's map of
 * loop threads (shared with this object, loop_state.bpf.h) says so now, while the thread lives.
 */
static __always_inline void sync_done(struct uvs_pool_stats *s, __u32 tid, __u64 d)
{
	__sync_fetch_and_add(&s->sync_fs, 1);
	__sync_fetch_and_add(&s->sync_fs_ns, d);
	if (bpf_map_lookup_elem(&loop_state, &tid)) {
		__sync_fetch_and_add(&s->sync_fs_loop, 1);
		__sync_fetch_and_add(&s->sync_fs_loop_ns, d);
	}
}

static __always_inline void send_job_record(struct uvs_pool_stats *s, const struct running_job *run,
					    __u32 tgid, __u32 tid, __u64 now, __u64 service)
{
	struct uvs_pool_job_event *e = bpf_ringbuf_reserve(&job_records, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&s->job_event_drops, 1);
		return;
	}
	e->end_ns = now;
	e->wait_ns = run->wait_ns;
	e->service_ns = service;
	e->tgid = tgid;
	e->tid = tid;
	e->kind = run->kind;
	e->fs_type = run->fs_type;
	bpf_ringbuf_submit(e, 0);
}

/* Return of a work function: the end of service (or of a sync fs call). */
SEC("uprobe")
int uvs_pool_work_return(struct pt_regs *ctx)
{
	const struct uvs_target_cfg *t = uvs_current_target();
	__u64 id = bpf_get_current_pid_tgid(), now, d, owner;
	__u32 tid = (__u32)id, tgid = (__u32)(id >> 32);
	struct running_job run;
	struct uvs_pool_stats *s;
	struct uvs_pool_kind_stats *ks;
	struct running_stack *st;
	struct uvs_pool_job *job;

	if (!t || !(s = stats(t)))
		return 0;
	st = bpf_map_lookup_elem(&running, &tid);
	if (!st || st->tgid != tgid || st->depth == 0 || st->depth > 2)
		return 0;
	st->depth--;
	if (st->depth == 0)
		run = st->slot[0];
	else
		run = st->slot[1];
	now = bpf_ktime_get_ns();
	d = now > run.start_ns ? now - run.start_ns : 0;
	if (run.sync) {
		sync_done(s, tid, d);
		return 0;
	}
	ks = kind_stats(s, run.kind);
	if (ks) {
		__sync_fetch_and_add(&ks->completed, 1);
		__sync_fetch_and_add(&ks->service_total_ns, d);
		uvs_hist_record_atomic(&ks->service, d);
	}
	__sync_fetch_and_add(&s->running, -1);
	if (job_events)
		send_job_record(s, &run, tgid, tid, now, d);
	owner = uvs_pool_job_owner(uvs_slot(t), run.w);
	job = job_find(owner);
	if (!job)
		return 0;
	if (t->pool_track_done)
		job->end_ns = now;
	else
		job_release(job, owner);
	return 0;
}

/*
 * Entry of a done callback on the loop thread (uv__fs_done(w, status), ...); the cookie is where
 * the uv__work is from its first argument (node's after-work callback takes the uv_work_t).
 */
SEC("uprobe")
int uvs_pool_done(struct pt_regs *ctx)
{
	__u64 w = PT_REGS_PARM1(ctx) + bpf_get_attach_cookie(ctx), now, delay, owner;
	const struct uvs_target_cfg *t = uvs_current_target();
	struct uvs_pool_kind_stats *ks;
	struct uvs_pool_stats *s;
	struct uvs_pool_job *job;
	bool served;

	if (!t || !(s = stats(t)))
		return 0;
	owner = uvs_pool_job_owner(uvs_slot(t), w);
	job = job_find(owner);
	if (!job)
		return 0;
	now = bpf_ktime_get_ns();
	ks = kind_stats(s, job->kind);
	if (ks && job->end_ns && now >= job->end_ns) {
		delay = now - job->end_ns;
		__sync_fetch_and_add(&ks->done, 1);
		__sync_fetch_and_add(&ks->delay_total_ns, delay);
		uvs_hist_record_atomic(&ks->delay, delay);
	}
	/* A job cancelled in the queue (uv_cancel) ends here without service: no longer in
	 * flight (the 2-probe plan's gauge; the end of service counted the others). */
	served = job->end_ns != 0;
	if (job_release(job, owner) && !served)
		__sync_fetch_and_add(&s->inflight, -1);
	return 0;
}


/*
 * The 2-probe plan (collect/pool_sites.h): a job passes its submit, at libuv's public entry
 * point (a uprobe session that sets no return probe for an async call), and the end of its
 * service in worker(). Its start is inferred: a pool thread runs jobs one after another, so
 * job J ending on thread T started at max(submit(J), end of T's previous job). That is exact
 * when J waited for a thread; when T was idle, T's wake-up counts as service.
 */

/* uprobe session kfuncs (6.13+); weak, and the programs using them load only where they exist. */
extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;

/* Per process, written by the agent (struct uvs_pool_gauge). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct uvs_pool_gauge);
} pool_gauge SEC(".maps");

/*
 * When each pool thread's last job ended. First in an array slot chosen by the thread id, which
 * the thread claims at its first end of service and keeps: an array lookup is a pointer sum,
 * where the task storage cost the end of service ~30 ns a job more (a helper call, its lock).
 * A thread whose slot another thread of a watched process holds keeps its figure in its task
 * storage instead, as before. A claim is never given back: a thread id reused later (by its
 * process, or by a process with the same pid) finds the dead thread's last end, which came
 * before the new thread existed, so before it could start any job: the inferred start
 * max(submit, last end) stays a lower bound of the real one, as the task storage's 0 is.
 */
#define POOL_THREAD_SLOTS 4096

struct pool_thread_slot {
	__u64 owner; /* bpf_get_current_pid_tgid() of the thread, 0 while free */
	__u64 last_end_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, POOL_THREAD_SLOTS);
	__type(key, __u32);
	__type(value, struct pool_thread_slot);
} pool_thread_slots SEC(".maps");

struct pool_thread {
	__u64 last_end_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pool_thread);
} pool_threads SEC(".maps");

/* Where the calling thread (id: pid_tgid) keeps its last end of service; NULL when nowhere. */
static __always_inline __u64 *last_end_of(__u64 id)
{
	__u32 k = (__u32)id % POOL_THREAD_SLOTS;
	struct pool_thread_slot *sl = bpf_map_lookup_elem(&pool_thread_slots, &k);
	struct pool_thread *pt;

	if (sl && (sl->owner == id ||
		   (sl->owner == 0 && __sync_val_compare_and_swap(&sl->owner, 0, id) == 0)))
		return &sl->last_end_ns;
	pt = bpf_task_storage_get(&pool_threads, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	return pt ? &pt->last_end_ns : NULL;
}

/* The pool's size: the agent's figure, else libuv's static (0 before the pool started). */
static __always_inline __u32 pool_size(const struct uvs_target_cfg *t,
				       const struct uvs_pool_gauge *g)
{
	__u32 n = 0;

	if (g && g->nthreads)
		return g->nthreads;
	if (t->pool_nthreads_addr)
		bpf_probe_read_user(&n, sizeof(n), (void *)t->pool_nthreads_addr);
	return n;
}

/* A submit of the 2-probe plan: in flight, and past the pool's size the queue is not empty. */
static __always_inline void submitted2(const struct uvs_target_cfg *t, __u64 w, __u32 kind,
				       int fs_type)
{
	struct uvs_pool_stats *s = stats(t);
	struct uvs_pool_kind_stats *ks;
	struct uvs_pool_gauge *g;
	__u32 slot = uvs_slot(t);
	__u64 *max, now = bpf_ktime_get_ns();
	__s64 n, size;

	ks = s ? kind_stats(s, kind) : NULL;
	if (!s || !ks)
		return;
	if (!job_claim(uvs_pool_job_owner(slot, w), now, kind, (__u32)fs_type)) {
		__sync_fetch_and_add(&s->lost, 1);
		return;
	}
	__sync_fetch_and_add(&ks->submitted, 1);
	if (kind == UVS_POOL_FS && fs_type >= 0)
		__sync_fetch_and_add(&s->fs_ops[(__u32)fs_type & (UVS_FS_OPS - 1)], 1);
	g = bpf_map_lookup_elem(&pool_gauge, &slot);
	n = __sync_fetch_and_add(&s->inflight, 1) + 1 - (g ? (__s64)g->swept : 0);
	size = (__s64)pool_size(t, g);
	/*
	 * The most in flight matters only past the pool's size: the agent takes the size off and
	 * keeps no less than zero (split_in_flight), so a pool with a thread free skips the map.
	 */
	if (n <= 0 || n <= size)
		return;
	if (n == size + 1)
		s->queued_since = now; /* every thread busy, and this one waits */
	max = bpf_map_lookup_elem(&queued_max, &slot);
	if (max && (__u64)n > *max)
		*max = (__u64)n; /* in flight at most: the agent takes the pool's size off */
}

/*
 * Each register loaded on its own, then chosen among: a switch of context loads becomes one
 * load at a computed offset, which the verifier refuses ("dereference of modified ctx ptr").
 */
#define LOADED(v) asm volatile("" : "+r"(v))

/* Reads argument i (1-7) at a function's entry: the seventh is on the stack. */
static __always_inline __u64 entry_arg(struct pt_regs *ctx, __u32 i)
{
	__u64 a1 = PT_REGS_PARM1(ctx), a2 = PT_REGS_PARM2(ctx), a3 = PT_REGS_PARM3(ctx),
	      a4 = PT_REGS_PARM4(ctx), a5 = PT_REGS_PARM5(ctx), a6 = ctx->r9, v = 0;

	LOADED(a1);
	LOADED(a2);
	LOADED(a3);
	LOADED(a4);
	LOADED(a5);
	LOADED(a6);
	if (i == 7) { /* above the return address */
		bpf_probe_read_user(&v, sizeof(v), (void *)(PT_REGS_SP(ctx) + 8));
		return v;
	}
	return i == 1 ? a1 : i == 2 ? a2 : i == 3 ? a3 : i == 4 ? a4 : i == 5 ? a5 : i == 6 ? a6 : 0;
}

/* The session cookie of an async fs submit that is confirmed at return: its uv__work. */
#define CONFIRM_FLAG (1ull << 63)

/*
 * Undoes the submit of a job that never reached the pool (io_uring took it, or libuv refused
 * it): whoever deletes the job's entry accounts for it, so the end of service never does.
 */
static __always_inline void unsubmit(const struct uvs_target_cfg *t, __u64 w)
{
	__u64 owner = uvs_pool_job_owner(uvs_slot(t), w), work = 0;
	struct uvs_pool_stats *s = stats(t);
	struct uvs_pool_kind_stats *ks;
	struct uvs_pool_job *job;
	__u32 kind, type;

	if (!s)
		return;
	if (bpf_probe_read_user(&work, sizeof(work), (void *)w) == 0 &&
	    work == t->pool_fn_addr[UVS_POOL_FN_FS])
		return; /* in the pool's queue, or being served */
	job = job_find(owner);
	if (!job || job->end_ns)
		return; /* served already */
	kind = job->kind;
	type = job->fs_type;
	if (!job_release(job, owner))
		return;
	ks = kind_stats(s, kind);
	if (ks)
		__sync_fetch_and_add(&ks->submitted, -1);
	if (kind == UVS_POOL_FS && type < UVS_FS_OPS)
		__sync_fetch_and_add(&s->fs_ops[type & (UVS_FS_OPS - 1)], -1);
	__sync_fetch_and_add(&s->inflight, -1);
}

/*
 * Entry and return of libuv's uv_fs_*, uv_getaddrinfo, uv_getnameinfo and uv_random (the
 * cookie: UVS_POOL_API_*). With a callback the call submits a job: counted at entry, and no
 * return probe (return 1) unless io_uring may take it (pool_confirm_fs). Without one the call
 * runs synchronously on this thread: its return measures it.
 */
SEC("uprobe")
int uvs_pool_api(struct pt_regs *ctx)
{
	const struct uvs_target_cfg *t = uvs_current_target();
	__u64 c = bpf_get_attach_cookie(ctx), req, w, *sc, now;
	__u32 kind = UVS_POOL_API_KIND(c);

	if (!t)
		return 1;
	if (bpf_session_is_return()) {
		struct uvs_pool_stats *s;

		sc = bpf_session_cookie();
		if (!sc)
			return 0;
		if (*sc & CONFIRM_FLAG) {
			unsubmit(t, *sc & ~CONFIRM_FLAG);
			return 0;
		}
		now = bpf_ktime_get_ns();
		s = stats(t);
		if (s && *sc && now > *sc)
			sync_done(s, (__u32)bpf_get_current_pid_tgid(), now - *sc);
		return 0;
	}
	if (!entry_arg(ctx, UVS_POOL_API_CB_ARG(c))) {
		struct uvs_pool_stats *s;

		/* Synchronous. Only fs calls are figures (sync fs on a loop); a synchronous
		 * getaddrinfo, getnameinfo or random is not pool work: left alone. */
		if (kind != UVS_POOL_FS || !(sc = bpf_session_cookie()))
			return 1;
		/* Counted by operation like a job, timed to its return. */
		s = stats(t);
		if (s)
			__sync_fetch_and_add(&s->fs_ops[UVS_POOL_API_FS_TYPE(c) & (UVS_FS_OPS - 1)], 1);
		*sc = bpf_ktime_get_ns();
		return 0;
	}
	req = PT_REGS_PARM2(ctx);
	if (!req)
		return 1; /* libuv refuses it (EINVAL) */
	w = req + UVS_POOL_API_WORK_REQ(c);
	submitted2(t, w, kind, kind == UVS_POOL_FS ? (int)UVS_POOL_API_FS_TYPE(c) : -1);
	/* getaddrinfo's host name, from its argument (the request copies it later). */
	if (c & UVS_POOL_API_HOST)
		count_dns_host(t, PT_REGS_PARM4(ctx));
	if (kind == UVS_POOL_FS && t->pool_confirm_fs && (sc = bpf_session_cookie())) {
		*sc = w | CONFIRM_FLAG;
		return 0;
	}
	return 1; /* an async submit: no return probe */
}

/* uv_queue_work(loop, req, work_cb, after_work_cb) in the 2-probe plan: every job is followed. */
SEC("uprobe")
int BPF_KPROBE(uvs_pool_queue_work2, void *loop, void *req, void *work_cb)
{
	const struct uvs_target_cfg *t;
	__u64 w;

	if (!req || !work_cb || !(t = uvs_current_target()))
		return 0; /* uv_queue_work refuses a NULL work_cb: nothing is queued */
	w = (__u64)req + UVS_UV_WORK_T_WORK_REQ;
	submitted2(t, w, t->pool_node_work_cb && (__u64)work_cb == t->pool_node_work_cb ?
				 node_work_kind(t, w) : UVS_POOL_OTHER, -1);
	return 0;
}

/* Register reg (enum uvs_pt_reg of target/worker_site.h: callee-saved ones) of ctx. */
static __always_inline __u64 saved_reg(struct pt_regs *ctx, __u32 reg)
{
	__u64 r15 = ctx->r15, r14 = ctx->r14, r13 = ctx->r13, r12 = ctx->r12, bp = ctx->bp,
	      bx = ctx->bx;

	LOADED(r15);
	LOADED(r14);
	LOADED(r13);
	LOADED(r12);
	LOADED(bp);
	LOADED(bx);
	return reg == 0 ? r15 : reg == 1 ? r14 : reg == 2 ? r13 : reg == 3 ? r12 :
	       reg == 4 ? bp : reg == 5 ? bx : 0;
}

/*
 * The end of a job's service: the first call in libuv's worker() after the job's function
 * returned (target/worker_site.h); the cookie says where the uv__work is.
 */
SEC("uprobe")
int uvs_pool_end(struct pt_regs *ctx)
{
	const struct uvs_target_cfg *t = uvs_current_target();
	__u64 c = bpf_get_attach_cookie(ctx), id = bpf_get_current_pid_tgid(), now, prev = 0;
	struct uvs_pool_kind_stats *ks;
	struct uvs_pool_gauge *g;
	struct uvs_pool_stats *s;
	struct uvs_pool_job *job;
	struct running_job run = {};
	__u64 start, submit, *last, owner;
	__u32 slot;
	__s64 n;

	if (!t || !(s = stats(t)))
		return 0;
	now = bpf_ktime_get_ns();
	last = last_end_of(id);
	if (last) {
		prev = *last;
		*last = now;
	}
	slot = uvs_slot(t);
	owner = uvs_pool_job_owner(slot, saved_reg(ctx, UVS_POOL_END_REG(c)) +
					     UVS_POOL_END_DISP(c));
	job = job_find(owner);
	if (!job)
		return 0; /* submitted before uvscope attached */
	submit = job->submit_ns;
	run.kind = job->kind;
	run.fs_type = job->kind == UVS_POOL_FS ? (__s32)job->fs_type : -1;
	if (t->pool_track_done) {
		/* Kept for its done callback; the end is counted once, by whoever sets end_ns. */
		if (__sync_val_compare_and_swap(&job->end_ns, 0, now) != 0)
			return 0;
	} else if (!job_release(job, owner)) {
		return 0; /* the agent swept it */
	}
	start = uvs_pool_inferred_start(submit, prev, now);
	run.wait_ns = start - submit;
	ks = kind_stats(s, run.kind);
	if (ks) {
		/* Not `started` too: in this plan it would equal `completed`, and nothing reads it. */
		__sync_fetch_and_add(&ks->completed, 1);
		__sync_fetch_and_add(&ks->wait_total_ns, run.wait_ns);
		__sync_fetch_and_add(&ks->service_total_ns, now - start);
		uvs_hist_record_atomic(&ks->wait, run.wait_ns);
		uvs_hist_record_atomic(&ks->service, now - start);
	}
	g = bpf_map_lookup_elem(&pool_gauge, &slot);
	n = __sync_fetch_and_add(&s->inflight, -1) - (g ? (__s64)g->swept : 0);
	/* The last waiting job leaves the queue: at the latest when this thread takes it. */
	if (n == (__s64)pool_size(t, g) + 1 && s->queued_since && now > s->queued_since)
		__sync_fetch_and_add(&s->queued_ns, now - s->queued_since);
	if (job_events)
		send_job_record(s, &run, (__u32)(id >> 32), (__u32)id, now, now - start);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
