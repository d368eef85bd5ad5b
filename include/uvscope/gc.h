/* SPDX-License-Identifier: MIT */
/*
 * Types shared by bpf/gc.bpf.c and the agent: V8 garbage collections per thread, from a uprobe
 * on the entry and a uretprobe on the return of v8::internal::Heap::PerformGarbageCollection.
 * Fixed-width types, widest fields first, sizes pinned.
 */
#ifndef UVSCOPE_GC_H
#define UVSCOPE_GC_H

/*
 * V8's enum class GarbageCollector (src/common/globals.h): SCAVENGER 0, MARK_COMPACTOR 1, and
 * the minor mark-compactor / mark-sweeper 2 (MINOR_MARK_COMPACTOR in V8 10-11, Node 18-20;
 * MINOR_MARK_SWEEPER in V8 12-13, Node 22-24). The value is PerformGarbageCollection's second
 * argument (%esi; `this` is %rdi) in every build from Node 18 to 24, and each build's code
 * agrees: it tests `collector & ~2` to tell the young-generation collectors from the full one.
 */
#define UVS_GC_MARK_COMPACTOR 1

/*
 * Cumulative figures of one thread since attach. Only that thread's probes write its entry,
 * so plain updates are enough. The window maximum lives in two slots that alternate with the
 * agent's window epoch: the agent bumps the epoch at the end of a window and then reads the
 * slot of the epoch it closed, which no later collection writes.
 */
struct uvs_gc_thread {
	__u64 count;          /* collections that ended */
	__u64 major;          /* ... of which MARK_COMPACTOR */
	__u64 total_ns;
	__u64 max_ns;         /* longest since attach */
	__u64 win_max_ns[2];  /* longest in the window of epoch win_epoch[i] */
	__u64 win_epoch[2];
	__u64 start_ns;       /* ktime the running collection began; 0 when none runs */
	__u32 collector;      /* of the running collection */
	__u32 nested;         /* entries while one was already running (never seen; counted) */
};
_Static_assert(sizeof(struct uvs_gc_thread) == 80, "uvs_gc_thread layout");

/* A thread's entry: threads of every watched process are in one map. */
struct uvs_gc_thread_key {
	__u32 tid;
	__u32 tgid;
};
_Static_assert(sizeof(struct uvs_gc_thread_key) == 8, "uvs_gc_thread_key layout");

/* One collection, sent to the agent when it ends. */
struct uvs_gc_event {
	__u64 start_ns;  /* CLOCK_MONOTONIC */
	__u64 end_ns;
	__u32 tgid;      /* the process */
	__u32 tid;
	__u32 collector; /* V8's GarbageCollector value */
	__u32 pad;
};
_Static_assert(sizeof(struct uvs_gc_event) == 32, "uvs_gc_event layout");

/*
 * Threads that collect garbage are isolate threads: the main thread and one per Worker, of
 * every watched process: a few each (room for 4,096 is about 0.5 MiB of kernel memory).
 */
#define UVS_GC_MAX_THREADS 4096

#endif /* UVSCOPE_GC_H */
