/* SPDX-License-Identifier: MIT */
/*
 * The process we attach to: that it exists and may be traced, the ELF object in it that holds
 * libuv (the node executable, libuv.so or libnode.so), and the role of each of its threads.
 */
#ifndef UVSCOPE_TARGET_H
#define UVSCOPE_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "target/elf.h"
#include "target/node_version.h"
#include "target/procfs.h"
#include "core/snapshot.h"
#include "target/thread_roles.h"

#define UVS_MAX_THREADS 4096

/* An ELF object mapped into the target. */
struct uvs_object {
	char path[UVS_PATH_MAX]; /* as /proc/PID/maps shows it (may end in " (deleted)") */
	/* /proc/PID/exe or /proc/PID/map_files/A-B: what we open and probe (/proc/PID/root/PATH
	 * where map_files may not be read: without CAP_SYS_ADMIN) */
	char open_path[UVS_PATH_MAX + 32];
	uint64_t bias;           /* runtime address = address in the object + bias */
	struct uvs_elf *elf;
};

struct uvs_thread {
	pid_t tid;
	enum uvs_role role;
	bool role_known; /* false until a stack of it was read in a syscall, or sampled */
	char comm[16];   /* sanitized where read */
};

/*
 * The roles and names of threads that have exited, newest last, for figures that arrive after
 * the exit.
 */
#define UVS_ROLE_HISTORY 1024

struct uvs_role_seen {
	pid_t tid;
	enum uvs_role role;
	bool known;
	char comm[16];
};

struct uvs_code_hold;

struct uvs_target {
	pid_t pid;
	char comm[16];
	char exe[UVS_PATH_MAX];
	struct uvs_object uv;   /* the object that defines uv_run */
	struct uvs_object node; /* the object that defines node::worker::Worker::Run, if any */
	bool has_node_object;
	bool node_is_uv;        /* node is uv (one uvs_elf, closed once): official builds */
	char build_id[2 * 64 + 1]; /* of the libuv object, hex; empty when it has none */
	bool build_id_checked;     /* the same build-id was found in the target's memory */
	char libuv_version[24];    /* "1.46.0", or "unknown" */
	uint32_t libuv_hex;        /* 0x012e00 for 1.46.0; 0 when unknown */
	struct uvs_range fn_uv_run, fn_pool_worker, fn_worker_run; /* runtime; 0 when unknown */
	char node_version[UVS_NODE_VERSION_MAX]; /* "v20.20.2" from the binary; empty: unknown */
	size_t nthreads;
	struct uvs_thread threads[UVS_MAX_THREADS];
	size_t nhistory;           /* exited threads whose role was known */
	struct uvs_role_seen history[UVS_ROLE_HISTORY];
	/* While attaching: one read of the maps for every probe-site check (code_maps.h). */
	struct uvs_code_hold *code_hold;
};

/*
 * Opens the target: checks that the process exists (-ESRCH), reads its maps (-EACCES when we
 * may not), finds the libuv object (-ENOEXEC when no mapped object defines uv_run), reads
 * symbols, build-id and libuv version, and lists threads with their roles. On error `why`
 * holds one lowercase sentence for the user. The struct is large: allocate it on the heap.
 */
int uvs_target_open(struct uvs_target *t, pid_t pid, char *why, size_t cap);

/* Releases what uvs_target_open took; safe on a zeroed or half-opened target. */
void uvs_target_close(struct uvs_target *t);

/*
 * Frees the symbol and string tables that attaching read from the target's objects (see
 * uvs_elf_drop_tables); lookups after this still work, reading them again.
 */
void uvs_target_drop_tables(struct uvs_target *t);

/*
 * Re-lists the threads, keeping known roles, classifying threads whose role is not known yet
 * (one read of /proc/PID/maps for all of them, and only when one of them is found stopped) and
 * remembering the roles of threads that exited. Call once per window. Returns 0 or -errno.
 */
int uvs_target_refresh_threads(struct uvs_target *t);

/*
 * A thread just did something that tells its role is worth knowing now (it waited in a loop's
 * epoll for the first time): list it if it is new and classify it while it waits, again if an
 * earlier read said "other" (a read outside its loop proves nothing).
 */
void uvs_target_learn_thread(struct uvs_target *t, pid_t tid);

/*
 * The role of a thread as last known: a live thread's, or an exited one's from the history.
 * Reads nothing: UVS_ROLE_OTHER with *known false when the thread was never placed.
 */
enum uvs_role uvs_target_role(const struct uvs_target *t, pid_t tid, bool *known);

/* Reads the name of a thread of pid (/proc/PID/task/TID/comm), sanitized; "" when unreadable. */
void uvs_read_thread_comm(pid_t pid, pid_t tid, char *out, size_t cap);

/*
 * True when the runtime address lies in an executable mapping of the object's own file, so a
 * uprobe placed in the file fires there. `node --use-largepages` copies its code to anonymous
 * huge pages at start: the code still runs at the same addresses, but not from the file.
 */
bool uvs_object_maps_code(const struct uvs_target *t, const struct uvs_object *o, uint64_t addr);

/*
 * From here to uvs_target_release_code, uvs_object_maps_code answers from one read of the maps
 * (taken at its first call) instead of one read per call: around an attach, which checks some
 * fifty probe sites. Returns 0 or -ENOMEM (then every check reads for itself, as without).
 */
int uvs_target_hold_code(struct uvs_target *t);

/*
 * Ends the hold: reads the maps once more and checks again every check that passed on the
 * hold's read (target/code_maps.h). Returns 0, or -ESTALE with one sentence in `why` when an
 * address that passed no longer runs from its file (the target's code moved while attaching:
 * the uprobes placed may never fire), or -errno when the maps cannot be read any more.
 */
int uvs_target_release_code(struct uvs_target *t, char *why, size_t cap);

/*
 * True when the object's build-id is found in the first pages of its mapping in the target (or
 * the file has none): the file we would probe is the one running. Reads the target's memory.
 */
bool uvs_object_build_id_in_memory(const struct uvs_target *t, const struct uvs_object *o);

/* The thread's name as last listed, also after it exited (empty when unknown). */
void uvs_target_thread_comm(const struct uvs_target *t, pid_t tid, char *out, size_t cap);

/*
 * Whether pid has exited but is still listed: its main thread a zombie (or dead), which a
 * Node process's is only once the process has exited. False when /proc cannot say.
 */
bool uvs_pid_exited(pid_t pid);

/*
 * Whether pid is a process to look at: 0, or -ESRCH with why saying why not (no such process,
 * or one that has exited and is not yet reaped). Every command that takes a pid asks this first.
 */
int uvs_pid_check(pid_t pid, char *why, size_t cap);

/*
 * Places listed thread tid, whose role is not known yet, in role, which a sampled stack or its
 * loop's metrics showed (uvs_stack_resolver_role, uvs_role_by_loop_metrics): only a Worker's
 * loop, a pool thread or another libuv loop is taken, since a stack that passes through none of
 * their functions may be a cut walk. A thread read as "other" is placed too: that read proved
 * nothing either (a Worker in a syscall deeper than the scan reaches, or in its start or
 * teardown outside Worker::Run). True when the thread was placed now.
 */
bool uvs_target_place_thread(struct uvs_target *t, pid_t tid, enum uvs_role role);

/* True while the target process still exists. */
bool uvs_target_alive(const struct uvs_target *t);

#endif
