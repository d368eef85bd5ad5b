/* SPDX-License-Identifier: MIT */
/*
 * Where libuv's uv__io_poll calls the epoll wait, so the wait can be caught with two uprobes in
 * the target alone instead of syscall hooks that every process on the host pays for.
 *
 * uv__io_poll (in .symtab of official builds) makes the wait as a direct `call epoll_pwait@plt`
 * (Node 20+) or `call epoll_wait@plt` (Node 18, libuv 1.44; it also has an epoll_pwait call used
 * when a signal mask is set). A site is found by decoding uv__io_poll from its symbol's start
 * with capstone (so both hooks are proven instruction boundaries) and resolving each direct
 * call's target: a PLT stub whose `jmp *GOT(%rip)` reads the GOT slot that .rela.plt binds to
 * epoll_wait / epoll_pwait / epoll_pwait2.
 *
 * Entry hook: the call instruction itself (the kernel emulates `call rel32`: no single-step);
 * the arguments are in rdi (epfd) and rcx (timeout, or the timespec pointer of epoll_pwait2).
 * Return hook: the first instruction after the call that the kernel emulates (a direct call,
 * as in `call __errno_location@plt` on Node 20 and 22, `call uv__io_poll_check` on 24), reached
 * in a straight line (no branch in between); the instruction right after the call is a `mov`
 * or `xor` on every official build, which would be single-stepped (5-9 us per hit). By then
 * eax has been copied: the site says where (a callee-saved register or a slot at rbp+disp),
 * checked not to be overwritten before the hook. A site without such a hook is not used.
 */
#ifndef UVSCOPE_EPOLL_SITES_H
#define UVSCOPE_EPOLL_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "target/elf.h"
#include "uvscope/epoll_sites.h"

#define UVS_EPOLL_SITES_MAX 8

struct uvs_epoll_site {
	uint64_t call_addr;    /* ELF address of the `call epoll_*@plt` */
	uint64_t call_offset;  /* its file offset: the entry uprobe */
	uint64_t hook_addr;    /* ELF address of the return hook */
	uint64_t hook_offset;  /* its file offset: the return uprobe */
	int nr;                /* the syscall the callee makes (232, 281, 441) */
	uint64_t ret_cookie;   /* where the return value is at the hook: uvs_epoll_ret_cookie(),
				* and where `lfields` is (UVS_EPOLL_COOKIE_LFIELDS) */
};

/*
 * Finds every epoll wait call in uv__io_poll of elf, read from path with libelf for its
 * relocations. Returns the number of sites (> 0) in out[0..cap), or -errno with one sentence
 * in why: -ENOENT when uv__io_poll is absent (stripped or distro builds) or calls no epoll
 * wait, -ENOTSUP when a site has no cheap return hook.
 */
/*
 * Where uv__io_poll keeps `lfields` at each site's return hook, from the DWARF of path (official
 * builds carry libuv's): sets each cookie's lfields register. Returns how many sites have it;
 * a site whose location is not one callee-saved register keeps 0 (two hooks for it).
 */
int uvs_epoll_sites_find_lfields(const char *path, uint64_t io_poll_addr,
				 struct uvs_epoll_site *sites, int n);

int uvs_epoll_sites_find(struct uvs_elf *elf, const char *path, struct uvs_epoll_site *out,
			 size_t cap, char *why, size_t whycap);

#endif
