/* SPDX-License-Identifier: MIT */
/*
 * Bounded readers for /proc files and target memory. Everything read here comes from the
 * target or the kernel on its behalf and is treated as untrusted: sizes are capped, lines are
 * parsed strictly and a malformed line is skipped, never trusted.
 */
#ifndef UVSCOPE_PROCFS_H
#define UVSCOPE_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UVS_PATH_MAX 4096

/* One line of /proc/PID/maps. */
struct uvs_map {
	uint64_t start;
	uint64_t end;
	uint64_t offset;
	uint64_t inode;
	bool exec;
	bool read;
	char path[UVS_PATH_MAX]; /* empty for anonymous mappings; sanitized (util/text.h) */
};

/* Reads at most cap-1 bytes of a file and NUL-terminates; returns the length or -errno. */
ssize_t uvs_read_file(const char *path, char *buf, size_t cap);

/* Parses one maps line into *m; returns 0, or -EINVAL for a malformed line. */
int uvs_parse_maps_line(const char *line, struct uvs_map *m);

/*
 * Calls fn for each well-formed line of /proc/PID/maps, stopping early when fn returns
 * non-zero (that value is returned). Returns 0 at the end, or -errno if the file can't be read.
 */
int uvs_maps_foreach(pid_t pid, int (*fn)(const struct uvs_map *m, void *arg), void *arg);

/* The same over the text of a maps file (tests, fuzzing): returns 0, fn's stop value, or
 * -ENOMEM. Lines longer than any real one are skipped, as malformed ones are. */
int uvs_maps_text_foreach(const char *text, size_t len,
			  int (*fn)(const struct uvs_map *m, void *arg), void *arg);

/* Reads len bytes of the target's memory at addr; returns 0 or -errno (short reads fail). */
int uvs_read_mem(pid_t pid, uint64_t addr, void *buf, size_t len);

/*
 * The state letter of /proc/PID/task/TID/stat ('R' running, 'S' sleeping, 'D' disk wait, ...),
 * found after the last ')' (the comm between parentheses may hold any byte). 0 if unreadable.
 */
char uvs_parse_stat_state(const char *text);
char uvs_thread_state(pid_t pid, pid_t tid);

/*
 * Whether thread tid of process pid exists, by a stat of /proc/PID/task/TID. /proc rather than
 * a signal 0: once attached, the agent may no longer signal another user's process, but it
 * still reads its /proc. UNKNOWN when /proc cannot say (EACCES, ENOMEM, ...): each caller
 * decides what that means for it, and says why.
 */
enum uvs_thread_presence {
	UVS_THREAD_GONE,    /* no such task (ENOENT, ESRCH): the thread or its process ended */
	UVS_THREAD_PRESENT, /* a task of pid now (the tid may have been reused, within pid) */
	UVS_THREAD_UNKNOWN,
};
enum uvs_thread_presence uvs_thread_presence(pid_t pid, pid_t tid);

/* Parses /proc/PID/task/TID/syscall: nr (-1 when not in a syscall), and the user sp and pc.
 * Returns 0, -EAGAIN when the thread is running (no registers shown), -errno otherwise. */
int uvs_parse_syscall_file(const char *text, long *nr, uint64_t *sp, uint64_t *pc);
/* The same, and the syscall's first argument: -ENODATA when the thread is not in a syscall. */
int uvs_parse_syscall_args(const char *text, long *nr, uint64_t *arg0, uint64_t *sp, uint64_t *pc);

#endif
