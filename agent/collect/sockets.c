// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/bpf_shared.h"
#include "collect/sockets.h"

/* 1 when pid shares our network namespace, 0 when not, -errno when we may not look. */
static int same_netns(int pid)
{
	char path[64];
	struct stat theirs, mine;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &theirs))
		return -errno;
	if (stat("/proc/self/ns/net", &mine))
		return -errno;
	return theirs.st_ino == mine.st_ino && theirs.st_dev == mine.st_dev;
}

int uvs_sockets_open_diag(int pid, char *why, size_t cap)
{
	int nl = uvs_sock_diag_open_for(pid), same;

	if (nl >= 0)
		return nl;
	same = same_netns(pid);
	if (same == 1) {
		nl = uvs_sock_diag_open();
		if (nl >= 0)
			return nl;
	} else if ((same == -EACCES || same == -EPERM) && geteuid() == 0) {
		snprintf(why, cap, "cannot inspect pid %d: permission denied, even to root (the "
			 "kernel keeps it from uvscope: a process with capabilities uvscope lacks, or "
			 "one a security module guards)", pid);
		return same;
	} else if (same == -EACCES || same == -EPERM) {
		snprintf(why, cap, "cannot inspect pid %d: permission denied (run as root, or as the "
			 "process's user)", pid);
		return same;
	} else if (same == 0 && (nl == -EPERM || nl == -EACCES)) {
		snprintf(why, cap, "pid %d is in another network namespace and entering it needs "
			 "CAP_SYS_ADMIN (run as root)", pid);
		return nl;
	}
	snprintf(why, cap, "cannot open a NETLINK_SOCK_DIAG socket: %s", strerror(-nl));
	return nl;
}

/* The table, from the census when the target is in it (else from its own dumps). */
static int read_table(struct uvs_sockets *s, const struct uvs_fd_table *fds)
{
	if (s->shared)
		return uvs_socket_table_read_from(uvs_sock_census_dump, &s->census, fds, &s->learn,
						  &s->table);
	return uvs_socket_table_read(s->nl, fds, &s->learn, &s->table);
}

void uvs_sockets_attach(struct uvs_sockets *s, struct uvs_bpf_shared *sh, int slot,
			const struct uvs_target *t, const struct uvs_fd_table *fds,
			uint64_t share_ns)
{
	struct uvs_sock_census *census = uvs_bpf_shared_census(sh);

	memset(s, 0, sizeof(*s));
	s->nl = uvs_sockets_open_diag((int)t->pid, s->why, sizeof(s->why));
	/* Out of memory for the census: the target dumps on its own, as it would alone. */
	s->shared = s->nl >= 0 && census &&
		    uvs_sock_census_join(census, &s->census, s->nl, &s->learn, share_ns) == 0;
	uvs_sock_trace_attach(&s->trace, sh, slot, t);
	if (s->nl >= 0 && fds->available && read_table(s, fds) == 0)
		uvs_sock_trace_learn(&s->trace, &s->table);
}

void uvs_sockets_quiesce(struct uvs_sockets *s)
{
	uvs_sock_trace_quiesce(&s->trace);
}

void uvs_sockets_detach(struct uvs_sockets *s)
{
	/* Before the socket goes: the census dumps through it while the target is a member. */
	if (s->shared)
		uvs_sock_census_leave(&s->census);
	s->shared = false;
	if (s->nl >= 0)
		close(s->nl);
	s->nl = -1;
	uvs_socket_table_free(&s->table);
	uvs_sock_learning_free(&s->learn);
	uvs_sock_trace_detach(&s->trace);
}

void uvs_sockets_window(struct uvs_sockets *s, const struct uvs_fd_table *fds,
			struct uvs_sockets_snapshot *out, uint64_t *lost)
{
	memset(out, 0, sizeof(*out));
	if (s->nl >= 0 && fds->available && read_table(s, fds) == 0) {
		uvs_socket_table_summarize(&s->table, out);
		uvs_sock_trace_learn(&s->trace, &s->table);
	}
	uvs_sock_trace_window(&s->trace, out, lost);
}

void uvs_sockets_totals(struct uvs_sockets *s, struct uvs_sockets_snapshot *out, uint64_t *lost)
{
	uvs_sock_trace_totals(&s->trace, out, lost);
}
