// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "util/text.h"
#include "target/code_maps.h"
#include "target/process.h"
#include "target/thread_roles.h"

#define MAX_OBJECTS 512
#define BUILD_ID_SCAN_BYTES (64 * 1024)
#define NODE_WORKER_RUN "_ZN4node6worker6Worker3RunEv"

/* A distinct file mapped executable into the target, as found in /proc/PID/maps. */
struct mapped_object {
	uint64_t base;  /* start of the mapping at file offset 0 (0 when not seen) */
	uint64_t start; /* start and end of that mapping, for /proc/PID/map_files */
	uint64_t end;
	uint64_t inode;
	bool exec;
	char *path;
};

struct object_list {
	size_t n;
	struct mapped_object o[MAX_OBJECTS];
};

static int collect_object(const struct uvs_map *m, void *arg)
{
	struct object_list *l = arg;
	struct mapped_object *o = NULL;
	size_t i;

	if (m->path[0] != '/')
		return 0;
	for (i = 0; i < l->n; i++) {
		if (l->o[i].inode == m->inode && strcmp(l->o[i].path, m->path) == 0) {
			o = &l->o[i];
			break;
		}
	}
	if (!o) {
		if (l->n == MAX_OBJECTS)
			return 0;
		o = &l->o[l->n];
		o->path = strdup(m->path);
		if (!o->path)
			return -ENOMEM;
		o->inode = m->inode;
		l->n++;
	}
	o->exec |= m->exec;
	if (m->offset == 0 && (o->base == 0 || m->start < o->base)) {
		o->base = m->start;
		o->start = m->start;
		o->end = m->end;
	}
	return 0;
}

static void free_objects(struct object_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->o[i].path);
	l->n = 0;
}

static bool is_lib(const char *path, const char *prefix)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, prefix, strlen(prefix)) == 0;
}

/* The order in which objects are searched for uv_run: the executable, libuv, libnode, rest. */
static int search_rank(const struct mapped_object *o, uint64_t exe_inode)
{
	if (o->inode == exe_inode)
		return 0;
	if (is_lib(o->path, "libuv.so"))
		return 1;
	if (is_lib(o->path, "libnode.so"))
		return 2;
	return 3;
}

/* Opens a mapped object the way the kernel sees it, so a replaced binary still resolves. */
static int open_object(pid_t pid, const struct mapped_object *o, bool is_exe, struct uvs_object *out)
{
	if (is_exe)
		snprintf(out->open_path, sizeof(out->open_path), "/proc/%d/exe", (int)pid);
	else
		snprintf(out->open_path, sizeof(out->open_path), "/proc/%d/map_files/%llx-%llx",
			 (int)pid, (unsigned long long)o->start, (unsigned long long)o->end);
	out->elf = uvs_elf_open(out->open_path);
	if (!out->elf && (errno == EPERM || errno == EACCES) && !is_exe) {
		/*
		 * map_files needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE); where only
		 * CAP_SYS_PTRACE is granted, the file is reached by its path in the target's root,
		 * if it is still the file mapped (same inode), as symbols/address_space.c does.
		 */
		struct stat st;

		snprintf(out->open_path, sizeof(out->open_path), "/proc/%d/root%s", (int)pid,
			 o->path);
		if (o->path[0] != '/' || stat(out->open_path, &st) || st.st_ino != o->inode) {
			errno = EACCES;
			return -EACCES;
		}
		out->elf = uvs_elf_open(out->open_path);
	}
	if (!out->elf)
		return -errno;
	snprintf(out->path, sizeof(out->path), "%s", o->path);
	out->bias = uvs_elf_is_dyn(out->elf) ? o->base - uvs_elf_load_base(out->elf) : 0;
	return 0;
}

static void close_object(struct uvs_object *o)
{
	uvs_elf_close(o->elf);
	o->elf = NULL;
}

static void function_range(const struct uvs_object *o, const char *name, struct uvs_range *r)
{
	struct uvs_elf_symbol sym;

	if (!o->elf || uvs_elf_find_function(o->elf, name, &sym) || sym.size == 0)
		return;
	r->start = sym.addr + o->bias;
	r->end = r->start + sym.size;
}

/*
 * uv_version() returns a constant: its body is `mov $imm32, %eax` (b8 imm32), possibly after
 * a frame set-up. Reading it from the file tells the libuv version without running anything.
 */
static void read_libuv_version(struct uvs_target *t)
{
	struct uvs_elf_symbol sym;
	uint8_t code[16];
	uint32_t v;
	int i;

	snprintf(t->libuv_version, sizeof(t->libuv_version), "unknown");
	if (uvs_elf_find_function(t->uv.elf, "uv_version", &sym) ||
	    uvs_elf_read(t->uv.elf, sym.file_offset, code, sizeof(code)))
		return;
	for (i = 0; i + 5 <= (int)sizeof(code); i++) {
		if (code[i] != 0xb8)
			continue;
		v = code[i + 1] | code[i + 2] << 8 | code[i + 3] << 16 | (uint32_t)code[i + 4] << 24;
		if (v >> 24 || (v >> 16) != 1) /* libuv 1.x: 0x01MMPP */
			return;
		t->libuv_hex = v;
		snprintf(t->libuv_version, sizeof(t->libuv_version), "%u.%u.%u", v >> 16,
			 (v >> 8) & 0xff, v & 0xff);
		return;
	}
}

/* Whether the build-id bytes are in the first pages of the mapping at base. */
static bool id_in_memory(pid_t pid, uint64_t base, const uint8_t *id, size_t len)
{
	uint8_t *mem = malloc(BUILD_ID_SCAN_BYTES);
	bool found = false;

	if (!mem)
		return false;
	/* The note sits in the first pages; a mapping shorter than 64 KiB fails the long read. */
	if (uvs_read_mem(pid, base, mem, BUILD_ID_SCAN_BYTES) == 0)
		found = memmem(mem, BUILD_ID_SCAN_BYTES, id, len) != NULL;
	else if (uvs_read_mem(pid, base, mem, 4096) == 0)
		found = memmem(mem, 4096, id, len) != NULL;
	free(mem);
	return found;
}

/* Reads the build-id of the libuv object and looks for the same bytes in the target's memory. */
static void check_build_id(struct uvs_target *t, uint64_t base)
{
	uint8_t id[64];
	size_t len;

	if (uvs_elf_build_id(t->uv.elf, id, sizeof(id), &len))
		return;
	uvs_elf_build_id_hex(id, len, t->build_id, sizeof(t->build_id));
	t->build_id_checked = id_in_memory(t->pid, base, id, len);
}

bool uvs_object_build_id_in_memory(const struct uvs_target *t, const struct uvs_object *o)
{
	uint8_t id[64];
	size_t len;

	if (!o->elf)
		return false;
	if (uvs_elf_build_id(o->elf, id, sizeof(id), &len))
		return true; /* nothing to compare: as for the libuv object, no id is no refusal */
	return id_in_memory(t->pid, o->bias + uvs_elf_load_base(o->elf), id, len);
}

/* On success *at is the index in l of the object that holds libuv. */
static int find_libuv(struct uvs_target *t, struct object_list *l, uint64_t exe_inode, size_t *at,
		      char *why, size_t cap)
{
	struct uvs_elf_symbol sym;
	int rank;
	size_t i;

	for (rank = 0; rank <= 3; rank++) {
		for (i = 0; i < l->n; i++) {
			struct mapped_object *o = &l->o[i];
			bool is_exe = o->inode == exe_inode;

			if (!o->exec || search_rank(o, exe_inode) != rank)
				continue;
			if (open_object(t->pid, o, is_exe, &t->uv))
				continue;
			if (uvs_elf_find_function(t->uv.elf, "uv_run", &sym) == 0) {
				check_build_id(t, o->base);
				*at = i;
				return 0;
			}
			close_object(&t->uv);
		}
	}
	snprintf(why, cap, "pid %d (%s) is not a libuv process: no mapped object defines uv_run",
		 (int)t->pid, t->comm);
	return -ENOEXEC;
}

/*
 * node::worker::Worker::Run is in the executable or in libnode.so (Debian). In official builds
 * that is the object libuv is in (uv_at in l): it is not opened twice, each opening would keep
 * its own copy of the symbol tables (10 MB for node).
 */
static void find_node_object(struct uvs_target *t, struct object_list *l, uint64_t exe_inode,
			     size_t uv_at)
{
	struct uvs_elf_symbol sym;
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct mapped_object *o = &l->o[i];

		if (!o->exec || search_rank(o, exe_inode) > 2)
			continue;
		if (i == uv_at) {
			if (uvs_elf_find_function(t->uv.elf, NODE_WORKER_RUN, &sym))
				continue;
			t->node = t->uv;
			t->node_is_uv = true;
			t->has_node_object = true;
			return;
		}
		if (open_object(t->pid, o, o->inode == exe_inode, &t->node))
			continue;
		if (uvs_elf_find_function(t->node.elf, NODE_WORKER_RUN, &sym) == 0) {
			t->has_node_object = true;
			return;
		}
		close_object(&t->node);
	}
}

void uvs_read_thread_comm(pid_t pid, pid_t tid, char *out, size_t cap)
{
	char path[64];
	size_t n;

	if (!cap)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	if (uvs_read_file(path, out, cap) < 0)
		out[0] = '\0';
	/*
	 * The kernel ends the name with one newline: only that one goes. The target names its
	 * threads (process.title, prctl, a Worker's name on Node 26) and a name may hold newlines
	 * of its own, even start with one; cut there, it would show empty or shortened.
	 */
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
	uvs_sanitize(out, cap);
}

int uvs_target_open(struct uvs_target *t, pid_t pid, char *why, size_t cap)
{
	struct object_list *objects;
	char path[64];
	struct stat st;
	size_t uv_at = 0;
	ssize_t n;
	int err;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	err = uvs_pid_check(pid, why, cap);
	if (err)
		return err;
	uvs_read_thread_comm(pid, pid, t->comm, sizeof(t->comm));
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, t->exe, sizeof(t->exe) - 1);
	if (n < 0 || stat(path, &st)) {
		err = errno == ENOENT ? -ESRCH : -errno;
		snprintf(why, cap, "cannot read the executable of pid %d: %s", (int)pid,
			 err == -ESRCH ? "the process has no executable (a kernel thread?)" :
					 strerror(-err));
		return err;
	}
	t->exe[n] = '\0';
	uvs_sanitize(t->exe, sizeof(t->exe));
	objects = calloc(1, sizeof(*objects));
	if (!objects)
		return -ENOMEM;
	err = uvs_maps_foreach(pid, collect_object, objects);
	if (err) {
		snprintf(why, cap, "cannot read the memory map of pid %d: %s", (int)pid,
			 strerror(-err));
		goto out;
	}
	err = find_libuv(t, objects, st.st_ino, &uv_at, why, cap);
	if (err)
		goto out;
	find_node_object(t, objects, st.st_ino, uv_at);
	read_libuv_version(t);
	/* Node's own code: the executable, or libnode.so (libuv.so has no version of node's). */
	if (uvs_node_version_read(t->has_node_object ? t->node.elf : t->uv.elf, t->node_version,
				  sizeof(t->node_version)))
		t->node_version[0] = '\0';
	function_range(&t->uv, "uv_run", &t->fn_uv_run);
	function_range(&t->uv, "worker", &t->fn_pool_worker);
	if (t->has_node_object)
		function_range(&t->node, NODE_WORKER_RUN, &t->fn_worker_run);
	err = uvs_target_refresh_threads(t);
	if (err)
		snprintf(why, cap, "cannot list the threads of pid %d: %s", (int)pid,
			 strerror(-err));
out:
	free_objects(objects);
	free(objects);
	return err;
}

void uvs_target_close(struct uvs_target *t)
{
	uvs_code_hold_free(t->code_hold);
	t->code_hold = NULL;
	close_object(&t->uv);
	if (t->node_is_uv)
		t->node.elf = NULL;
	close_object(&t->node);
}

void uvs_target_drop_tables(struct uvs_target *t)
{
	uvs_elf_drop_tables(t->uv.elf);
	if (!t->node_is_uv)
		uvs_elf_drop_tables(t->node.elf);
}

static struct uvs_thread *find_thread(const struct uvs_target *t, pid_t tid)
{
	size_t i;

	for (i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return (struct uvs_thread *)&t->threads[i];
	return NULL;
}

/*
 * Classifies every thread whose role is not known yet (and thread `again`, if it was read as
 * "other"), with one read of the memory map. The
 * read comes after the first thread found stopped, not before: a thread that runs shows no
 * stack pointer and is tried again later, so a busy process whose unplaced threads all run
 * (pool threads in a long job) costs a read of its registers per window, not of its maps.
 */
static void classify_unknown(struct uvs_target *t, pid_t again)
{
	struct uvs_ranges maps = { 0 };
	bool read = false;
	size_t i;

	for (i = 0; i < t->nthreads; i++) {
		struct uvs_thread *th = &t->threads[i];
		enum uvs_role role;
		uint64_t sp;

		if (th->role_known && !(th->tid == again && th->role == UVS_ROLE_OTHER))
			continue;
		if (th->tid == t->pid) {
			th->role = UVS_ROLE_MAIN;
			th->role_known = true;
			continue;
		}
		if (uvs_thread_stopped_sp(t->pid, th->tid, &sp))
			continue;
		if (!read) {
			read = true;
			if (uvs_ranges_read_maps(t->pid, &maps))
				break;
		}
		if (uvs_classify_thread(t, &maps, th->tid, sp, &role) == 0) {
			th->role = role;
			th->role_known = true;
		}
	}
	uvs_ranges_free(&maps);
}

bool uvs_target_place_thread(struct uvs_target *t, pid_t tid, enum uvs_role role)
{
	struct uvs_thread *th = find_thread(t, tid);

	if (!th || (th->role_known && th->role != UVS_ROLE_OTHER) ||
	    (role != UVS_ROLE_WORKER && role != UVS_ROLE_THREADPOOL && role != UVS_ROLE_LOOP))
		return false;
	th->role = role;
	th->role_known = true;
	return true;
}

/* An exited thread's role, kept for the figures that come after it is gone. */
static void remember_exited(struct uvs_target *t, const struct uvs_thread *th)
{
	if (t->nhistory == UVS_ROLE_HISTORY) {
		/* Forget the oldest: the likeliest to have no figures left to place. */
		memmove(t->history, t->history + 1, sizeof(t->history[0]) * (UVS_ROLE_HISTORY - 1));
		t->nhistory--;
	}
	t->history[t->nhistory].tid = th->tid;
	/* An exited thread that was never placed is still named; its role stays unknown. */
	t->history[t->nhistory].role = th->role_known ? th->role : UVS_ROLE_OTHER;
	t->history[t->nhistory].known = th->role_known;
	memcpy(t->history[t->nhistory++].comm, th->comm, sizeof(th->comm));
}

int uvs_target_refresh_threads(struct uvs_target *t)
{
	struct uvs_thread *old = NULL;
	size_t nold = t->nthreads, n = 0, i, j;
	char path[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	if (nold) {
		old = malloc(nold * sizeof(*old));
		if (!old) {
			closedir(dir);
			return -ENOMEM;
		}
		memcpy(old, t->threads, nold * sizeof(*old));
	}
	while ((de = readdir(dir)) && n < UVS_MAX_THREADS) {
		struct uvs_thread *th = &t->threads[n];
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0)
			continue;
		memset(th, 0, sizeof(*th));
		th->tid = (pid_t)tid;
		for (i = 0; i < nold; i++)
			if (old[i].tid == th->tid)
				*th = old[i];
		uvs_read_thread_comm(t->pid, th->tid, th->comm, sizeof(th->comm));
		n++;
	}
	closedir(dir);
	t->nthreads = n;
	for (i = 0; i < nold; i++) {
		for (j = 0; j < n && t->threads[j].tid != old[i].tid; j++)
			;
		if (j == n)
			remember_exited(t, &old[i]);
	}
	free(old);
	classify_unknown(t, 0);
	return 0;
}

void uvs_target_learn_thread(struct uvs_target *t, pid_t tid)
{
	struct uvs_thread *th = find_thread(t, tid);

	if (!th) {
		if (t->nthreads == UVS_MAX_THREADS)
			return;
		th = &t->threads[t->nthreads++];
		memset(th, 0, sizeof(*th));
		th->tid = tid;
		uvs_read_thread_comm(t->pid, tid, th->comm, sizeof(th->comm));
	}
	/*
	 * One read as "other" is read again: that read proved nothing (outside Worker::Run, in
	 * the thread's start or teardown), and waiting in a loop's epoll now, inside its uv_run,
	 * its stack tells a Worker from another libuv loop (a native addon's).
	 */
	if (!th->role_known || th->role == UVS_ROLE_OTHER)
		classify_unknown(t, tid);
}

enum uvs_role uvs_target_role(const struct uvs_target *t, pid_t tid, bool *known)
{
	const struct uvs_thread *th = find_thread(t, tid);
	size_t i;

	if (th) {
		*known = th->role_known;
		return th->role;
	}
	for (i = t->nhistory; i-- > 0;) {
		if (t->history[i].tid == tid) {
			*known = t->history[i].known;
			return t->history[i].role;
		}
	}
	*known = false;
	return UVS_ROLE_OTHER;
}

bool uvs_object_maps_code(const struct uvs_target *t, const struct uvs_object *o, uint64_t addr)
{
	if (t->code_hold)
		return uvs_code_hold_check(t->code_hold, addr, o->path);
	/* No attach going on (a site placed later): a read of its own, as fresh as it gets. */
	return uvs_code_runs_from_now(t->pid, addr, o->path);
}

int uvs_target_hold_code(struct uvs_target *t)
{
	if (!t->code_hold)
		t->code_hold = uvs_code_hold_new(t->pid);
	return t->code_hold ? 0 : -ENOMEM;
}

int uvs_target_release_code(struct uvs_target *t, char *why, size_t cap)
{
	uint64_t addr = 0;
	int err;

	if (!t->code_hold)
		return 0;
	err = uvs_code_hold_verify(t->code_hold, &addr);
	uvs_code_hold_free(t->code_hold);
	t->code_hold = NULL;
	if (err == -ESTALE)
		snprintf(why, cap, "the code of pid %d changed while attaching: 0x%llx no longer "
			 "runs from the file a uprobe was placed in (node --use-largepages, at start?)",
			 (int)t->pid, (unsigned long long)addr);
	else if (err)
		snprintf(why, cap, "cannot read the memory map of pid %d again: %s", (int)t->pid,
			 strerror(-err));
	return err;
}

void uvs_target_thread_comm(const struct uvs_target *t, pid_t tid, char *out, size_t cap)
{
	size_t i;

	for (i = 0; i < t->nthreads; i++) {
		if (t->threads[i].tid == tid) {
			snprintf(out, cap, "%.*s", (int)sizeof(t->threads[i].comm), t->threads[i].comm);
			return;
		}
	}
	for (i = t->nhistory; i-- > 0;) {
		if (t->history[i].tid == tid) {
			snprintf(out, cap, "%.*s", (int)sizeof(t->history[i].comm), t->history[i].comm);
			return;
		}
	}
	if (cap)
		out[0] = '\0';
}

/* A signal 0 is refused (EPERM) for another user's process that exists. */
static bool pid_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

bool uvs_target_alive(const struct uvs_target *t)
{
	return pid_alive(t->pid);
}

bool uvs_pid_exited(pid_t pid)
{
	char state = uvs_thread_state(pid, pid);

	return state == 'Z' || state == 'X';
}

int uvs_pid_check(pid_t pid, char *why, size_t cap)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st) || !pid_alive(pid)) {
		snprintf(why, cap, "no such process: %d", (int)pid);
		return -ESRCH;
	}
	if (uvs_pid_exited(pid)) {
		snprintf(why, cap, "pid %d has exited: a zombie, which its parent has not reaped",
			 (int)pid);
		return -ESRCH;
	}
	return 0;
}
