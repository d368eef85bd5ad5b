// SPDX-License-Identifier: GPL-2.0
/*
 * V8 garbage collections of one target process, per thread.
 *
 * Every collection V8 makes on an isolate's thread (minor: scavenge or minor mark-sweep;
 * major: full mark-compact) goes through v8::internal::Heap::PerformGarbageCollection(
 * collector, reason, ...). A uprobe on its entry notes the start and the collector (second
 * argument, %esi), a uretprobe on its return ends the collection: counted per thread, timed,
 * and sent to the agent as one ring-buffer record. Collections are rare (a few per second on a
 * busy server), so the return probe costs little; why it is safe is in collect/gc.c.
 *
 * One object serves every process the agent watches (include/uvscope/targets.h): the uprobes
 * are attached per process, threads are keyed by process and thread, and the figures the agent
 * reads as a whole (window epoch, losses) are kept per slot.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "targets.bpf.h"
#include "uvscope/gc.h"

/*
 * Per slot. The agent's window epoch: it bumps it (through the mmapped .bss) at the end of a
 * window. Losses, read by the agent: collections not followed (the map of threads was full),
 * records the ring buffer had no room for.
 */
__u64 window_epoch[UVS_MAX_TARGETS] = {};
__u64 threads_lost[UVS_MAX_TARGETS] = {};
__u64 records_dropped[UVS_MAX_TARGETS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UVS_GC_MAX_THREADS);
	__type(key, struct uvs_gc_thread_key);
	__type(value, struct uvs_gc_thread);
} gc_threads SEC(".maps");

/* 32-byte records: room for over 6,500 collections between two reads of the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} gc_records SEC(".maps");

static __always_inline struct uvs_gc_thread_key thread_key(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	return (struct uvs_gc_thread_key){ .tid = (__u32)id, .tgid = (__u32)(id >> 32) };
}

/* Heap::PerformGarbageCollection(this, collector, reason, ...) */
SEC("uprobe")
int BPF_KPROBE(uvs_gc_enter, void *heap, __u32 collector)
{
	const struct uvs_target_cfg *t = uvs_current_target();
	struct uvs_gc_thread_key key = thread_key();
	struct uvs_gc_thread fresh = {}, *th;

	if (!t)
		return 0;
	th = bpf_map_lookup_elem(&gc_threads, &key);
	if (!th) {
		if (bpf_map_update_elem(&gc_threads, &key, &fresh, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&gc_threads, &key)) {
			__sync_fetch_and_add(&threads_lost[uvs_slot(t)], 1);
			return 0;
		}
		th = bpf_map_lookup_elem(&gc_threads, &key);
		if (!th)
			return 0;
	}
	/* V8 never starts a collection inside another; if it did, the inner one is measured. */
	if (th->start_ns)
		th->nested++;
	th->start_ns = bpf_ktime_get_ns();
	th->collector = collector;
	return 0;
}

static __always_inline void window_max(struct uvs_gc_thread *th, __u64 d, __u32 tslot)
{
	__u64 epoch = window_epoch[tslot];
	__u32 slot = epoch & 1;

	if (th->win_epoch[slot] != epoch) {
		th->win_epoch[slot] = epoch;
		th->win_max_ns[slot] = 0;
	}
	if (d > th->win_max_ns[slot])
		th->win_max_ns[slot] = d;
}

/*
 * No wakeup per record: the agent drains this ring whenever it reads any of its rings (the
 * loop's block-end event, every window), which is soon enough for a record of the past and
 * keeps a collection's cost at two probe hits (waking the agent doubled it at high rates).
 */
static __always_inline void send_record(const struct uvs_gc_thread_key *key, __u32 tslot,
					__u64 start, __u64 end, __u32 collector)
{
	struct uvs_gc_event *e = bpf_ringbuf_reserve(&gc_records, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&records_dropped[tslot], 1);
		return;
	}
	e->start_ns = start;
	e->end_ns = end;
	e->tgid = key->tgid;
	e->tid = key->tid;
	e->collector = collector;
	e->pad = 0;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

SEC("uprobe")
int uvs_gc_return(struct pt_regs *ctx)
{
	const struct uvs_target_cfg *t = uvs_current_target();
	struct uvs_gc_thread_key key = thread_key();
	struct uvs_gc_thread *th;
	__u64 now, start, d;
	__u32 tslot;

	if (!t)
		return 0;
	tslot = uvs_slot(t);
	th = bpf_map_lookup_elem(&gc_threads, &key);
	/* No start: the collection began before the entry probe was in place. */
	if (!th || !th->start_ns)
		return 0;
	now = bpf_ktime_get_ns();
	start = th->start_ns;
	d = now > start ? now - start : 0;
	th->start_ns = 0;
	th->count++;
	if (th->collector == UVS_GC_MARK_COMPACTOR)
		th->major++;
	th->total_ns += d;
	if (d > th->max_ns)
		th->max_ns = d;
	window_max(th, d, tslot);
	send_record(&key, tslot, start, now, th->collector);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
