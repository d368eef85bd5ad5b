// SPDX-License-Identifier: GPL-2.0
/*
 * Event-loop measurement for the target processes (bpf/targets.bpf.h: one object for all).
 *
 * Busy and idle time come from the epoll syscalls alone (no uprobes), so they work on every
 * libuv program, stripped or not: a loop thread is idle while it sits in epoll_wait /
 * epoll_pwait / epoll_pwait2 on its loop's epoll fd, and busy from the return of that wait to
 * the next entry. The agent reads loop_state to see a block while it is still happening.
 *
 * Exact phases (optional) come from entry uprobes on uv__run_timers, uv__run_idle, uv__io_poll
 * and uv__run_check, plus return probes on uv__run_timers and uv__run_check, which open the
 * inlined pending and close phases, and on uv__run_idle, where prepare begins. One program
 * serves every boundary; the attach cookie says which it is. The poll's wait is split off by
 * the epoll hooks (with the return hook alone, from libuv's stamp: split_poll).
 *
 * For `uvscope trace` (trace_records set before load), every iteration and every phase span is
 * also sent as a record on a ring buffer of its own. The flag is read-only data known at load,
 * so the verifier removes that code from the programs of every other command: watch and top
 * pay nothing for it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "loop_state.bpf.h"
#include "targets.bpf.h"
#include "uvscope/epoll_sites.h"

const volatile __u64 block_ns = 100000000ULL;
const volatile __u8 track_phases = 0;
const volatile __u8 trace_records = 0;
/*
 * Per target (struct uvs_target_cfg, bpf/targets.bpf.h): whether only the return hooks of its
 * epoll call sites are attached (they read libuv's metrics), whether its waits are caught by
 * the syscall hooks instead of uprobes, and its main thread's loop (libuv's default loop) as
 * the agent read it at attach: its epoll fd and internal-fields pointer, or -1 and 0 when
 * unknown (a stripped build). The main thread learns only this loop: a wait of another loop it
 * runs (execSync's) is never taken for it, even when it is the first wait seen (uvscope
 * attached during the execSync).
 *
 * Written by the agent (the overhead guard) while attached, per target slot: 0 while the
 * uprobes at uv__io_poll's entry are out, and a new number each time they are put back
 * (agent/collect/loop_probes.c). Those are the exact-phase uprobes, or in default mode the
 * lone uprobe at uv__io_poll's entry that reads the waits (wait_folded): there is no phase in
 * default mode (track_phases), so there its epoch only says that this uprobe is in.
 */
__u32 phase_epoch[UVS_MAX_TARGETS];

/*
 * Written by the agent, per target slot: 1 while the uprobe at uv__io_poll's entry reads its
 * waits from libuv's metrics (fold_wait): the exact-phase program with --phases, or default
 * mode's lone uprobe there. The wait's return hook is then attached only while that uprobe is
 * out (the guard, with --phases), and for good once a loop of the target has no metrics and
 * the wait hooks are back for it (agent/collect/loop_probes.c); 0 otherwise.
 */
__u8 wait_folded[UVS_MAX_TARGETS];

/*
 * Allocated as loops appear, not up front: 24 KiB each, for every loop thread of every process
 * one agent may watch (a preallocated map would lock 24 MiB of kernel memory).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UVS_MAX_LOOP_THREADS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct uvs_loop_stats);
} loop_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Sized by the agent: UVS_TRACE_RING_BYTES while tracing, one page otherwise. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} trace_ring SEC(".maps");

/* At the target's slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct uvs_bpf_counters);
} counters SEC(".maps");

/* Template for new map entries: a 24 KiB value cannot live on the 512-byte BPF stack. */
static const struct uvs_loop_stats zero_stats;

static __always_inline struct uvs_bpf_counters *my_counters(const struct uvs_target_cfg *t)
{
	__u32 slot = uvs_slot(t);

	return bpf_map_lookup_elem(&counters, &slot);
}

static __always_inline void emit(const struct uvs_target_cfg *t, __u32 type, __u32 tid, __u64 ts,
				 __u64 duration)
{
	struct uvs_bpf_counters *c = my_counters(t);
	struct uvs_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (c)
			c->ringbuf_drops++;
		return;
	}
	e->ts_ns = ts;
	e->duration_ns = duration;
	e->type = type;
	e->tid = tid;
	e->tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
}

/*
 * One timeline record. The agent is not woken for each (that would cost it a wake-up per
 * iteration): it drains the ring at every block check, every few ms, and is woken only when
 * the ring is an eighth full.
 */
static __always_inline void send_trace(const struct uvs_target_cfg *t, __u16 type, __u16 phase,
				       __u64 start, __u64 end, __u64 wait_start)
{
	struct uvs_bpf_counters *c;
	struct uvs_trace_record *r;
	__u64 flags;

	r = bpf_ringbuf_reserve(&trace_ring, sizeof(*r), 0);
	if (!r) {
		c = my_counters(t);
		if (c)
			c->ringbuf_drops++;
		return;
	}
	r->start_ns = start;
	r->end_ns = end;
	r->wait_start_ns = wait_start;
	/* Asked for here, not passed in: the callers' code stays as it is when not tracing. */
	r->tid = (__u32)bpf_get_current_pid_tgid();
	r->tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	r->pad = 0;
	r->type = type;
	r->phase = phase;
	flags = bpf_ringbuf_query(&trace_ring, BPF_RB_AVAIL_DATA) >= UVS_TRACE_RING_BYTES / 8 ?
			BPF_RB_FORCE_WAKEUP :
			BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(r, flags);
}

/* The state of a loop thread, created (with its statistics) the first time we see it. */
static __always_inline struct uvs_loop_state *loop_of(const struct uvs_target_cfg *t, __u32 tid,
						      __u64 now)
{
	struct uvs_loop_state *st = bpf_map_lookup_elem(&loop_state, &tid), init;
	struct uvs_bpf_counters *c;

	if (st)
		return st;
	/* Built only here: zeroing its 184 bytes cost every boundary 23 stores before its lookup. */
	init = (struct uvs_loop_state){ .epfd = -1, .phase = UVS_PHASE_NONE,
					.tgid = (__u32)(bpf_get_current_pid_tgid() >> 32) };
	if (bpf_map_update_elem(&loop_stats, &tid, &zero_stats, BPF_NOEXIST) ||
	    bpf_map_update_elem(&loop_state, &tid, &init, BPF_NOEXIST)) {
		c = my_counters(t);
		if (c)
			c->insert_failures++;
		return NULL;
	}
	emit(t, UVS_EV_LOOP_SEEN, tid, now, 0);
	return bpf_map_lookup_elem(&loop_state, &tid);
}

static __always_inline void count_event(const struct uvs_target_cfg *t)
{
	struct uvs_bpf_counters *c = my_counters(t);

	if (c)
		c->events++;
}

static __always_inline void record_phase(struct uvs_loop_stats *s, __u32 p, __u64 d)
{
	if (p >= UVS_PHASE_COUNT)
		return;
	s->phase_count[p]++;
	s->phase_total_ns[p] += d;
	if (d > s->phase_max_ns[p])
		s->phase_max_ns[p] = d;
	uvs_hist_record(&s->phase[p], d);
}

static __always_inline bool is_poll_phase(__u32 p)
{
	return p == UVS_PHASE_POLL_WAIT || p == UVS_PHASE_POLL_IO;
}

_Static_assert((UVS_PHASE_COUNT & (UVS_PHASE_COUNT - 1)) == 0, "a mask bounds a phase index");

/*
 * A phase span that ended, kept in the thread's state until the next flush; straight into the
 * statistics when its slot is taken (the phase came twice since the last flush: a new uv_run,
 * a nested one), which the phase uprobe sees coming and looks them up for (phase_collides).
 */
static __always_inline void keep_phase(struct uvs_loop_state *st, struct uvs_loop_stats *s,
				       __u32 p, __u64 d)
{
	if (p >= UVS_PHASE_COUNT)
		return;
	/* The verifier must see the bound on the register that indexes (clang may use a copy). */
	asm volatile("" : "+r"(p));
	p &= UVS_PHASE_COUNT - 1;
	if (!(st->done_mask & (1u << p))) {
		st->done_ns[p] = d;
		st->done_mask |= 1u << p;
	} else if (s) {
		record_phase(s, p, d);
	}
}

/* The kept spans into the statistics (once per iteration: the phase uprobes' only lookup). */
static __always_inline void flush_phases(struct uvs_loop_state *st, struct uvs_loop_stats *s)
{
	__u32 mask = st->done_mask;
	int p;

	st->done_mask = 0;
	for (p = 0; p < UVS_PHASE_COUNT; p++)
		if (mask & (1u << p))
			record_phase(s, (__u32)p, st->done_ns[p]);
}

/*
 * Close the current phase at `now` and open `next`. One uv__io_poll may wait in epoll more
 * than once; its wait and I/O segments add up and count as one poll_wait and one poll_io,
 * kept when the poll is over (the next uprobe boundary). s may be NULL (the phase uprobes
 * look the statistics up only when a span cannot be kept: phase_collides).
 */
static __always_inline void phase_switch(const struct uvs_target_cfg *t, struct uvs_loop_state *st,
					 struct uvs_loop_stats *s, __u32 next, __u64 now)
{
	__u32 epoch = phase_epoch[uvs_slot(t)];
	__u32 p = st->phase;
	__u64 d = 0;

	/*
	 * The phase uprobes are out (the guard took them out): no phase is followed. When they
	 * are back, a thread's first boundary of the new epoch only opens its phase, so no span
	 * stretches over the time they were out.
	 */
	if (!epoch)
		return;
	if (st->phase_epoch != epoch) {
		st->phase_epoch = epoch;
		st->poll_wait = 0;
		st->poll_io = 0;
		st->poll_waited = 0;
		st->done_mask = 0; /* spans of the old epoch, before the probes went out */
		p = UVS_PHASE_NONE;
	}
	if (p < UVS_PHASE_COUNT && st->phase_start && now >= st->phase_start)
		d = now - st->phase_start;
	/* The wait is the gap between two iterations on the timeline: no record for it. */
	if (trace_records && d && p != UVS_PHASE_POLL_WAIT)
		send_trace(t, UVS_TRACE_PHASE, (__u16)p, st->phase_start, now, 0);
	if (p == UVS_PHASE_POLL_WAIT) {
		st->poll_wait += d;
		st->poll_waited = 1;
	} else if (p == UVS_PHASE_POLL_IO) {
		st->poll_io += d;
	} else {
		keep_phase(st, s, p, d);
	}
	if (is_poll_phase(p) && !is_poll_phase(next)) {
		if (st->poll_waited)
			keep_phase(st, s, UVS_PHASE_POLL_WAIT, st->poll_wait);
		keep_phase(st, s, UVS_PHASE_POLL_IO, st->poll_io);
		st->poll_wait = 0;
		st->poll_io = 0;
		st->poll_waited = 0;
	}
	st->phase = next;
	st->phase_start = now;
}

/*
 * Forgets the poll running now: its wait cannot be told from its I/O (a loop without libuv's
 * idle-time metrics, with only the wait's return hooked). The next boundary opens a phase and
 * closes none, so neither poll_wait nor poll_io gets a figure that holds the other.
 */
static __always_inline void drop_poll(struct uvs_loop_state *st)
{
	st->phase = UVS_PHASE_NONE;
	st->poll_wait = 0;
	st->poll_io = 0;
	st->poll_waited = 0;
}

/*
 * Whether an epoll wait was asked not to block (libuv's idle-time probe, or work pending). The
 * fourth argument is in r10 for the syscall, in rcx at a `call epoll_*@plt` site (at_call).
 */
static __always_inline bool zero_timeout(long id, struct pt_regs *regs, bool at_call)
{
	struct __kernel_timespec ts = {};
	long arg4 = at_call ? BPF_CORE_READ(regs, cx) : BPF_CORE_READ(regs, r10);
	void *uts;

	if (id != NR_EPOLL_PWAIT2)
		return (int)arg4 == 0;
	uts = (void *)arg4;
	if (!uts || bpf_probe_read_user(&ts, sizeof(ts), uts))
		return false;
	return ts.tv_sec == 0 && ts.tv_nsec == 0;
}

/* A busy span ends at an epoll entry: account it to the iteration and check for a block. */
static __always_inline void end_busy(const struct uvs_target_cfg *t, struct uvs_loop_state *st,
				     struct uvs_loop_stats *s, __u32 tid, __u64 now, bool zero)
{
	__u64 busy, iter;

	if (!st->busy_since || now < st->busy_since)
		return;
	busy = now - st->busy_since;
	s->busy_ns += busy;
	if (busy >= block_ns) {
		s->blocks++;
		s->blocked_ns += busy;
		emit(t, UVS_EV_BLOCK_END, tid, now, busy);
	}
	if (st->empty_poll && !zero) {
		/* The real wait after libuv's epoll(0) probe: same iteration, carry the gap. */
		st->iter_busy += busy;
		return;
	}
	iter = st->iter_busy + busy;
	st->iter_busy = 0;
	s->iterations++;
	if (trace_records)
		send_trace(t, UVS_TRACE_ITERATION, 0, st->busy_since, now, st->wait_start);
	if (iter > s->busy_max_ns)
		s->busy_max_ns = iter;
	uvs_hist_record(&s->busy, iter);
}

/*
 * The state and statistics of the loop whose epoll wait this is, or NULL when the wait is not
 * a loop's: another loop run on the same thread (spawnSync, execSync) waits on another epoll
 * fd, and its wait is busy time for the real loop, which is stuck meanwhile. On return from
 * the syscall rdi still holds the first argument, so this works at entry and exit alike.
 */
static __always_inline struct uvs_loop_stats *loop_wait(const struct uvs_target_cfg *t,
							 struct pt_regs *regs, __u32 tid, __u32 tgid,
							 __u64 now, struct uvs_loop_state **stp)
{
	int epfd = (int)BPF_CORE_READ(regs, di);
	struct uvs_loop_state *st = loop_of(t, tid, now);

	if (!st)
		return NULL;
	if (st->epfd < 0) {
		if (tid == tgid && t->main_epfd >= 0 && epfd != t->main_epfd)
			return NULL; /* not the main loop: another loop run on the main thread */
		st->epfd = epfd; /* the first wait we see, possibly one that began before attach */
	}
	if (epfd != st->epfd)
		return NULL;
	*stp = st;
	count_event(t);
	return bpf_map_lookup_elem(&loop_stats, &tid);
}

static __always_inline int on_wait_enter(const struct uvs_target_cfg *t, struct pt_regs *regs,
					 long id, bool at_call)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct uvs_loop_state *st = NULL;
	struct uvs_loop_stats *s;
	bool zero;
	__u64 now;

	now = bpf_ktime_get_ns();
	s = loop_wait(t, regs, tid, (__u32)(pid_tgid >> 32), now, &st);
	if (!s || !st)
		return 0;
	zero = zero_timeout(id, regs, at_call);
	/* The hooks have the loop again (see fold_wait): its figures are theirs from here. */
	if (st->folded)
		st->folded = 0;
	/* The phase first: on the timeline, an iteration's last phase comes before its end. */
	if (track_phases)
		phase_switch(t, st, s, UVS_PHASE_POLL_WAIT, now);
	end_busy(t, st, s, tid, now, zero);
	st->zero_timeout = zero;
	st->wait_start = now;
	st->in_wait = 1;
	return 0;
}

/* The wait is over: its time was idle, and a busy span begins. */
static __always_inline void wait_over(const struct uvs_target_cfg *t, struct uvs_loop_state *st,
				      struct uvs_loop_stats *s, __u64 now, long ret)
{
	if (st->in_wait && now >= st->wait_start)
		s->idle_ns += now - st->wait_start;
	if (track_phases)
		phase_switch(t, st, s, UVS_PHASE_POLL_IO, now);
	st->in_wait = 0;
	st->empty_poll = st->zero_timeout && ret == 0;
	st->busy_since = now;
}

static __always_inline int on_wait_exit(const struct uvs_target_cfg *t, struct pt_regs *regs,
					long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct uvs_loop_state *st = NULL;
	struct uvs_loop_stats *s;
	__u64 now;

	now = bpf_ktime_get_ns();
	s = loop_wait(t, regs, tid, (__u32)(pid_tgid >> 32), now, &st);
	if (!s || !st)
		return 0;
	wait_over(t, st, s, now, ret);
	return 0;
}

/*
 * The syscall hooks below are attached for the whole host, once one target needs them (its
 * libuv has no call sites uvscope can probe); a target whose waits the uprobes catch is left
 * to them, or each wait would count twice.
 */
static __always_inline const struct uvs_target_cfg *syscall_hooked(void)
{
	const struct uvs_target_cfg *t = uvs_current_target();

	return t && t->epoll_by_syscall ? t : NULL;
}

static __always_inline int sys_wait_enter(struct pt_regs *regs, long id)
{
	const struct uvs_target_cfg *t = syscall_hooked();

	return t ? on_wait_enter(t, regs, id, false) : 0;
}

static __always_inline int sys_wait_exit(struct pt_regs *regs, long ret)
{
	const struct uvs_target_cfg *t = syscall_hooked();

	return t ? on_wait_exit(t, regs, ret) : 0;
}

/*
 * The preferred hooks: fentry/fexit on the three epoll wait syscalls only. Nothing else in
 * the system pays for them, unlike the syscall tracepoints below, which put every system
 * call of every process on the slow path (measured: +144 ns per getppid()).
 */
SEC("fentry/__x64_sys_epoll_wait")
int BPF_PROG(uvs_ep_wait_in, struct pt_regs *regs)
{
	return sys_wait_enter(regs, NR_EPOLL_WAIT);
}

SEC("fexit/__x64_sys_epoll_wait")
int BPF_PROG(uvs_ep_wait_out, struct pt_regs *regs, long ret)
{
	return sys_wait_exit(regs, ret);
}

SEC("fentry/__x64_sys_epoll_pwait")
int BPF_PROG(uvs_ep_pwait_in, struct pt_regs *regs)
{
	return sys_wait_enter(regs, NR_EPOLL_PWAIT);
}

SEC("fexit/__x64_sys_epoll_pwait")
int BPF_PROG(uvs_ep_pwait_out, struct pt_regs *regs, long ret)
{
	return sys_wait_exit(regs, ret);
}

SEC("fentry/__x64_sys_epoll_pwait2")
int BPF_PROG(uvs_ep_pwait2_in, struct pt_regs *regs)
{
	return sys_wait_enter(regs, NR_EPOLL_PWAIT2);
}

SEC("fexit/__x64_sys_epoll_pwait2")
int BPF_PROG(uvs_ep_pwait2_out, struct pt_regs *regs, long ret)
{
	return sys_wait_exit(regs, ret);
}

/* The fallback for kernels without BPF trampolines: every syscall, filtered here. */
SEC("tp_btf/sys_enter")
int BPF_PROG(uvs_sys_enter, struct pt_regs *regs, long id)
{
	if (!is_epoll_wait(id))
		return 0;
	return sys_wait_enter(regs, id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(uvs_sys_exit, struct pt_regs *regs, long ret)
{
	long id = BPF_CORE_READ(regs, orig_ax);

	if (!is_epoll_wait(id))
		return 0;
	return sys_wait_exit(regs, ret);
}

/*
 * The preferred hooks in official builds: uprobes, placed in the target only, on libuv's own
 * `call epoll_*@plt` in uv__io_poll (the cookie is the syscall number; rdi and rcx hold epfd
 * and the timeout as the call passes them) and on the first instruction after it that the
 * kernel emulates (agent/target/epoll_sites.h). No other process pays anything.
 */
SEC("uprobe")
int uvs_ep_call_in(struct pt_regs *ctx)
{
	const struct uvs_target_cfg *t = uvs_current_target();

	return t ? on_wait_enter(t, ctx, (long)bpf_get_attach_cookie(ctx), true) : 0;
}

/* A register named by enum uvs_epoll_ret_reg; 0 for a number outside it. */
static __always_inline __u64 hook_reg(struct pt_regs *ctx, __u32 reg)
{
	/* Each a load at a fixed offset: the verifier refuses a context load at a computed one. */
	__u64 ax = ctx->ax, bx = ctx->bx, r12 = ctx->r12, r13 = ctx->r13, r14 = ctx->r14,
	      r15 = ctx->r15;

	asm volatile("" : "+r"(ax), "+r"(bx), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15));
	if (reg == UVS_EPOLL_REG_RAX)
		return ax;
	if (reg == UVS_EPOLL_REG_RBX)
		return bx;
	if (reg == UVS_EPOLL_REG_R12)
		return r12;
	if (reg == UVS_EPOLL_REG_R13)
		return r13;
	if (reg == UVS_EPOLL_REG_R14)
		return r14;
	if (reg == UVS_EPOLL_REG_R15)
		return r15;
	return 0;
}

/* The wait's return value where the return hook finds it (the cookie says where). */
static __always_inline long call_ret(struct pt_regs *ctx, __u64 cookie)
{
	int v = -1;

	if ((cookie & 0xff) == UVS_EPOLL_RET_RBP_SLOT) {
		long slot = (long)ctx->bp + (long)(int)(cookie >> 32);

		if (bpf_probe_read_user(&v, sizeof(v), (void *)slot))
			return -1;
		return v;
	}
	if (((cookie >> 8) & 0xff) > UVS_EPOLL_REG_R15)
		return -1;
	return (int)hook_reg(ctx, (cookie >> 8) & 0xff);
}

/* What the return hook reads of libuv's uv__loop_internal_fields_t, in one read. */
struct lfields_tail {
	__u64 provider_entry_time;
	__u64 provider_idle_time;
	__u8 lock[UVS_UV_LFIELDS_CURRENT_TIMEOUT - UVS_UV_LFIELDS_PROVIDER_IDLE_TIME - 8];
	__s32 current_timeout;
};

/*
 * Exact phases at the return hook alone: the poll's set-up ended when its wait began (never
 * before the current phase did), and its I/O begins now. After the phase uprobes came back
 * (a new epoch) this is the thread's first boundary: it only opens poll_io, so no wait that
 * began while they were out is counted.
 */
static __always_inline void split_poll(const struct uvs_target_cfg *t, struct uvs_loop_state *st,
				       struct uvs_loop_stats *s, __u64 wait_start, __u64 now)
{
	if (st->phase_epoch == phase_epoch[uvs_slot(t)])
		phase_switch(t, st, s, UVS_PHASE_POLL_WAIT,
			     wait_start > st->phase_start ? wait_start : st->phase_start);
	phase_switch(t, st, s, UVS_PHASE_POLL_IO, now);
}

/*
 * The return hook alone, once per iteration (default mode on libuv >= 1.45 with its DWARF):
 * the wait's entry is not hooked, libuv tells when it began. Node turns on libuv's idle-time
 * metrics for every loop (performance.eventLoopUtilization reads them), and libuv then stamps
 * provider_entry_time with uv_hrtime() (CLOCK_MONOTONIC, bpf_ktime_get_ns's clock) just before
 * every wait that may block, and clears it after the wait. So at the return: the busy span
 * ended at that stamp (or now, for a zero-timeout poll, which takes a microsecond), the wait
 * was idle, and a busy span begins now. The agent sees a wait in progress by reading the same
 * stamp from the target (agent/collect/loop.c). A loop without the metrics makes the agent
 * hook the entries too (UVS_EV_NO_METRICS); another loop run on this thread (spawnSync) has
 * other fields and is skipped: its wait is busy time for the real loop, as with two hooks.
 */
static __always_inline int wait_returned(const struct uvs_target_cfg *t, struct pt_regs *ctx,
					 struct uvs_loop_state *st, __u32 tid, __u32 tgid,
					 __u64 now, __u64 cookie)
{
	int where = UVS_EPOLL_COOKIE_LFIELDS(cookie);
	__u64 lf = 0, wait_start = now;
	struct lfields_tail m;
	struct uvs_loop_stats *s;
	__u32 flags;
	bool zero;

	if (where == UVS_EPOLL_LFIELDS_RBP_SLOT) {
		long slot = (long)ctx->bp + UVS_EPOLL_COOKIE_LFIELDS_SLOT(cookie);

		if (bpf_probe_read_user(&lf, sizeof(lf), (void *)slot))
			return 0;
	} else {
		lf = hook_reg(ctx, where - 1);
	}
	if (!lf)
		return 0;
	if (!st->lfields) {
		if (tid == tgid && t->main_lfields && lf != t->main_lfields)
			return 0; /* not the main loop: another loop run on the main thread */
		if (bpf_probe_read_user(&flags, sizeof(flags), (void *)(lf + UVS_UV_LFIELDS_FLAGS)))
			return 0;
		st->lfields = lf;
		st->metrics = flags & 1 ? UVS_LOOP_METRICS_ON : UVS_LOOP_METRICS_OFF;
		if (st->metrics == UVS_LOOP_METRICS_OFF)
			emit(t, UVS_EV_NO_METRICS, tid, now, 0);
	}
	if (lf != st->lfields)
		return 0;
	s = bpf_map_lookup_elem(&loop_stats, &tid);
	if (!s)
		return 0;
	count_event(t);
	if (st->metrics != UVS_LOOP_METRICS_ON ||
	    bpf_probe_read_user(&m, sizeof(m), (void *)(lf + UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME))) {
		/*
		 * Nothing says when its next wait begins: its busy span is unknown (never a block)
		 * until an entry hook sees a wait, if the agent places them (for main and Worker
		 * loops; Node's own internal loop, which has no metrics, stays unmeasured). Its poll
		 * cannot be split into wait and I/O either: that poll is left out of its phases.
		 */
		st->busy_since = 0;
		if (track_phases)
			drop_poll(st);
		return 0;
	}
	zero = m.current_timeout == 0;
	if (!zero && m.provider_entry_time && m.provider_entry_time <= now &&
	    m.provider_entry_time >= st->busy_since)
		wait_start = m.provider_entry_time;
	/*
	 * The poll's set-up ended when its wait began, and its I/O begins now. A wait that may
	 * not block (zero timeout) has no stamp: it is 0 ns of poll_wait, as it is 0 ns of idle,
	 * and the syscall's own time goes to poll_io, as it goes to busy time.
	 */
	if (track_phases)
		split_poll(t, st, s, wait_start, now);
	/*
	 * Taking over as the phase uprobes go out (the guard): the busy span before this wait
	 * ended at the last uv__io_poll entry, where the phase program counted it; the poll's
	 * few set-up instructions since go uncounted, once.
	 */
	if (st->folded)
		st->folded = 0;
	else
		end_busy(t, st, s, tid, wait_start, zero);
	if (st->busy_since)
		s->idle_ns += now - wait_start;
	st->wait_start = wait_start;
	/* The return value only matters after a zero timeout (and may cost a memory read). */
	st->empty_poll = zero && call_ret(ctx, cookie) == 0;
	st->busy_since = now;
	return 0;
}

/*
 * After the call rdi no longer holds the epoll fd, so the wait is recognised by the state its
 * entry left: once the loop's fd is known, only a wait on it sets in_wait (a nested loop's
 * wait, execSync's, is skipped like its entry), and nothing else runs on the thread while it
 * waits, so a path that jumps to the hook without the call finds in_wait clear. Before any
 * entry was seen (a wait that began before attach, as an idle loop's does) the thread becomes a
 * loop thread here, as the syscall hooks make it at a syscall exit, and its busy span begins;
 * its fd is learnt at the next entry.
 */
SEC("uprobe")
int uvs_ep_call_out(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = (__u32)(pid_tgid >> 32);
	/* The pid asked for once (uvs_current_target would ask again). */
	const struct uvs_target_cfg *t = uvs_target_of(tgid);
	struct uvs_loop_state *st;
	struct uvs_loop_stats *s;
	__u64 now;

	if (!t)
		return 0;
	now = bpf_ktime_get_ns();
	/* Straight to the thread's state: loop_of builds one only for a thread not seen yet. */
	st = bpf_map_lookup_elem(&loop_state, &tid);
	if (!st)
		st = loop_of(t, tid, now);
	if (!st)
		return 0;
	/*
	 * The uprobes at uv__io_poll's entry read this loop's waits (fold_wait) and are in: this
	 * hook is only going in before they go out, or going out after they came back. Their
	 * figures stand.
	 */
	if (st->folded && phase_epoch[uvs_slot(t)])
		return 0;
	/* No entry hook ran (none attached, or a wait on another loop's fd): libuv says more. */
	if (t->return_hook_only && !st->in_wait) {
		__u64 cookie = bpf_get_attach_cookie(ctx);

		if (UVS_EPOLL_COOKIE_LFIELDS(cookie))
			return wait_returned(t, ctx, st, tid, tgid, now, cookie);
	}
	/*
	 * A return with no entry seen is taken for the loop's only while nothing says which loop
	 * is the thread's: on the main thread, once its loop's fd is known (main_epfd), it may be
	 * execSync's loop returning; the agent marks a main loop waiting at attach (in_wait).
	 */
	if (!st->in_wait && (st->epfd >= 0 || (tid == tgid && t->main_epfd >= 0)))
		return 0;
	s = bpf_map_lookup_elem(&loop_stats, &tid);
	if (!s)
		return 0;
	count_event(t);
	wait_over(t, st, s, now, call_ret(ctx, bpf_get_attach_cookie(ctx)));
	return 0;
}

/* Whether switching to `next` now ends a span whose phase already has one kept. */
static __always_inline bool phase_collides(const struct uvs_loop_state *st, __u32 next)
{
	__u32 p = st->phase;

	if (p >= UVS_PHASE_COUNT)
		return false;
	if (!is_poll_phase(p))
		return st->done_mask & (1u << p);
	return !is_poll_phase(next) &&
	       (st->done_mask & ((1u << UVS_PHASE_POLL_WAIT) | (1u << UVS_PHASE_POLL_IO)));
}

/*
 * The loop whose uv__io_poll entry this is, learnt at the first one: false for another loop
 * run on this thread (spawnSync's, execSync's), whose waits are busy time for the real one.
 * On the main thread that is any loop but the default one, once the agent knows it.
 */
static __always_inline bool fold_loop(const struct uvs_target_cfg *t, struct uvs_loop_state *st,
				      __u64 loop, __u32 tid, __u32 tgid, __u64 now)
{
	__u64 lf = 0;
	__u32 flags;

	if (loop == st->loop)
		return true;
	/*
	 * A thread's loop is the first one seen at uv__io_poll, save that one with libuv's metrics
	 * on replaces one without: Node turns them on for the main loop and every Worker's, not for
	 * the second loop execSync runs. A Worker whose first poll after attach was execSync's
	 * had that loop taken for its own: its idle time read as blocked, its blocks as idle.
	 */
	if ((st->loop && st->metrics != UVS_LOOP_METRICS_OFF) || !loop ||
	    bpf_probe_read_user(&lf, sizeof(lf), (void *)(loop + UVS_UV_LOOP_INTERNAL_FIELDS)) ||
	    !lf)
		return false;
	if (tid == tgid && t->main_lfields && lf != t->main_lfields)
		return false;
	if (st->lfields && lf != st->lfields && st->metrics != UVS_LOOP_METRICS_OFF)
		return false;
	if (bpf_probe_read_user(&flags, sizeof(flags), (void *)(lf + UVS_UV_LFIELDS_FLAGS)))
		return false;
	if (st->loop) {
		if (!(flags & 1))
			return false;
		/* From here the loop is this one; what came before was the other's, and is left. */
		st->folded = 0;
		st->in_wait = 0;
		st->busy_since = 0;
	}
	st->loop = loop;
	st->lfields = lf;
	st->metrics = flags & 1 ? UVS_LOOP_METRICS_ON : UVS_LOOP_METRICS_OFF;
	/* Without them nothing here sees a wait: the agent puts the wait hooks back for it. */
	if (st->metrics == UVS_LOOP_METRICS_OFF)
		emit(t, UVS_EV_NO_METRICS, tid, now, 0);
	return true;
}

/*
 * The poll that ended: its wait (libuv's idle time since the last entry, d) out of the poll_io
 * span kept when it ended (at uv__run_check's entry), as the wait hook's return split it: the
 * wait placed at the poll's start, where libuv makes it after a few set-up instructions.
 */
static __always_inline void fold_split(struct uvs_loop_state *st, __u64 d)
{
	const __u32 io = 1u << UVS_PHASE_POLL_IO, wait = 1u << UVS_PHASE_POLL_WAIT;
	__u64 span;

	if ((st->done_mask & (io | wait)) != io)
		return;
	span = st->done_ns[UVS_PHASE_POLL_IO];
	if (d > span)
		d = span;
	st->done_ns[UVS_PHASE_POLL_IO] = span - d;
	st->done_ns[UVS_PHASE_POLL_WAIT] = d;
	st->done_mask |= wait;
}

/*
 * The wait hook's work, done at uv__io_poll's entry (wait_folded): by the phase program with
 * exact phases (one uprobe hit fewer per iteration), and in default mode by a uprobe there
 * alone (one hit per iteration, where the wait's return hook is hit at every epoll call, the
 * zero-timeout poll Node's metrics make libuv try first included). libuv (>= 1.45, metrics on, as Node has them) adds each
 * wait's whole length to provider_idle_time once it is over, before the poll returns; so the
 * growth since the last entry, d, is the last poll's wait, which began at that entry (a few
 * set-up instructions later, the same every iteration) and ended d later. That ends the busy
 * span before it, and the span since its end ends now, at this entry: an iteration, as the
 * wait hook counts one per poll. The agent and the sampler see a wait in progress by libuv's
 * stamp, and one that ended by the idle time grown past idle_seen (uvs_loop_live).
 */
static __always_inline void fold_wait(const struct uvs_target_cfg *t, struct pt_regs *ctx,
				      struct uvs_loop_state *st, struct uvs_loop_stats *s,
				      __u32 tid, __u32 tgid, __u64 now)
{
	struct {
		__u64 entry;
		__u64 idle;
	} m;
	__u64 d, end;

	_Static_assert(UVS_UV_LFIELDS_PROVIDER_IDLE_TIME == UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME + 8,
		       "one read of both");
	if (!fold_loop(t, st, ctx->di, tid, tgid, now))
		return;
	/*
	 * The last poll could not wait: its idle time is as it was then, unread (a read of the
	 * target's memory is a third of this program's run in a loop that spins through
	 * setImmediate callbacks, whose every poll has a zero timeout).
	 */
	if (st->folded && st->fold_no_wait && st->metrics == UVS_LOOP_METRICS_ON) {
		m.entry = 0;
		m.idle = st->idle_seen;
	} else if (st->metrics != UVS_LOOP_METRICS_ON ||
		   bpf_probe_read_user(&m, sizeof(m),
				       (void *)(st->lfields + UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME))) {
		/*
		 * Nothing says how long its waits were (Node's internal loop has no metrics): the
		 * last poll is left out of its phases, as the wait hook leaves it (drop_poll).
		 */
		st->done_mask &= ~((1u << UVS_PHASE_POLL_IO) | (1u << UVS_PHASE_POLL_WAIT));
		return;
	}
	if (st->folded && m.idle >= st->idle_seen) {
		/* The wait's end; before it, from busy_since, the loop waited (signals or not). */
		end = uvs_loop_wait_end(st, m.idle - st->idle_seen);
		if (end > now)
			end = now;
		d = end - st->busy_since;
		s->idle_ns += d;
		if (track_phases)
			fold_split(st, d);
		st->busy_since = end;
		end_busy(t, st, s, tid, now, true);
	} else if (!st->folded && !st->in_wait && st->busy_since) {
		/*
		 * Busy since the attach (the agent marks it), or since the wait hook's last return
		 * (it had the loop while the phase uprobes were out, and is still in as they come
		 * back): no wait since, or the hook would have seen it.
		 */
		end_busy(t, st, s, tid, now, true);
	}
	/* A main loop waiting at attach (the agent marks it) has been out of its wait since. */
	st->in_wait = 0;
	st->empty_poll = 0;
	st->wait_start = now;
	st->busy_since = now;
	st->idle_seen = m.idle;
	st->folded = 1;
	st->intr_ns = 0;
	/* uv__io_poll(loop, timeout): with a zero timeout libuv stamps no wait in it. */
	st->fold_no_wait = (__s32)ctx->si == 0;
}

/*
 * Phase boundary uprobes: the cookie is an enum uvs_boundary. In default mode (no exact
 * phases) the same program is attached at uv__io_poll's entry alone, to read the waits there.
 */
SEC("uprobe")
int uvs_phase_boundary(struct pt_regs *ctx)
{
	static const __u8 next_phase[UVS_BOUND_COUNT] = {
		[UVS_BOUND_TIMERS_ENTRY] = UVS_PHASE_TIMERS,
		[UVS_BOUND_TIMERS_RETURN] = UVS_PHASE_PENDING,
		[UVS_BOUND_IDLE_ENTRY] = UVS_PHASE_IDLE,
		[UVS_BOUND_IDLE_RETURN] = UVS_PHASE_PREPARE,
		[UVS_BOUND_POLL_ENTRY] = UVS_PHASE_POLL_IO,
		[UVS_BOUND_CHECK_ENTRY] = UVS_PHASE_CHECK,
		[UVS_BOUND_CHECK_RETURN] = UVS_PHASE_CLOSE,
	};
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct uvs_target_cfg *t = uvs_target_of((__u32)(pid_tgid >> 32));
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 tid = (__u32)pid_tgid;
	struct uvs_loop_stats *s = NULL;
	struct uvs_loop_state *st;
	__u32 next;
	__u64 now;

	/* The uprobes are attached to the target's pid; its slot says where its figures go. */
	if (!t || cookie >= UVS_BOUND_COUNT)
		return 0;
	now = bpf_ktime_get_ns();
	/*
	 * Seven runs per iteration: the thread's state is looked up straight, and loop_of (which
	 * builds a new state on its stack and asks for the pid again) runs only for a thread not
	 * seen yet.
	 */
	st = bpf_map_lookup_elem(&loop_state, &tid);
	if (!st)
		st = loop_of(t, tid, now);
	if (!st)
		return 0;
	count_event(t);
	next = next_phase[cookie];
	/* The statistics only when they are written: once per iteration, or for a second span. */
	if (cookie == UVS_BOUND_POLL_ENTRY || phase_collides(st, next))
		s = bpf_map_lookup_elem(&loop_stats, &tid);
	if (s && cookie == UVS_BOUND_POLL_ENTRY && wait_folded[uvs_slot(t)] &&
	    phase_epoch[uvs_slot(t)])
		fold_wait(t, ctx, st, s, tid, (__u32)(pid_tgid >> 32), now);
	/* Default mode's lone uv__io_poll entry probe follows no phase: the verifier drops this. */
	if (!track_phases)
		return 0;
	phase_switch(t, st, s, next, now);
	/* Before the wait: a loop that goes idle has its figures in now, not after the wait. */
	if (s && cookie == UVS_BOUND_POLL_ENTRY)
		flush_phases(st, s);
	return 0;
}

/* A thread of the target exits: its loop state must not look like a loop blocked forever. */
/*
 * A signal delivered to a loop thread whose epoll wait it interrupted (the syscall returns
 * EINTR; epoll waits are never restarted): libuv stamps the wait's start again and waits on,
 * so its idle time leaves out the part before the signal. Kept for fold_wait and the agent
 * (uvs_loop_wait_end), which count the wait from its first start. Signals are rare: every
 * delivery on the host runs this, and leaves at once unless the thread is a watched loop's.
 */
SEC("tp_btf/signal_deliver")
int BPF_PROG(uvs_wait_signalled, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	const struct uvs_target_cfg *t = uvs_current_target();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct uvs_loop_state *st;
	struct pt_regs *regs;
	int epfd, backend_fd;
	long nr;

	if (!t)
		return 0;
	st = bpf_map_lookup_elem(&loop_state, &tid);
	if (!st || !st->folded)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = BPF_CORE_READ(regs, orig_ax);
	if ((nr != NR_EPOLL_WAIT && nr != NR_EPOLL_PWAIT && nr != NR_EPOLL_PWAIT2) ||
	    (long)BPF_CORE_READ(regs, ax) != -4 /* -EINTR */)
		return 0;
	/*
	 * Only the loop's own wait: a second loop run on the thread (execSync's, which SIGCHLD
	 * interrupts when its child ends) waits on another fd, and its wait is busy time of the
	 * loop, not an idle wait to count from its start.
	 */
	epfd = (int)BPF_CORE_READ(regs, di);
	if (!st->loop ||
	    bpf_probe_read_user(&backend_fd, sizeof(backend_fd),
				(void *)(st->loop + UVS_UV_LOOP_BACKEND_FD)) ||
	    epfd != backend_fd)
		return 0;
	st->intr_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(uvs_thread_exit, struct task_struct *task)
{
	const struct uvs_target_cfg *t = uvs_current_target();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct uvs_loop_state *st;
	__u32 metrics;

	if (!t)
		return 0;
	st = bpf_map_lookup_elem(&loop_state, &tid);
	if (!st)
		return 0;
	/* Whether its loop had libuv's metrics on: the agent may place the thread by it. */
	metrics = st->metrics;
	if (bpf_map_delete_elem(&loop_state, &tid) == 0)
		emit(t, UVS_EV_THREAD_EXIT, tid, bpf_ktime_get_ns(), metrics);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
