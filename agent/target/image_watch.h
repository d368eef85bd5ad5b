/* SPDX-License-Identifier: MIT */
/*
 * Whether a process still runs the program image uvscope attached to. An exec keeps the pid
 * (and, from any thread, the leader's tid) but replaces the address space: what uvscope read
 * of the old one (its maps, symbols, V8's heap layout, libuv's statics) names nothing in the
 * new one, and process_vm_readv by pid reads the new one without a word. A /proc/PID/mem
 * opened at attach holds the old address space instead: once an exec has dropped it, reads
 * through that fd return nothing, so one pread says, exactly and for one system call, whether
 * the image is the one seen at attach (an exit ends reads the same way).
 */
#ifndef UVSCOPE_IMAGE_WATCH_H
#define UVSCOPE_IMAGE_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uvs_image_watch {
	int fd;        /* /proc/PID/mem of the image seen at open; -1 when not open */
	uint64_t addr; /* a readable byte of that image: its first readable mapping */
};

/* Opens the watch on pid's current image. 0 or -errno (then w->fd is -1). */
int uvs_image_watch_open(struct uvs_image_watch *w, pid_t pid);

/*
 * 1 while pid runs the image seen at open, 0 once it has exec'd or exited (the old address
 * space is gone), -errno when it cannot be told (the watch is not open, a read error).
 */
int uvs_image_watch_same(const struct uvs_image_watch *w);

/*
 * What pid runs now, for saying what it exec'd: /proc/PID/exe's target, sanitized, or
 * "unknown". Into exe (cap bytes). Returns 0, or -errno of the link's read: -ENOENT when the
 * process has no memory left, as while it exits (an exec'd one has its new program's).
 */
int uvs_image_exe(pid_t pid, char *exe, size_t cap);

/* Closes the watch; safe on one never opened or closed already. */
void uvs_image_watch_close(struct uvs_image_watch *w);

#endif
