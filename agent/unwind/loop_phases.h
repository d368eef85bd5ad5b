/* SPDX-License-Identifier: MIT */
/*
 * The loop phase of a sampled stack, from where the stack passes through libuv's uv_run.
 *
 * uv_run calls the phases one after the other: `call uv__run_timers`, `call uv__io_poll`,
 * `call uv__run_check`, ...; the return address into uv_run on a sampled stack therefore says
 * which phase was running. uv__run_pending and uv__run_closing_handles are inlined into uv_run
 * in every official build: their callbacks are indirect calls (or, on libuv 1.52, direct calls
 * to uv__io_cb and the watchers' I/O functions) made from inside the inlined code, and the
 * DWARF of libuv (official node builds carry it; V8 has none) gives those inlined ranges.
 *
 * The map is built once per libuv object, from:
 *   - DWARF: the call sites under uv_run (DW_TAG_call_site and DW_TAG_GNU_call_site: return
 *     address and callee) and the inlined ranges of the phase functions
 *     (DW_TAG_inlined_subroutine), read with libdw;
 *   - the disassembly of uv_run from its symbol (capstone): the map's call entries are
 *     exactly the `call` instructions a linear decode from the symbol's start finds, so every
 *     return address it keeps is proven; a DWARF call site elsewhere is ignored (and counted
 *     in uvs_phase_map_describe()); a call the DWARF does not list is named by the symbol at
 *     its target (.symtab), which is how a build without call-site DWARF still maps.
 * Without DWARF for uv_run (in the object or in its separate debug file) there is no map: the
 * inlined pending and close phases could not be told from the code around them.
 *
 * Addresses are the object's ELF virtual addresses (runtime pc minus load bias). Every
 * lookup takes a *return address* (frame i > 0 of a stack): the byte it stands for is
 * addr - 1, inside the call instruction. For frame 0 (the interrupted pc itself) pass pc + 1.
 *
 * Phases of the bookkeeping between phases are UVS_PHASE_NONE: uv__update_time (and its
 * uv__hrtime call), uv__metrics_update_idle_time, uv__backend_timeout (uv__next_timeout),
 * uv__loop_alive. They run no user code. (The exact-phase uprobes count the same few
 * microseconds in the phase before them; the difference is below sampling resolution.)
 *
 * Poll is UVS_PHASE_POLL_IO here: every I/O callback runs inside uv__io_poll, so its
 * return into uv_run is the one after `call uv__io_poll`. Whether the sample is in the epoll
 * wait (UVS_PHASE_POLL_WAIT) is for the caller to say, from the thread's state.
 */
#ifndef UVSCOPE_LOOP_PHASES_H
#define UVSCOPE_LOOP_PHASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "uvscope/stacks.h"

struct uvs_phase_map; /* opaque */

enum uvs_phase_entry_kind {
	UVS_PHASE_ENTRY_CALL = 1, /* a return address right after a call instruction in uv_run */
	UVS_PHASE_ENTRY_INLINED,  /* the range of a phase function inlined into uv_run */
};

/* Where an entry was learned. */
enum uvs_phase_entry_source {
	UVS_PHASE_FROM_DWARF = 1, /* a DWARF call site or inlined subroutine */
	UVS_PHASE_FROM_DISASM,    /* a direct call found by decoding uv_run (no DWARF call site) */
};

struct uvs_phase_entry {
	uint64_t start; /* CALL: the return address; INLINED: first byte of the range */
	uint64_t end;   /* CALL: start + 1; INLINED: one past the last byte */
	const char *callee; /* CALL: the direct callee ("uv__io_poll"), NULL for an indirect call;
			     * INLINED: the inlined function ("uv__run_pending") */
	int phase;          /* enum uvs_phase, or UVS_PHASE_NONE (bookkeeping between phases) */
	enum uvs_phase_entry_kind kind;
	enum uvs_phase_entry_source source;
};

/*
 * Builds the map of the object that holds libuv (the node binary, libnode.so or libuv.so.1):
 * read from elf_fd when it is >= 0 (kept open by the caller; /proc/PID/map_files or
 * /proc/PID/exe), else opened from path; path names the object in messages either way.
 * uv_run is found in .symtab, then .dynsym. The DWARF is the object's own, else that of its
 * separate debug file with the same build id, /usr/lib/debug/.build-id/xx/yyyy.debug (what
 * Debian's libuv1-dbgsym installs for its stripped libuv.so.1). NULL (errno set) when the
 * map cannot be built, with one sentence in why (cap bytes, NUL-terminated), e.g. "no DWARF
 * for libuv in /usr/lib/x86_64-linux-gnu/libuv.so.1 (nor in /usr/lib/debug/.build-id/…):
 * sampled phases are unavailable".
 */
struct uvs_phase_map *uvs_phase_map_new(int elf_fd, const char *path, char *why, size_t cap);

/* The same with the debug files looked for under debug_root (NULL: not looked for). */
struct uvs_phase_map *uvs_phase_map_new_debug(int elf_fd, const char *path, const char *debug_root,
					      char *why, size_t cap);

/* Frees m; accepts NULL. */
void uvs_phase_map_free(struct uvs_phase_map *m);

/*
 * The phase (enum uvs_phase) of a stack whose frame in uv_run has this return address;
 * UVS_PHASE_NONE when the address is not in uv_run or is between phases. An exact call-site
 * match wins; otherwise the inlined range holding addr - 1 decides.
 */
int uvs_phase_map_lookup(const struct uvs_phase_map *m, uint64_t ret_addr);

/* True when the return address ret_addr is in uv_run (addr - 1 within the function). */
bool uvs_phase_map_in_uv_run(const struct uvs_phase_map *m, uint64_t ret_addr);

/*
 * The phase of one sampled stack: frames[0..n) as BPF walked them (frame 0 the interrupted
 * pc, then return addresses; runtime addresses), load_bias = runtime address minus ELF
 * address of the libuv object (0 for the non-PIE official node). The outermost frame in
 * uv_run decides: that is the thread's own loop, and a uv_run nested inside one of its
 * callbacks (execSync, spawnSync run a private loop) is work that callback is doing. Frame 0
 * is looked up as pc + 1. UVS_PHASE_NONE when no frame is in uv_run; *frame_index (may be
 * NULL) gets the index of the deciding frame, or -1.
 */
int uvs_phase_map_stack_phase(const struct uvs_phase_map *m, const struct uvs_raw_frame *frames,
			      size_t n, uint64_t load_bias, int *frame_index);

/* uv_run's ELF range [*start, *end). */
void uvs_phase_map_uv_run(const struct uvs_phase_map *m, uint64_t *start, uint64_t *end);

/*
 * The table, call sites first (by address), then inlined ranges (by address); *entries
 * points into m and lives as long as m. Returns the number of entries.
 */
size_t uvs_phase_map_entries(const struct uvs_phase_map *m,
			     const struct uvs_phase_entry **entries);

/*
 * One line for the attach message, e.g. "sampled phases: 12 call sites, 5 inlined ranges
 * (DWARF) in /usr/bin/node". Returns buf (always NUL-terminated when cap > 0).
 */
const char *uvs_phase_map_describe(const struct uvs_phase_map *m, char *buf, size_t cap);

#endif
