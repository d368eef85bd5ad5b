/* SPDX-License-Identifier: MIT */
/*
 * The target's socket table from /proc/PID/net/{tcp,tcp6,udp,udp6}: the tables of the
 * target's own network namespace, readable with ptrace access alone, for when the agent may
 * not open NETLINK_SOCK_DIAG there (entering another namespace needs CAP_SYS_ADMIN). The rows
 * are kept to the target's socket fds, as the netlink table's are. Less than netlink gives: no
 * tcp_info (no retransmits) and no listener backlog (the accept queue's limit is unknown).
 */
#ifndef UVSCOPE_PROC_NET_H
#define UVSCOPE_PROC_NET_H

#include <sys/types.h>

#include "collect/fd_table.h"
#include "core/socket_list.h"

/*
 * Parses one line of /proc/net/tcp, tcp6, udp or udp6 (family AF_INET or AF_INET6, protocol
 * IPPROTO_TCP or IPPROTO_UDP) into *out. 0, or -EINVAL for the header or a malformed line.
 */
int uvs_proc_net_parse_line(const char *line, int family, int protocol, struct uvs_sock *out);

/*
 * Reads the tables the target's socket fds (fds, read this window) need from pid's
 * /proc/PID/net and fills t with the target's rows, its Unix and other socket counts. 0, or
 * -errno when no table could be read.
 */
int uvs_proc_net_read(pid_t pid, const struct uvs_fd_table *fds, struct uvs_socket_table *t);

#endif
