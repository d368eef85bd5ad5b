/* SPDX-License-Identifier: MIT */
/*
 * How the agent's heap gives memory back. Attaching reads big things once and frees them
 * (the kernel's BTF, about 5.5 MB raw, once per BPF object libbpf loads; libelf's copies of a
 * binary's symbol and string tables, 10-17 MB for node), while what the agent keeps for the
 * session is small. glibc's default lets such blocks stay in the heap after they are freed:
 * once a freed mmap'ed block raises its dynamic mmap threshold (up to 32 MiB), the next big
 * blocks come from the heap, where the small ones the session keeps pin them. The agent's RSS
 * then stays at the peak of attaching.
 */
#ifndef UVSCOPE_HEAP_H
#define UVSCOPE_HEAP_H

/*
 * Call first thing in main: blocks of UVS_HEAP_MMAP_BYTES and more get their own mapping,
 * always (a fixed threshold turns glibc's dynamic one off), so freeing one unmaps it.
 */
void uvs_heap_setup(void);

/* Returns the heap's free memory to the kernel; after attaching, when the big frees are done. */
void uvs_heap_release(void);

/* From this size on a block is mapped on its own; below, it comes from the heap. */
#define UVS_HEAP_MMAP_BYTES (128u * 1024)

#endif
