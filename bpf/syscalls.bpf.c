// SPDX-License-Identifier: GPL-2.0
/*
 * The system calls of the agent's targets (bpf/targets.bpf.h), from the sys_enter / sys_exit
 * tracepoints, loaded once for every target:
 *
 * - count, errors and latency per (thread, syscall): the agent groups threads by role;
 * - a slow syscall on a loop thread (a thread in loop_state, shared with bpf/loop.bpf.c) is
 *   sent to the agent one by one, unless it is the loop's own epoll wait (that is idle time);
 * - fds opened and closed, by type: the new fd's struct file says what it is, and close
 *   reads the type before the fd goes. The agent adds these to a /proc/PID/fd baseline.
 *
 * Every other process on the host pays the target index's load and compare (bpf/targets.bpf.h); a target's threads
 * pay the `targets` lookup and a task-storage lookup at entry, the same and a hash update at
 * exit. Each target's (thread, syscall) statistics are in a map of its own, which the agent
 * creates and puts at the target's slot of sys_stats: reading one target's window walks its
 * entries only, and dropping the map drops them all.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "loop_state.bpf.h"
#include "targets.bpf.h"
#include "uvscope/syscalls.h"

/* x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_OPEN 2
#define NR_CLOSE 3
#define NR_PIPE 22
#define NR_DUP 32
#define NR_DUP2 33
#define NR_SOCKET 41
#define NR_ACCEPT 43
#define NR_RECVMSG 47
#define NR_SOCKETPAIR 53
#define NR_FCNTL 72
#define NR_CREAT 85
#define NR_EPOLL_CREATE 213
#define NR_INOTIFY_INIT 253
#define NR_OPENAT 257
#define NR_SIGNALFD 282
#define NR_TIMERFD_CREATE 283
#define NR_EVENTFD 284
#define NR_ACCEPT4 288
#define NR_SIGNALFD4 289
#define NR_EVENTFD2 290
#define NR_EPOLL_CREATE1 291
#define NR_DUP3 292
#define NR_PIPE2 293
#define NR_INOTIFY_INIT1 294
#define NR_PERF_EVENT_OPEN 298
#define NR_RECVMMSG 299
#define NR_FANOTIFY_INIT 300
#define NR_OPEN_BY_HANDLE_AT 304
#define NR_MEMFD_CREATE 319
#define NR_USERFAULTFD 323
#define NR_IO_URING_SETUP 425
#define NR_IO_URING_ENTER 426
#define NR_OPEN_TREE 428
#define NR_FSOPEN 430
#define NR_FSMOUNT 432
#define NR_FSPICK 433
#define NR_PIDFD_OPEN 434
#define NR_CLOSE_RANGE 436
#define NR_OPENAT2 437
#define NR_PIDFD_GETFD 438
#define NR_MEMFD_SECRET 447
/* The kernel's uprobe trampolines' syscalls (x86_64, 6.11+ and 6.18+): not the target's. */
#define NR_URETPROBE 335
#define NR_UPROBE 336

#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030
#define EBADF 9
#define MAX_ERRNO 4095

#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFIFO 0010000

/* Superblock magics of the inodes /proc shows as "anon_inode:". */
#define ANON_INODE_FS_MAGIC 0x09041934
#define PID_FS_MAGIC 0x50494446

const volatile __u64 slow_ns = 10000000ULL;
const volatile __u8 track_fds = 1;

/* The syscall a thread is in: set at entry, consumed at exit. */
struct inflight {
	__u64 start_ns;
	__u32 nr;
	__s32 closing_type; /* close/dup2/dup3: the type of the fd about to go, or -1 */
	__u8 passes_fds;    /* recvmsg/recvmmsg with ancillary data: may receive fds */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

/*
 * One target's statistics; the agent creates one like it per target (collect/syscalls.c).
 * Sizes, not types: clang gives the key's type here as a forward declaration, which libbpf
 * cannot size ("can't determine key size").
 */
struct sys_stats_of_target {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UVS_SYS_MAX_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct uvs_sys_key));
	__uint(value_size, sizeof(struct uvs_sys_stats));
};

/* By slot: the target's statistics map, empty while the slot has none. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__array(values, struct sys_stats_of_target);
} sys_stats SEC(".maps");

/* By slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UVS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct uvs_sys_counters);
} sys_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} slow_events SEC(".maps");

/* Template for new map entries: a 2.6 KiB value cannot live on the 512-byte BPF stack. */
static const struct uvs_sys_stats zero_stats;

static __always_inline struct uvs_sys_counters *counters(__u32 slot)
{
	return bpf_map_lookup_elem(&sys_counters, &slot);
}

/* Syscalls whose non-negative return value is one new fd. */
static __always_inline bool returns_new_fd(__u32 nr)
{
	switch (nr) {
	case NR_OPEN:
	case NR_CREAT:
	case NR_OPENAT:
	case NR_OPENAT2:
	case NR_OPEN_BY_HANDLE_AT:
	case NR_SOCKET:
	case NR_ACCEPT:
	case NR_ACCEPT4:
	case NR_DUP:
	case NR_EVENTFD:
	case NR_EVENTFD2:
	case NR_EPOLL_CREATE:
	case NR_EPOLL_CREATE1:
	case NR_TIMERFD_CREATE:
	case NR_INOTIFY_INIT:
	case NR_INOTIFY_INIT1:
	case NR_FANOTIFY_INIT:
	case NR_PERF_EVENT_OPEN:
	case NR_MEMFD_CREATE:
	case NR_MEMFD_SECRET:
	case NR_USERFAULTFD:
	case NR_IO_URING_SETUP:
	case NR_PIDFD_OPEN:
	case NR_PIDFD_GETFD:
	case NR_OPEN_TREE:
	case NR_FSOPEN:
	case NR_FSMOUNT:
	case NR_FSPICK:
		return true;
	}
	return false;
}

/*
 * The type of an open fd of the current process, as the /proc scan would classify it
 * (agent/fds.c), from its struct file; -1 when the fd is not open.
 */
static __always_inline int fd_type_of(struct task_struct *task, int fd)
{
	struct file **fds, *f = NULL;
	struct files_struct *files;
	struct fdtable *fdt;
	struct inode *inode;
	unsigned long magic;
	umode_t mode;

	if (fd < 0)
		return -1;
	files = BPF_CORE_READ(task, files);
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return -1;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return -1;
	inode = BPF_CORE_READ(f, f_inode);
	if (!inode)
		return UVS_FD_OTHER;
	magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (magic == ANON_INODE_FS_MAGIC || magic == PID_FS_MAGIC)
		return UVS_FD_ANON;
	mode = BPF_CORE_READ(inode, i_mode);
	switch (mode & S_IFMT) {
	case S_IFSOCK:
		return UVS_FD_SOCKET;
	case S_IFIFO:
		return UVS_FD_PIPE;
	case S_IFREG:
	case S_IFDIR:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFLNK:
		return UVS_FD_FILE;
	}
	return UVS_FD_OTHER;
}

static __always_inline void fd_untracked(struct uvs_sys_counters *c)
{
	__sync_fetch_and_add(&c->fd_untracked, 1);
}

static __always_inline void fd_closed(struct uvs_sys_counters *c, int type)
{
	if (type >= 0 && type < UVS_FD_TYPES)
		__sync_fetch_and_add(&c->fd_closed[type & (UVS_FD_SLOTS - 1)], 1);
	else
		fd_untracked(c);
}

static __always_inline void fd_opened(struct uvs_sys_counters *c, struct task_struct *task, int fd)
{
	int type = fd_type_of(task, fd);

	/* Already closed again by another thread: the close was counted as untracked too. */
	if (type >= 0 && type < UVS_FD_TYPES)
		__sync_fetch_and_add(&c->fd_opened[type & (UVS_FD_SLOTS - 1)], 1);
	else
		fd_untracked(c);
}

/* pipe, pipe2, socketpair: two new fds in an int[2] in the caller's memory. */
static __always_inline void fd_opened_pair(struct uvs_sys_counters *c, struct task_struct *task,
					   const void *user_fds)
{
	int fds[2] = { -1, -1 };

	if (bpf_probe_read_user(fds, sizeof(fds), user_fds)) {
		fd_untracked(c);
		return;
	}
	fd_opened(c, task, fds[0]);
	fd_opened(c, task, fds[1]);
}

/* Whether a recvmsg / recvmmsg asks for ancillary data (SCM_RIGHTS may bring fds). */
static __always_inline bool wants_control(const void *user_msghdr)
{
	struct user_msghdr m = {};

	if (!user_msghdr || bpf_probe_read_user(&m, sizeof(m), user_msghdr))
		return false;
	return m.msg_controllen != 0;
}

/* Whether fd_enter / fd_exit have anything to do for this syscall: most have not. */
static __always_inline bool touches_fds(__u32 nr)
{
	switch (nr) {
	case NR_CLOSE:
	case NR_DUP2:
	case NR_DUP3:
	case NR_FCNTL:
	case NR_PIPE:
	case NR_PIPE2:
	case NR_SOCKETPAIR:
	case NR_SIGNALFD:
	case NR_SIGNALFD4:
	case NR_CLOSE_RANGE:
	case NR_IO_URING_ENTER:
	case NR_RECVMSG:
	case NR_RECVMMSG:
		return true;
	}
	return returns_new_fd(nr);
}

static __always_inline void fd_enter(struct task_struct *task, struct pt_regs *regs, __u32 nr,
				     struct inflight *f)
{
	int fd0, fd1;

	switch (nr) {
	case NR_CLOSE:
		f->closing_type = fd_type_of(task, (int)BPF_CORE_READ(regs, di));
		break;
	case NR_DUP2:
	case NR_DUP3:
		fd0 = (int)BPF_CORE_READ(regs, di);
		fd1 = (int)BPF_CORE_READ(regs, si);
		if (fd0 != fd1)
			f->closing_type = fd_type_of(task, fd1);
		break;
	case NR_RECVMSG:
	case NR_RECVMMSG: /* the first struct mmsghdr starts with its struct user_msghdr */
		f->passes_fds = wants_control((const void *)BPF_CORE_READ(regs, si));
		break;
	}
}

static __always_inline void fd_exit(struct task_struct *task, struct pt_regs *regs, __u32 nr,
				    long ret, const struct inflight *f, __u32 slot)
{
	struct uvs_sys_counters *c = counters(slot);
	int fd0;
	long arg1;

	if (!c)
		return;
	switch (nr) {
	case NR_CLOSE:
		/* close releases the fd even when it fails (EINTR, EIO), unless it was not open. */
		if (ret != -EBADF && f->closing_type >= 0)
			fd_closed(c, f->closing_type);
		break;
	case NR_DUP2:
	case NR_DUP3:
		fd0 = (int)BPF_CORE_READ(regs, di);
		arg1 = BPF_CORE_READ(regs, si);
		if (ret >= 0 && fd0 != (int)arg1) {
			if (f->closing_type >= 0)
				fd_closed(c, f->closing_type);
			fd_opened(c, task, (int)ret);
		}
		break;
	case NR_FCNTL:
		arg1 = BPF_CORE_READ(regs, si);
		if (ret >= 0 && (arg1 == F_DUPFD || arg1 == F_DUPFD_CLOEXEC))
			fd_opened(c, task, (int)ret);
		break;
	case NR_PIPE:
	case NR_PIPE2:
		if (ret == 0)
			fd_opened_pair(c, task, (const void *)BPF_CORE_READ(regs, di));
		break;
	case NR_SOCKETPAIR:
		if (ret == 0)
			fd_opened_pair(c, task, (const void *)BPF_CORE_READ(regs, r10));
		break;
	case NR_SIGNALFD:
	case NR_SIGNALFD4:
		/* With an existing fd it only changed that signalfd's mask. */
		if (ret >= 0 && (int)BPF_CORE_READ(regs, di) == -1)
			fd_opened(c, task, (int)ret);
		break;
	case NR_CLOSE_RANGE:
	case NR_IO_URING_ENTER: /* the ring may open and close fds itself */
		if (ret >= 0)
			fd_untracked(c);
		break;
	case NR_RECVMSG:
	case NR_RECVMMSG:
		if (ret >= 0 && f->passes_fds)
			fd_untracked(c);
		break;
	default:
		if (ret >= 0)
			fd_opened(c, task, (int)ret);
	}
}

static __always_inline void record(__u32 slot, __u32 tid, __u32 nr, __u64 d, long ret)
{
	struct uvs_sys_key k = { .tid = tid, .nr = nr };
	struct uvs_sys_counters *c;
	struct uvs_sys_stats *s = NULL;
	void *stats = bpf_map_lookup_elem(&sys_stats, &slot);

	if (stats)
		s = bpf_map_lookup_elem(stats, &k);
	if (!s) {
		if (stats) {
			bpf_map_update_elem(stats, &k, &zero_stats, BPF_NOEXIST);
			s = bpf_map_lookup_elem(stats, &k);
		}
		if (!s) {
			c = counters(slot);
			if (c)
				__sync_fetch_and_add(&c->lost, 1);
			return;
		}
	}
	/* One thread writes each entry: plain increments suffice. */
	s->count++;
	if (ret < 0 && ret >= -MAX_ERRNO)
		s->errors++;
	s->total_ns += d;
	if (d > s->max_ns)
		s->max_ns = d;
	uvs_hist_record(&s->latency, d);
}

/* A loop thread spent at least slow_ns in one syscall that was not its loop's wait. */
static __always_inline void check_slow(__u32 tgid, __u32 slot, __u32 tid, __u32 nr, __u64 now,
				       __u64 d, long ret, struct pt_regs *regs)
{
	struct uvs_loop_state *st = bpf_map_lookup_elem(&loop_state, &tid);
	struct uvs_slow_syscall *e;
	struct uvs_sys_counters *c;

	if (!st)
		return;
	/* epfd stays unknown when only the waits' returns are hooked: every wait is the loop's. */
	if (is_epoll_wait(nr) && (st->epfd < 0 || (int)BPF_CORE_READ(regs, di) == st->epfd))
		return;
	e = bpf_ringbuf_reserve(&slow_events, sizeof(*e), 0);
	if (!e) {
		c = counters(slot);
		if (c)
			__sync_fetch_and_add(&c->slow_drops, 1);
		return;
	}
	e->ts_ns = now;
	e->duration_ns = d;
	e->tid = tid;
	e->nr = nr;
	e->ret = ret;
	e->tgid = tgid;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(uvs_sc_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task;
	struct inflight *f;

	/* Every syscall of every process passes here: the target index ends it for bystanders. */
	if (!uvs_current_target())
		return 0;
	/*
	 * Not the target's own: the kernel's uprobe trampolines make these (a return probe of
	 * ours, or an optimized uprobe, returning through a syscall on 6.11+). The exit finds no
	 * start and records nothing.
	 */
	if (id == NR_URETPROBE || id == NR_UPROBE)
		return 0;
	task = bpf_get_current_task_btf();
	f = bpf_task_storage_get(&inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!f)
		return 0;
	f->nr = (__u32)id;
	f->closing_type = -1;
	f->passes_fds = 0;
	if (track_fds && touches_fds((__u32)id))
		fd_enter(task, regs, (__u32)id, f);
	/* Last, so the time spent above is not charged to the syscall. */
	f->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(uvs_sc_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	const struct uvs_target_cfg *t = uvs_target_of((__u32)(pid_tgid >> 32));
	struct task_struct *task;
	struct inflight *f;
	__u32 slot;
	__u64 now, d;

	if (!t)
		return 0;
	slot = uvs_slot(t);
	now = bpf_ktime_get_ns();
	task = bpf_get_current_task_btf();
	f = bpf_task_storage_get(&inflight, task, 0, 0);
	/* No entry seen: the syscall began before we attached. */
	if (!f || !f->start_ns || now < f->start_ns)
		return 0;
	d = now - f->start_ns;
	f->start_ns = 0;
	record(slot, tid, f->nr, d, ret);
	if (track_fds && touches_fds(f->nr))
		fd_exit(task, regs, f->nr, ret, f, slot);
	if (d >= slow_ns)
		check_slow((__u32)(pid_tgid >> 32), slot, tid, f->nr, now, d, ret, regs);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
