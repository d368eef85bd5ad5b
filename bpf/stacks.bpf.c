// SPDX-License-Identifier: GPL-2.0
/*
 * Stack samples of the processes the agent watches: one object for all of them (the targets map
 * of targets.bpf.h says which processes, and the slot where each keeps its counters).
 *
 * On the CPU, normally: a cpu-clock perf event per CPU calls uvs_sample_on_cpu, which keeps
 * only the watched processes' samples. Those events are the agent's, not a target's: opened
 * once and shared by every target (collect/sampler.c). A per-thread event would run only while
 * its thread runs, but the kernel stops and restarts its timer at every context switch of that
 * thread, and in a VM that reprogramming cost the target about 1.4 us per switch (6 us per
 * thread-pool job); a per-CPU timer just keeps running. Other processes pay one index load per
 * tick (99 Hz), nothing per system call. A loop thread that is blocked is sampled faster by an
 * event of its own (uvs_sample_thread, the agent opens it with the thread's tid), and its tid
 * is in `boosted` so the per-CPU program leaves its samples to that event. Where per-CPU events
 * are refused, every thread of every target gets its own event and uvs_sample_thread (the agent
 * says which).
 *
 * Off the CPU: the agent reads a task iterator restricted to one sleeping loop thread (a loop
 * blocked in Atomics.wait or a slow sync read), which calls uvs_sample_off_cpu once.
 *
 * Both walk the user stack by frame pointers and keep, per frame, the pc, the frame pointer
 * and the two slots below it (V8 keeps a JavaScript frame's function at fp-16), which
 * bpf_get_stack cannot give. When the walk breaks (a function that uses %rbp for data), the
 * record also carries a copy of the top of the user stack for the agent's .eh_frame unwinder.
 *
 * The loop object's map of loop threads (loop_state) is shared (bpf_map__reuse_fd), so each
 * sample says whether its loop was busy or waiting; so are targets and target_index. Each
 * record says its process (tgid): the agent hands it to that target's stack namer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "loop_state.bpf.h"
#include "targets.bpf.h"
#include "uvscope/epoll_sites.h"
#include "uvscope/stacks.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Per slot: 1 while the target's samples are wanted. The agent sets it when it attaches the
 * target and clears it when it stops sampling it (quiesce), before the target leaves the
 * targets map: the per-CPU events, which stay for the other targets, take no more of its
 * samples, and what is already in the ring is still read.
 */
__u8 sampling[UVS_MAX_TARGETS];

/* The largest plausible gap between two frames: beyond it a "frame pointer" is data. */
#define MAX_FRAME_GAP (8u << 20)

struct sample_buf {
	struct uvs_stack_sample s;
	__u8 copy[UVS_STACK_COPY_BYTES];
};

/* Scratch for one record (too big for the BPF stack), one per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample_buf);
} scratch SEC(".maps");

/* The counters of each target, at its slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct uvs_stack_stats);
} stack_stats SEC(".maps");

/* The most: the agent sizes it to the rates it samples at (ring_bytes in sampler.c). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} samples SEC(".maps");

/*
 * Threads sampled by an event of their own (a blocked loop's): tid -> 1, for every target (a tid
 * is unique on the host). Written by the agent, which deletes a target's when it stops.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UVS_SAMPLER_BOOSTED_MAX);
	__type(key, __u32);
	__type(value, __u8);
} boosted SEC(".maps");

/* How one walk reads the target's memory: the current task's (on-CPU), or another's (off-CPU). */
struct walk_reader {
	struct task_struct *task; /* NULL: the current task */
};

static __always_inline long read_user(const struct walk_reader *r, void *dst, __u32 len,
				      __u64 addr)
{
	if (r->task)
		return bpf_copy_from_user_task(dst, len, (const void *)addr, r->task, 0);
	return bpf_probe_read_user(dst, len, (const void *)addr);
}

static __always_inline struct uvs_stack_stats *stats(__u32 slot)
{
	return bpf_map_lookup_elem(&stack_stats, &slot);
}

/* The target's slot when its samples are wanted now, else -1. */
static __always_inline int sampling_slot(const struct uvs_target_cfg *t)
{
	__u32 slot;

	if (!t)
		return -1;
	slot = uvs_slot(t);
	return sampling[slot] ? (int)slot : -1;
}

/*
 * Walks frame pointers from (ip, bp). A frame pointer must be 8-aligned and lie above the
 * previous one by less than MAX_FRAME_GAP; the walk is complete when it reaches a frame whose
 * saved frame pointer is 0 (the outermost frame: _start and clone3 clear %rbp).
 */
/*
 * A function with a pending uretprobe returns to the uprobes trampoline, not to its caller:
 * the kernel swapped the return address on the stack and keeps the original in the task's
 * return_instances, most recent first. The sample keeps the trampoline's address and those
 * originals; the agent puts them back in that order (as the kernel's own perf callchains do),
 * in the frame-pointer walk and in its own unwind of a stack copy alike. The walk itself goes
 * on by the frame pointers, which the swap leaves alone.
 */
static __always_inline void read_uretprobes(struct task_struct *task, struct uvs_stack_sample *s)
{
	struct xol_area *area = BPF_CORE_READ(task, mm, uprobes_state.xol_area);
	struct return_instance *ri;

	s->nuretprobe_ret = 0;
	s->uretprobe_trampoline = area ? BPF_CORE_READ(area, vaddr) : 0;
	if (!s->uretprobe_trampoline)
		return;
	ri = BPF_CORE_READ(task, utask, return_instances);
	for (int i = 0; i < UVS_URETPROBES_MAX && ri; i++) {
		s->uretprobe_ret[i] = BPF_CORE_READ(ri, orig_ret_vaddr);
		s->nuretprobe_ret = i + 1;
		ri = BPF_CORE_READ(ri, next);
	}
}

static __always_inline void walk_user(const struct walk_reader *r, struct task_struct *task,
				      struct uvs_stack_sample *s)
{
	__u64 pc = s->ip, fp = s->bp;
	__u32 n = 0;

	read_uretprobes(task, s);

	s->walk_end = UVS_WALK_TRUNCATED;
	for (int i = 0; i < UVS_USER_FRAMES_MAX; i++) {
		struct uvs_raw_frame *f = &s->user[i];
		__u64 slots[2] = {}, link[2] = {};

		f->pc = pc;
		f->fp = fp;
		f->slot_m8 = 0;
		f->slot_m16 = 0;
		n = i + 1;
		if (fp == 0) {
			/*
			 * A saved frame pointer of 0 ends the chain (_start and clone3 clear %rbp).
			 * A live %rbp of 0 proves nothing: code without frame pointers (libc's futex
			 * wait) uses it for data.
			 */
			s->walk_end = i ? UVS_WALK_COMPLETE : UVS_WALK_BROKEN;
			break;
		}
		if ((fp & 7) || fp < s->sp || read_user(r, link, sizeof(link), fp)) {
			s->walk_end = UVS_WALK_BROKEN;
			break;
		}
		if (!read_user(r, slots, sizeof(slots), fp - 16)) {
			f->slot_m16 = slots[0];
			f->slot_m8 = slots[1];
		}
		if (link[0] != 0 && (link[0] <= fp || link[0] - fp > MAX_FRAME_GAP)) {
			s->walk_end = UVS_WALK_BROKEN;
			break;
		}
		pc = link[1];
		fp = link[0];
	}
	s->nuser = n;
}

/* Copies the top of the user stack (and the red zone below it) after a broken walk; smaller
 * sizes near the stack's top. */
static __always_inline __u32 copy_stack(const struct walk_reader *r, struct sample_buf *b)
{
	__u64 sp = b->s.sp - UVS_STACK_COPY_REDZONE;

	if (!read_user(r, b->copy, UVS_STACK_COPY_BYTES, sp))
		return UVS_STACK_COPY_BYTES;
	if (!read_user(r, b->copy, UVS_STACK_COPY_BYTES / 2, sp))
		return UVS_STACK_COPY_BYTES / 2;
	if (!read_user(r, b->copy, UVS_STACK_COPY_BYTES / 4, sp))
		return UVS_STACK_COPY_BYTES / 4;
	if (!read_user(r, b->copy, UVS_STACK_COPY_BYTES / 16, sp))
		return UVS_STACK_COPY_BYTES / 16;
	return 0;
}

/*
 * Busy or idle. When only the waits' returns are hooked (bpf/loop.bpf.c, wait_returned), a
 * wait in progress shows in libuv's own stamp in the target, provider_entry_time, set after
 * the loop's last return; when the wait is folded into the phase uprobes (fold_wait), a wait
 * that ended since the last uv__io_poll entry shows in its idle time (uvs_loop_live).
 */
static __always_inline void tag_loop(const struct walk_reader *r, struct uvs_stack_sample *s)
{
	__u32 tid = s->tid;
	struct uvs_loop_state *st = bpf_map_lookup_elem(&loop_state, &tid);
	__u64 m[2] = {}, since;
	bool in_wait;

	s->loop = UVS_SAMPLE_NOT_LOOP;
	s->exact_phase = UVS_PHASE_NONE;
	if (!st)
		return;
	/* provider_entry_time and provider_idle_time, side by side (uvscope/epoll_sites.h) */
	if (!st->in_wait && st->lfields && st->metrics == UVS_LOOP_METRICS_ON &&
	    read_user(r, m, sizeof(m), st->lfields + UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME)) {
		m[0] = 0;
		m[1] = 0;
	}
	in_wait = uvs_loop_live(st, m[0], m[1], &since);
	s->loop = in_wait ? UVS_SAMPLE_LOOP_IDLE : UVS_SAMPLE_LOOP_BUSY;
	s->busy_since = in_wait ? 0 : since;
	s->exact_phase = st->phase;
}

/* Finishes a record in the scratch buffer b and sends it. */
static __always_inline void emit(const struct walk_reader *r, struct sample_buf *b, __u32 slot)
{
	struct uvs_stack_stats *st = stats(slot);
	__u32 size = sizeof(struct uvs_stack_sample);

	b->s.copy_len = 0;
	if (b->s.walk_end == UVS_WALK_BROKEN) {
		b->s.copy_len = copy_stack(r, b);
		if (st)
			__sync_fetch_and_add(b->s.copy_len ? &st->copies : &st->copy_failed, 1);
	}
	size += b->s.copy_len;
	/* Keep the bound check: the verifier must see size bounded where it is passed. */
	asm volatile("" : "+r"(size));
	if (size > sizeof(*b))
		return;
	if (bpf_ringbuf_output(&samples, b, size, 0)) {
		if (st)
			__sync_fetch_and_add(&st->lost, 1);
		return;
	}
	if (st)
		__sync_fetch_and_add(&st->samples, 1);
}

static __always_inline struct sample_buf *begin(__u32 tgid, __u32 tid, __u16 kind)
{
	__u32 zero = 0;
	struct sample_buf *b = bpf_map_lookup_elem(&scratch, &zero);

	if (!b)
		return NULL;
	b->s.ts_ns = bpf_ktime_get_ns();
	b->s.tgid = tgid;
	b->s.tid = tid;
	b->s.cpu = bpf_get_smp_processor_id();
	b->s.kind = kind;
	b->s.busy_since = 0;
	b->s.nuser = 0;
	b->s.nkernel = 0;
	b->s.ip = b->s.sp = b->s.bp = 0;
	b->s.uretprobe_trampoline = 0;
	b->s.nuretprobe_ret = 0;
	b->s.walk_end = UVS_WALK_NO_USER;
	return b;
}

static __always_inline bool user_mode(struct pt_regs *regs)
{
	return (BPF_CORE_READ(regs, cs) & 3) == 3;
}

static __always_inline int sample_current(struct bpf_perf_event_data *ctx, __u64 id, __u32 slot)
{
	struct walk_reader r = {};
	struct sample_buf *b;
	struct pt_regs *uregs;
	long got;

	b = begin(id >> 32, (__u32)id, UVS_SAMPLE_ON_CPU);
	if (!b)
		return 0;
	tag_loop(&r, &b->s);

	/* In the kernel: its stack from the interrupted registers, the user's from pt_regs. */
	/* The context allows only whole-register loads: cs is read as its 8-byte slot. */
	if ((*(volatile __u64 *)((char *)&ctx->regs + __builtin_offsetof(struct pt_regs, cs)) & 3) != 3) {
		got = bpf_get_stack(ctx, b->s.kernel, sizeof(b->s.kernel), 0);
		if (got > 0)
			b->s.nkernel = got / sizeof(__u64);
		uregs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
		if (!uregs || !user_mode(uregs))
			goto send;
		b->s.ip = BPF_CORE_READ(uregs, ip);
		b->s.sp = BPF_CORE_READ(uregs, sp);
		b->s.bp = BPF_CORE_READ(uregs, bp);
	} else {
		b->s.ip = ctx->regs.ip;
		b->s.sp = ctx->regs.sp;
		b->s.bp = ctx->regs.bp;
	}
	walk_user(&r, bpf_get_current_task_btf(), &b->s);
send:
	emit(&r, b, slot);
	return 0;
}

/*
 * A per-CPU event: whatever runs on this CPU now; the watched processes' threads only (the
 * target index first: a bystander pays one load and a compare), and not those a per-thread event of their
 * own samples.
 */
SEC("perf_event")
int uvs_sample_on_cpu(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	int slot = sampling_slot(uvs_target_of((__u32)(id >> 32)));

	if (slot < 0 || bpf_map_lookup_elem(&boosted, &tid))
		return 0;
	return sample_current(ctx, id, (__u32)slot);
}

/*
 * A per-thread event: it runs only while its thread does. The check still matters: the
 * target is not counted before the agent publishes it, nor after it stops sampling it.
 */
SEC("perf_event")
int uvs_sample_thread(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	int slot = sampling_slot(uvs_target_of((__u32)(id >> 32)));

	if (slot < 0)
		return 0;
	return sample_current(ctx, id, (__u32)slot);
}

/*
 * The stack of one sleeping thread, read when the agent reads an iterator link created for
 * that tid. Sleepable: the target's memory is read with bpf_copy_from_user_task.
 */
SEC("iter.s/task")
int uvs_sample_off_cpu(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct walk_reader r = {};
	struct sample_buf *b;
	struct pt_regs *uregs;
	long got;
	int slot;

	/* The iterator is made for one tid of a target; the check keeps it to watched ones. */
	if (!task)
		return 0;
	slot = sampling_slot(uvs_target_of(task->tgid));
	if (slot < 0)
		return 0;
	b = begin(task->tgid, task->pid, UVS_SAMPLE_OFF_CPU);
	if (!b)
		return 0;
	r.task = task;
	tag_loop(&r, &b->s);
	got = bpf_get_task_stack(task, b->s.kernel, sizeof(b->s.kernel), 0);
	if (got > 0)
		b->s.nkernel = got / sizeof(__u64);
	uregs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (uregs && user_mode(uregs)) {
		b->s.ip = BPF_CORE_READ(uregs, ip);
		b->s.sp = BPF_CORE_READ(uregs, sp);
		b->s.bp = BPF_CORE_READ(uregs, bp);
		walk_user(&r, task, &b->s);
	}
	emit(&r, b, (__u32)slot);
	return 0;
}
