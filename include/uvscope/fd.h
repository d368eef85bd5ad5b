/* SPDX-License-Identifier: MIT */
/* File descriptor types, as the BPF side and the /proc scan both classify them. */
#ifndef UVSCOPE_FD_H
#define UVSCOPE_FD_H

enum uvs_fd_type {
	UVS_FD_FILE = 0, /* regular files, directories, devices */
	UVS_FD_SOCKET,
	UVS_FD_PIPE,     /* pipes and FIFOs */
	UVS_FD_ANON,     /* anon inodes: eventfd, epoll, timerfd, io_uring, pidfd, ... */
	UVS_FD_OTHER,
	UVS_FD_TYPES,
};

#endif /* UVSCOPE_FD_H */
