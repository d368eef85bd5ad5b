/* SPDX-License-Identifier: MIT */
/*
 * Unwinding a copy of the target's user stack with call frame information (.eh_frame, else
 * .debug_frame), as `perf --call-graph dwarf` does: for the samples whose frame-pointer walk
 * broke in code that uses %rbp as a general register (OpenSSL's assembly).
 *
 * Frame by frame: where the pc's object has CFI for it, the CFI rules (libdw's
 * dwarf_cfi_addrframe) give the caller's registers; where it has none (V8's JIT code in
 * anonymous mappings, the embedded builtins in node's .text) the walk goes on by frame pointer
 * from the %rbp the CFI recovered, which is then the JIT frame's fp. Every stack word comes
 * from the copy; the target's memory is never read.
 */
#ifndef UVSCOPE_CFI_UNWIND_H
#define UVSCOPE_CFI_UNWIND_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uvscope/stacks.h"
#include "unwind/cfi_expr.h"
#include "unwind/object_source.h"

struct uvs_unwinder;

/*
 * For one target: its objects found through /proc/PID/maps (unwind/proc_objects.h), each
 * object's CFI held for the unwinder's life, shared with every other unwinder whose target
 * maps the same object (cfi_objects.h). NULL with errno set.
 */
struct uvs_unwinder *uvs_unwinder_new(int pid);

/* The same over another map of objects (the symbolizer's); src must outlive the unwinder. */
struct uvs_unwinder *uvs_unwinder_new_with_source(const struct uvs_object_source *src);

void uvs_unwinder_free(struct uvs_unwinder *u);

/*
 * Unwinds from (ip, sp, bp) through copy = the bytes [sp, sp + len) of the target's stack.
 * Writes frames into out[0..cap) as struct uvs_raw_frame (pc, fp, and slot_m8/slot_m16 read
 * from the copy when fp-16..fp is inside it, else 0), frame 0 = ip. Returns the number of
 * frames; *complete is true when the walk reached the outermost frame (CFI says the return
 * address is undefined, as at _start and clone's thread start, or a frame pointer of 0 where
 * there is no CFI). Never reads the target's memory: only the copy (bounded), and the
 * objects' files.
 */
int uvs_unwind_copy(struct uvs_unwinder *u, uint64_t ip, uint64_t sp, uint64_t bp,
		    const uint8_t *copy, size_t len, struct uvs_raw_frame *out, size_t cap,
		    bool *complete);

/*
 * The same with a copy that starts at copy_base, which may lie below sp: a copy taken from
 * sp - 128 keeps the red zone, where leaf functions keep data below %rsp. OpenSSL's
 * sha512_block_data_order_avx2 keeps its saved %rsp at -8(%rsp) through its main loop, so the
 * CFA of most of its samples can be found only with the red zone in the copy.
 */
int uvs_unwind_copy_at(struct uvs_unwinder *u, uint64_t ip, uint64_t sp, uint64_t bp,
		       uint64_t copy_base, const uint8_t *copy, size_t len,
		       struct uvs_raw_frame *out, size_t cap, bool *complete);

/*
 * The same, going on above the copy's end through beyond (NULL: as uvs_unwind_copy_at). For a
 * stack that cannot have changed since it was copied, the thread still asleep in the same
 * system call (collect/stack_beyond.h): a thread asleep in a nested event loop (execSync's)
 * keeps a 12 KiB epoll buffer in uv__io_poll's frame, and its JS caller lies further up than
 * any copy a sampler takes.
 */
int uvs_unwind_copy_beyond(struct uvs_unwinder *u, uint64_t ip, uint64_t sp, uint64_t bp,
			   uint64_t copy_base, const uint8_t *copy, size_t len,
			   const struct uvs_stack_beyond *beyond, struct uvs_raw_frame *out,
			   size_t cap, bool *complete);

/*
 * The caller that a frame-pointer walk from (ip, sp, bp) skipped, or 0 when it skipped none.
 *
 * A frame-pointer walk that did not break can still miss one frame: the caller of an innermost
 * function that keeps no frame of its own at ip (a leaf built without frame pointers, as node's
 * FastPerformanceNow that optimized JS calls for performance.now(), libc's syscall wrappers, a
 * function after its `pop %rbp` or still in its prologue). %rbp is then still the caller's, so
 * the walk's second pc ([rbp + 8]: fp_caller_pc) is the caller's caller. One CFI step from ip
 * says where the leaf's return address is; a caller other than fp_caller_pc means the leaf had
 * no frame of its own at ip. The %rbp that step gives back is not looked at: after a `pop %rbp`
 * the CFI reads it from below %rsp, which a perf sample's copy does not hold. Where ip has no
 * CFI (JIT code) the step is a frame-pointer step, finds fp_caller_pc, and this returns 0.
 * copy as for uvs_unwind_copy_at.
 */
uint64_t uvs_unwind_missed_leaf_caller(struct uvs_unwinder *u, uint64_t ip, uint64_t sp,
				       uint64_t bp, uint64_t copy_base, const uint8_t *copy,
				       size_t len, uint64_t fp_caller_pc);

/* How the walks so far went, frame steps by kind and walks by how they ended. */
struct uvs_unwind_stats {
	uint64_t walks;
	uint64_t complete;    /* reached the outermost frame */
	uint64_t cfi_steps;   /* callers found by CFI */
	uint64_t fp_steps;    /* callers found by frame pointer (no CFI for the pc) */
	uint64_t stop_cfi;    /* CFI for the pc, but a rule needs what the copy does not have */
	uint64_t stop_fp;     /* no CFI and no frame pointer that points into the copy */
	uint64_t stop_cap;    /* out[] full */
	uint64_t rows_cached; /* CFI rows found in the cache of rows by pc */
};

/*
 * Drops the CFI rows cached by pc. Call it when an object was unmapped from the target (a
 * library dlclose'd): another may come to the same addresses. The objects' CFI stays.
 */
void uvs_unwinder_forget_rows(struct uvs_unwinder *u);

void uvs_unwinder_stats(const struct uvs_unwinder *u, struct uvs_unwind_stats *out);

#endif
