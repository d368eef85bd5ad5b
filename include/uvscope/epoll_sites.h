/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The attach cookie of the epoll-wait return uprobe: where the wait's return value is when the
 * hook runs (it is the first cheap-to-probe instruction after the call, by when eax may have
 * been copied elsewhere). Shared by the agent, which finds it, and bpf/loop.bpf.c.
 *   bits 0-7:  enum uvs_epoll_ret_kind
 *   bits 8-15: enum uvs_epoll_ret_reg (kind REG)
 *   bits 16-23: where uv__io_poll's `lfields` (libuv >= 1.45's uv__loop_internal_fields_t *)
 *               is at the hook: 1 + enum uvs_epoll_ret_reg for a register, or
 *               UVS_EPOLL_LFIELDS_RBP_SLOT for memory at rbp + 8 * (signed) bits 24-31;
 *               0 when unknown. With it the hook reads libuv's own idle-time metrics and is
 *               the only one needed per iteration (see bpf/loop.bpf.c)
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

/*
 * Offsets in the public uv_loop_t, ABI-stable in libuv 1.x: the same from 1.44 to 1.52 (Node 18
 * to 26; `ptype/o struct uv_loop_s` from each official build's DWARF).
 */
#define UVS_UV_LOOP_HANDLE_QUEUE 16    /* a circular list whose ends point back at it */
#define UVS_UV_LOOP_INTERNAL_FIELDS 40 /* uv__loop_internal_fields_t * */
#define UVS_UV_LOOP_BACKEND_FD 64      /* int, its epoll fd */

/* Offsets in libuv >= 1.45's uv__loop_internal_fields_t (same in 1.45 to 1.52, from DWARF). */
#define UVS_UV_LFIELDS_FLAGS 0                 /* unsigned int; bit 0: UV_METRICS_IDLE_TIME */
#define UVS_UV_LFIELDS_PROVIDER_ENTRY_TIME 136 /* u64 uv_hrtime() at the wait's entry, or 0 */
#define UVS_UV_LFIELDS_PROVIDER_IDLE_TIME 144  /* u64 idle ns so far (what ELU reads) */
#define UVS_UV_LFIELDS_CURRENT_TIMEOUT 192     /* int, the timeout of the wait being made */
/*
 * The uv_mutex_t after the two provider times (1.44 too), under which libuv clears the stamp
 * and then adds the wait to the idle time: glibc's pthread_mutex_t, its int __lock first,
 * nonzero while held. A reader that finds it held may see the stamp cleared and the idle time
 * not yet grown, a wait that looks like busy time.
 */
#define UVS_UV_LFIELDS_METRICS_LOCK 152
_Static_assert(UVS_UV_LFIELDS_METRICS_LOCK == UVS_UV_LFIELDS_PROVIDER_IDLE_TIME + 8,
	       "the metrics' lock follows the idle time");

#define UVS_EPOLL_LFIELDS_RBP_SLOT 0xff
#define UVS_EPOLL_COOKIE_LFIELDS(cookie) ((int)(((cookie) >> 16) & 0xff))
#define UVS_EPOLL_COOKIE_LFIELDS_SLOT(cookie) ((long)(signed char)(((cookie) >> 24) & 0xff) * 8)
#define UVS_EPOLL_COOKIE_WITH_LFIELDS(cookie, reg)                                          \
	(((cookie) & ~(0xffffULL << 16)) | ((unsigned long long)((reg) + 1) << 16))
#define UVS_EPOLL_COOKIE_WITH_LFIELDS_SLOT(cookie, disp)                                    \
	(((cookie) & ~(0xffffULL << 16)) | ((unsigned long long)UVS_EPOLL_LFIELDS_RBP_SLOT << 16) | \
	 ((unsigned long long)(unsigned char)(signed char)((disp) / 8) << 24))

#define UVS_EPOLL_RET_COOKIE(kind, reg, disp)                                               \
	((unsigned long long)(kind) | ((unsigned long long)(reg) << 8) |                    \
	 ((unsigned long long)(unsigned int)(int)(disp) << 32))

#endif
