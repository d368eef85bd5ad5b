/* SPDX-License-Identifier: MIT */
/*
 * Types shared by bpf/stacks.bpf.c and the agent: one stack sample as BPF walks it.
 *
 * BPF walks the user stack by frame pointers itself (bpf_get_stack cannot: a JavaScript frame
 * is named by the JSFunction V8 keeps in the frame, at fp-16, and bpf_get_stack returns only
 * return addresses). For every frame it keeps the pc, the frame pointer and the two slots
 * below it; the agent decides which frames are V8's and what the slots mean.
 *
 * When the walk breaks before the outermost frame (a function that uses %rbp as a general
 * register, such as OpenSSL's sha256_block_data_order_avx2), BPF also copies the top of the
 * user stack, and the agent unwinds that copy with .eh_frame (as `perf --call-graph dwarf`).
 *
 * Fixed-width types, widest fields first, sizes pinned.
 */
#ifndef UVSCOPE_STACKS_H
#define UVSCOPE_STACKS_H

#define UVS_USER_FRAMES_MAX 96   /* frames walked by frame pointer */
#define UVS_KERNEL_FRAMES_MAX 48 /* kernel return addresses (bpf_get_stack) */
#define UVS_URETPROBES_MAX 8      /* pending uretprobe returns kept per sample */
#define UVS_STACK_COPY_BYTES 16384 /* user stack copied when the walk breaks */
/*
 * Threads sampled by a faster event of their own at once, over every target of the agent
 * (blocked loops: one target's UVS_MAX_LOOPS fits; past it, a blocked loop stays at the normal
 * rate).
 */
#define UVS_SAMPLER_BOOSTED_MAX 256
/*
 * The copy starts this far below %rsp: leaf functions keep data in the red zone below the stack
 * pointer (OpenSSL's sha512_block_data_order_avx2 keeps its saved %rsp at -8(%rsp)).
 */
#define UVS_STACK_COPY_REDZONE 128

/* One frame of the frame-pointer walk. Frame 0 is the interrupted pc with the live %rbp. */
struct uvs_raw_frame {
	__u64 pc;      /* frame 0: the interrupted pc; frame i > 0: the return address */
	__u64 fp;      /* the frame pointer this pc ran with */
	__u64 slot_m8; /* *(fp - 8): V8's context or frame-type marker; 0 if unreadable */
	__u64 slot_m16; /* *(fp - 16): V8's JSFunction in a JavaScript frame; 0 if unreadable */
};
_Static_assert(sizeof(struct uvs_raw_frame) == 32, "uvs_raw_frame layout");

enum uvs_sample_kind {
	UVS_SAMPLE_ON_CPU = 1, /* a perf-event sample: the thread was running */
	UVS_SAMPLE_OFF_CPU,    /* a read of a sleeping thread's stack (a blocked loop off the CPU) */
};

/* How the frame-pointer walk ended. */
enum uvs_walk_end {
	UVS_WALK_COMPLETE = 0, /* reached the outermost frame (fp 0) */
	UVS_WALK_TRUNCATED,    /* UVS_USER_FRAMES_MAX frames taken, more may follow */
	UVS_WALK_BROKEN,       /* a frame pointer that cannot be one: the rest needs .eh_frame */
	UVS_WALK_NO_USER,      /* no user registers (a kernel thread, or an exiting task) */
};

/* Loop state of the sampled thread, from loop_state in BPF at the moment of the sample. */
enum uvs_sample_loop {
	UVS_SAMPLE_NOT_LOOP = 0, /* not a loop thread (or not yet seen waiting) */
	UVS_SAMPLE_LOOP_BUSY,    /* a loop thread between its epoll waits */
	UVS_SAMPLE_LOOP_IDLE,    /* a loop thread inside its epoll wait */
};

/*
 * One record per sample in the ring buffer: this struct, then copy_len bytes of the user
 * stack from `sp` when the frame-pointer walk broke (UVS_WALK_BROKEN), so the agent can unwind
 * them with .eh_frame. Records from the on-CPU perf event and from the off-CPU read of a
 * sleeping thread have the same shape.
 */
struct uvs_stack_sample {
	__u64 ts_ns;        /* bpf_ktime_get_ns() */
	__u64 busy_since;   /* loop threads: loop_state.busy_since, to place the sample in a block */
	__u64 ip, sp, bp;   /* user registers at the sample (for the .eh_frame unwinder) */
	__u32 tgid;         /* the process: the agent routes the record to its target's namer */
	__u32 tid;
	__u32 cpu;
	__u32 copy_len;     /* bytes of user stack, from sp - UVS_STACK_COPY_REDZONE, that follow
			       this struct in the record */
	__u16 kind;         /* enum uvs_sample_kind */
	__u16 walk_end;     /* enum uvs_walk_end */
	__u16 loop;         /* enum uvs_sample_loop */
	__u16 exact_phase;  /* loop_state.phase (meaningful only with the exact-phase probes) */
	__u16 nuser;        /* frames in user[] */
	__u16 nkernel;      /* addresses in kernel[] */
	__u32 pad;
	/*
	 * A function with a pending uretprobe (the exact phases', the pool's, GC's, anyone's)
	 * returns to the kernel's uprobes trampoline: its caller's address on the stack is the
	 * trampoline's, and the original is kept by the kernel, most recent first. BPF's walk puts
	 * them back; an unwinder working on the copy must do the same with these.
	 */
	__u64 uretprobe_trampoline;   /* 0: the process has no uprobes area */
	__u64 uretprobe_ret[UVS_URETPROBES_MAX];
	__u32 nuretprobe_ret;
	__u32 pad2;
	__u64 kernel[UVS_KERNEL_FRAMES_MAX];
	struct uvs_raw_frame user[UVS_USER_FRAMES_MAX];
};

/* Counters BPF keeps for the agent: per CPU, one entry per target (at its slot). */
struct uvs_stack_stats {
	__u64 samples;      /* records written */
	__u64 lost;         /* records the ring buffer had no room for */
	__u64 copies;       /* records that carry a stack copy */
	__u64 copy_failed;  /* walks that broke and whose stack could not be copied */
};

#endif
