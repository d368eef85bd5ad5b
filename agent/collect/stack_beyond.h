/* SPDX-License-Identifier: MIT */
/*
 * The stack above a sample's copy, read from the target after the sample, for a thread asleep
 * in a system call: the frames a copy of UVS_STACK_COPY_BYTES cannot reach. A loop thread
 * blocked in execSync or spawnSync sleeps in a second event loop's epoll wait, whose
 * uv__io_poll keeps 12 KiB of epoll events on the stack; libc's epoll_pwait uses %rbp for data,
 * so the frame-pointer walk breaks at once, and the CFI walk of the copy ends at node's
 * SyncProcessRunner before the JS function that called execSync.
 *
 * Read only while the thread is provably where it was sampled: /proc/PID/task/TID/syscall
 * shows a thread blocked in a system call with its user %rsp and %rip; while they are the
 * sample's, the thread has not returned to user code since, so the stack above %rsp is the one
 * sampled. Checked before the first read and again after the walk (uvs_stack_beyond_held);
 * a thread that moved in between gets its copy-only walk. Reads go through process_vm_readv
 * (target/memory.h), a page at a time, at most UVS_STACK_BEYOND_PAGES pages per sample.
 */
#ifndef UVSCOPE_STACK_BEYOND_H
#define UVSCOPE_STACK_BEYOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "unwind/cfi_expr.h"
#include "uvscope/stacks.h"

#define UVS_STACK_BEYOND_PAGE 4096u
/* 64 KiB above the copy: a nested loop's frames and the JS that called it, with room. */
#define UVS_STACK_BEYOND_PAGES 16

struct uvs_stack_beyond_reader {
	int pid, tid;
	uint64_t sp, ip;   /* the sample's user registers */
	uint64_t from;     /* the copy's end: reads start there */
	bool checked;      /* the thread was looked at (first read) */
	bool held;         /* ... and was still where it was sampled */
	size_t npages;
	uint64_t page_addr[UVS_STACK_BEYOND_PAGES];
	uint8_t page[UVS_STACK_BEYOND_PAGES][UVS_STACK_BEYOND_PAGE];
	struct uvs_stack_beyond source; /* what the unwinder reads through */
};

/*
 * Sets b up for sample raw of process pid, whose copy ends at copy_end; false (b unusable) when
 * the sample is not of a thread asleep (only those stay as they were sampled).
 */
bool uvs_stack_beyond_init(struct uvs_stack_beyond_reader *b, int pid,
			   const struct uvs_stack_sample *raw, uint64_t copy_end);

/* Whether anything was read above the copy (and so whether the walk must be checked). */
bool uvs_stack_beyond_used(const struct uvs_stack_beyond_reader *b);

/* Whether the thread is still asleep where it was sampled: what was read is its stack. */
bool uvs_stack_beyond_held(const struct uvs_stack_beyond_reader *b);

/*
 * Whether the text of /proc/PID/task/TID/syscall shows a thread blocked in a system call at
 * user sp and pc (pure, for the tests).
 */
bool uvs_stack_beyond_same_place(const char *syscall_text, uint64_t sp, uint64_t pc);

#endif
