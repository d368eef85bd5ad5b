// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target/container.h"
#include "target/procfs.h"
#include "target/process.h"

Test(procfs, maps_line_file_backed)
{
	struct uvs_map m;

	cr_assert_eq(uvs_parse_maps_line("00400000-02400000 r-xp 00001000 fe:00 1234567   "
					 "/usr/bin/node\n", &m), 0);
	cr_assert_eq(m.start, 0x400000);
	cr_assert_eq(m.end, 0x2400000);
	cr_assert_eq(m.offset, 0x1000);
	cr_assert_eq(m.inode, 1234567);
	cr_assert(m.exec && m.read);
	cr_assert_str_eq(m.path, "/usr/bin/node");
}

Test(procfs, maps_line_anonymous_and_special)
{
	struct uvs_map m;

	cr_assert_eq(uvs_parse_maps_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0\n", &m), 0);
	cr_assert_str_eq(m.path, "");
	cr_assert(!m.exec);
	cr_assert_eq(uvs_parse_maps_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0  [stack]", &m),
		     0);
	cr_assert_str_eq(m.path, "[stack]");
	cr_assert_eq(uvs_parse_maps_line("1000-2000 r-xp 0 08:01 9 /opt/a b (deleted)\n", &m), 0);
	cr_assert_str_eq(m.path, "/opt/a b (deleted)");
}

Test(procfs, maps_line_malformed)
{
	struct uvs_map m;

	cr_assert_eq(uvs_parse_maps_line("", &m), -EINVAL);
	cr_assert_eq(uvs_parse_maps_line("garbage", &m), -EINVAL);
	cr_assert_eq(uvs_parse_maps_line("2000-1000 r-xp 0 08:01 9 /x", &m), -EINVAL);
	cr_assert_eq(uvs_parse_maps_line("1000-2000 r-x 0 08:01 9 /x", &m), -EINVAL);
}

Test(procfs, syscall_file)
{
	uint64_t sp, pc;
	long nr;

	cr_assert_eq(uvs_parse_syscall_file("281 0x13 0x7ffc 0x400 0x3e8 0x0 0x8 0x7ffd0000 "
					    "0x7f001234\n", &nr, &sp, &pc), 0);
	cr_assert_eq(nr, 281);
	cr_assert_eq(sp, 0x7ffd0000);
	cr_assert_eq(pc, 0x7f001234);
	cr_assert_eq(uvs_parse_syscall_file("-1 0x7ffd1000 0x401000\n", &nr, &sp, &pc), 0);
	cr_assert_eq(nr, -1);
	cr_assert_eq(sp, 0x7ffd1000);
	cr_assert_eq(uvs_parse_syscall_file("running\n", &nr, &sp, &pc), -EAGAIN);
	cr_assert_eq(uvs_parse_syscall_file("running", &nr, &sp, &pc), -EAGAIN);
	cr_assert_eq(uvs_parse_syscall_file("runningx 1 2\n", &nr, &sp, &pc), -EINVAL);
	cr_assert_eq(uvs_parse_syscall_file("", &nr, &sp, &pc), -EINVAL);
	cr_assert_eq(uvs_parse_syscall_file("12\n", &nr, &sp, &pc), -EINVAL);
	cr_assert_eq(uvs_parse_syscall_file("12 zz 0x1\n", &nr, &sp, &pc), -EINVAL);
}

/* The first argument (an epoll wait's fd) only inside a syscall, with its six arguments. */
Test(procfs, syscall_first_argument)
{
	uint64_t sp, pc, a0 = 7;
	long nr;

	cr_assert_eq(uvs_parse_syscall_args("281 0x13 0x7ffc 0x400 0x3e8 0x0 0x8 0x7ffd0000 "
					    "0x7f001234\n", &nr, &a0, &sp, &pc), 0);
	cr_assert_eq(nr, 281);
	cr_assert_eq(a0, 0x13);
	cr_assert_eq(sp, 0x7ffd0000);
	cr_assert_eq(pc, 0x7f001234);
	cr_assert_eq(uvs_parse_syscall_args("-1 0x7ffd1000 0x401000\n", &nr, &a0, &sp, &pc),
		     -ENODATA);
	/* Cut short: no first argument to trust. */
	cr_assert_eq(uvs_parse_syscall_args("281 0x13 0x7ffc 0x7ffd0000 0x7f001234\n", &nr, &a0,
					    &sp, &pc), -ENODATA);
	cr_assert_eq(uvs_parse_syscall_args("running\n", &nr, &a0, &sp, &pc), -EAGAIN);
}

Test(procfs, read_file_bounded)
{
	char buf[8];
	ssize_t n;

	n = uvs_read_file("/proc/self/maps", buf, sizeof(buf));
	cr_assert_eq(n, 7);
	cr_assert_eq(buf[7], '\0');
	cr_assert_eq(uvs_read_file("/nonexistent/file", buf, sizeof(buf)), -ENOENT);
}

Test(procfs, read_own_memory)
{
	static const char secret[] = "uvscope";
	char copy[sizeof(secret)];

	cr_assert_eq(uvs_read_mem(getpid(), (uint64_t)(uintptr_t)secret, copy, sizeof(copy)), 0);
	cr_assert_str_eq(copy, secret);
	cr_assert_eq(uvs_read_mem(getpid(), 8, copy, sizeof(copy)), -EFAULT);
}

/* The state after the last ')': a comm may hold spaces and parentheses. */
Test(procfs, stat_state)
{
	cr_expect_eq(uvs_parse_stat_state("1234 (node) S 1 2 3"), 'S');
	cr_expect_eq(uvs_parse_stat_state("1234 (a) b) (c) D 1"), 'D');
	cr_expect_eq(uvs_parse_stat_state("1234 (x)"), 0);
	cr_expect_eq(uvs_parse_stat_state("garbage"), 0);
	cr_expect_eq(uvs_parse_stat_state(""), 0);
}

/* A task of the process is present; one that exited and was reaped, or of another process, is not. */
Test(procfs, thread_presence)
{
	pid_t self = getpid(), tid = (pid_t)syscall(SYS_gettid), child;
	int status;

	cr_assert_eq(uvs_thread_presence(self, tid), UVS_THREAD_PRESENT);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0)
		_exit(0);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert_eq(uvs_thread_presence(child, child), UVS_THREAD_GONE);
	cr_assert_eq(uvs_thread_presence(self, child), UVS_THREAD_GONE, "a reaped pid is no task of ours");
	cr_assert_eq(uvs_thread_presence(1, tid), UVS_THREAD_GONE, "our thread is no task of pid 1");
}

/* Names this thread with raw bytes, as a target can (/proc/.../comm, prctl), and reads it back. */
static void expect_comm(const char *name, const char *shown)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	char path[64], out[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tid);
	f = fopen(path, "w");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fputs(name, f);
	cr_assert_eq(fclose(f), 0);
	uvs_read_thread_comm(getpid(), tid, out, sizeof(out));
	cr_expect_str_eq(out, shown);
}

/* Only the kernel's own newline goes: one of the name's is shown, never cuts it short. */
Test(procfs, thread_name_is_sanitized_whole)
{
	expect_comm("loop", "loop");
	expect_comm("\nnode-evil", "?node-evil");
	expect_comm("a\nb\x1b[31m", "a?b?[31m");
	expect_comm("\xe2\x80\xae;x", "???;x"); /* U+202E, right-to-left override */
}

/* The cgroup paths the freezer check joins to its mounts: v2's, v1's freezer, never one going up. */
Test(procfs, cgroup_paths)
{
	const char *hybrid = "9:name=systemd:/\n6:freezer:/docker/abc\n4:memory:/m\n0::/unified/x\n";
	char out[64];

	cr_assert(uvs_cgroup_path_of(hybrid, NULL, out, sizeof(out)));
	cr_expect_str_eq(out, "/unified/x");
	cr_assert(uvs_cgroup_path_of(hybrid, "freezer", out, sizeof(out)));
	cr_expect_str_eq(out, "/docker/abc");
	cr_assert(uvs_cgroup_path_of("3:cpu,freezer,pids:/k8s/pod1", "freezer", out, sizeof(out)));
	cr_expect_str_eq(out, "/k8s/pod1");
	cr_expect(!uvs_cgroup_path_of("3:cpu,freezerx:/a\n", "freezer", out, sizeof(out)));
	cr_expect(!uvs_cgroup_path_of("0::/a/../../etc\n", NULL, out, sizeof(out)), "no way up");
	cr_expect(!uvs_cgroup_path_of("0::relative\n", NULL, out, sizeof(out)));
	cr_expect(!uvs_cgroup_path_of("0::/too/long/for/the/buffer/we/gave/it/here/at/all/x",
				      NULL, out, 16));
	cr_expect(!uvs_cgroup_path_of("garbage", NULL, out, sizeof(out)));
	cr_expect(!uvs_cgroup_path_of("", "freezer", out, sizeof(out)));
	cr_expect(!uvs_cgroup_path_of("10::/x\n", NULL, out, sizeof(out)), "v2 is hierarchy 0");
}

/* Container ids as the runtimes put them in cgroup paths; nothing on a host's own cgroups. */
Test(procfs, container_id_from_cgroup)
{
	const char *id64 = "4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2";
	char text[512], id[UVS_CONTAINER_ID_LEN + 1];
	static const char *const forms[] = {
		"0::/system.slice/docker-%s.scope\n",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/"
		"cri-containerd-%s.scope\n",
		"0::/machine.slice/libpod-%s.scope/container\n",
		"12:memory:/docker/%s\n0::/\n",
		"0::/kubepods/besteffort/pod7/%s\n",
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text), forms[i], id64);
		cr_expect(uvs_container_id_from_cgroup(text, id, sizeof(id)), "%s", text);
		cr_expect_str_eq(id, "4f3c2b1a09e8", "%s", text);
	}
	/* Upper case is shown as the runtimes show it, in lower case. */
	cr_expect(uvs_container_id_from_cgroup("0::/docker/4F3C2B1A09E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A2F1E0D9C8B7A6F5E4D3C2\n",
					       id, sizeof(id)));
	cr_expect_str_eq(id, "4f3c2b1a09e8");
	/* No container: a host's cgroups, a 32-digit id, a 65-digit run. */
	cr_expect_not(uvs_container_id_from_cgroup("0::/user.slice/user-0.slice/session-1.scope\n",
						   id, sizeof(id)));
	cr_expect_str_eq(id, "");
	cr_expect_not(uvs_container_id_from_cgroup("4:memory:/process_api/bb3aa4f6e2d6014198d58b9e5dfac8ad\n",
						   id, sizeof(id)));
	snprintf(text, sizeof(text), "0::/x/%s0\n", id64);
	cr_expect_not(uvs_container_id_from_cgroup(text, id, sizeof(id)));
	cr_expect_not(uvs_container_id_from_cgroup("", id, sizeof(id)));
}
