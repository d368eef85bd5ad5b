/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The attach cookie of the epoll-wait return uprobe: where the wait's return value is when the
 * hook runs (it is the first cheap-to-probe instruction after the call, by when eax may have
 * been copied elsewhere). Shared by the agent, which finds it, and bpf/loop.bpf.c.
 *   bits 0-7:  enum uvs_epoll_ret_kind
 *   bits 8-15: enum uvs_epoll_ret_reg (kind REG)
 *   bits 32-63: signed 32-bit displacement from rbp (kind RBP_SLOT)
 */
#ifndef UVSCOPE_SHARED_EPOLL_SITES_H
#define UVSCOPE_SHARED_EPOLL_SITES_H

enum uvs_epoll_ret_kind {
	UVS_EPOLL_RET_REG = 1,      /* a register (32-bit, the int return value) */
	UVS_EPOLL_RET_RBP_SLOT = 2, /* an int at rbp + disp */
};

enum uvs_epoll_ret_reg {
	UVS_EPOLL_REG_RAX = 0,
	UVS_EPOLL_REG_RBX,
	UVS_EPOLL_REG_R12,
	UVS_EPOLL_REG_R13,
	UVS_EPOLL_REG_R14,
	UVS_EPOLL_REG_R15,
};

#define UVS_EPOLL_RET_COOKIE(kind, reg, disp)                                               \
	((unsigned long long)(kind) | ((unsigned long long)(reg) << 8) |                    \
	 ((unsigned long long)(unsigned int)(int)(disp) << 32))

#endif
