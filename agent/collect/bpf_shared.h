/* SPDX-License-Identifier: MIT */
/*
 * What every target of one agent shares on the BPF side: each BPF object, loaded once (the
 * first target that needs it loads it; it stays until the agent ends, since a ring buffer
 * reader cannot give a ring back), the maps every object declares (targets, target_index,
 * loop_state: created by the loop object, reused by the others), the slots of the targets,
 * the one reader of all the ring buffers, and (not BPF, but every target's too) the socket
 * census.
 *
 * A target's part is its links (uprobes on its binary, for its pid), its slot, and its entry in
 * `targets`, published when all its modules are attached. A ring record says its process
 * (tgid); the module's callback finds that process's instance with uvs_bpf_shared_inst_of().
 */
#ifndef UVSCOPE_BPF_SHARED_H
#define UVSCOPE_BPF_SHARED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <bpf/libbpf.h>

#include "uvscope/targets.h"

enum uvs_bpf_obj {
	UVS_OBJ_LOOP = 0,
	UVS_OBJ_POOL,
	UVS_OBJ_SYSCALLS,
	UVS_OBJ_STACKS,
	UVS_OBJ_GC,
	UVS_OBJ_SOCKETS,
	UVS_OBJ_COUNT,
};

struct uvs_bpf_shared;

struct uvs_bpf_shared *uvs_bpf_shared_new(void);

/* Frees the reader and destroys every loaded object (with its destroy function). */
void uvs_bpf_shared_free(struct uvs_bpf_shared *sh);

/*
 * The loaded skeleton of an object, NULL before its first load. A module sets it after loading
 * (with the function that destroys it) and takes it from here for every later target.
 */
void *uvs_bpf_shared_object(const struct uvs_bpf_shared *sh, enum uvs_bpf_obj which);
void uvs_bpf_shared_set_object(struct uvs_bpf_shared *sh, enum uvs_bpf_obj which, void *skel,
			       void (*destroy)(void *skel));

/*
 * The shared maps. The loop object, loaded first, hands its own over (set_maps); every other
 * object calls reuse() between open and load, which points those of the three it declares at
 * them. 0, or -errno.
 */
int uvs_bpf_shared_set_maps(struct uvs_bpf_shared *sh, struct bpf_object *loop_obj);
int uvs_bpf_shared_reuse(const struct uvs_bpf_shared *sh, struct bpf_object *obj);
int uvs_bpf_shared_loop_state_fd(const struct uvs_bpf_shared *sh);

/* A slot for process tgid: 0 .. UVS_MAX_TARGETS-1, or -ENOSPC (-EEXIST when it has one). */
int uvs_bpf_shared_claim(struct uvs_bpf_shared *sh, pid_t tgid);
/* Gives the slot back (after unpublish and the module's cleanup). */
void uvs_bpf_shared_release(struct uvs_bpf_shared *sh, int slot);

/* The slot of tgid, or -1. */
int uvs_bpf_shared_slot_of(const struct uvs_bpf_shared *sh, pid_t tgid);

/* A module's per-target state for a slot, which ring callbacks reach by the record's tgid. */
void uvs_bpf_shared_set_inst(struct uvs_bpf_shared *sh, int slot, enum uvs_bpf_obj which,
			     void *inst);
void *uvs_bpf_shared_inst_of(const struct uvs_bpf_shared *sh, pid_t tgid, enum uvs_bpf_obj which);

/*
 * Puts tgid's configuration (its slot in cfg->slot) in `targets` and in the index every program
 * looks in first (include/uvscope/targets.h): from now on the programs count it. unpublish
 * takes it out of both. 0, or -errno.
 */
int uvs_bpf_shared_publish(struct uvs_bpf_shared *sh, pid_t tgid, const struct uvs_target_cfg *cfg);
void uvs_bpf_shared_unpublish(struct uvs_bpf_shared *sh, pid_t tgid);

/*
 * Adds ring `nth` of an object to the one reader (made with the first), once: a later call for
 * the same ring does nothing. Rings are read in the order they were added (the collector adds
 * them in the order it needs: collect/bpf_collector.c). 0, or -errno.
 */
int uvs_bpf_shared_add_ring(struct uvs_bpf_shared *sh, enum uvs_bpf_obj which, unsigned int nth,
			    int map_fd, ring_buffer_sample_fn fn, void *ctx);

/*
 * A link every target shares (a host-wide tracepoint), destroyed with the host: 0, or -ENOSPC
 * (the link is destroyed then).
 */
int uvs_bpf_shared_keep_link(struct uvs_bpf_shared *sh, struct bpf_link *link);

/*
 * The loop object's host-wide epoll hooks (fentry/fexit on the epoll syscalls, or the
 * sys_enter/sys_exit tracepoints): only targets whose waits no uprobe catches (a stripped node)
 * need them, and every process on the host pays for them while they are attached. So they are
 * held like the other host-wide links (collect/held_object.h): the first target that needs them
 * attaches them and hands them over with set_syscall_hooks (it holds them then), a later one
 * takes a hold with hold_syscall_hooks, and the last one to let go detaches them.
 */
/* The hooks are attached as `kind` ("fentry" or "tracepoints", a string that outlives the
 * host); n links, taken over (destroyed here on failure). The caller holds them. 0 or -errno. */
int uvs_bpf_shared_set_syscall_hooks(struct uvs_bpf_shared *sh, struct bpf_link **links, size_t n,
				     const char *kind);
/* One more holder of the attached hooks: their kind, or NULL when none are attached. */
const char *uvs_bpf_shared_hold_syscall_hooks(struct uvs_bpf_shared *sh);
/* A holder lets go; the last one detaches them. */
void uvs_bpf_shared_let_go_syscall_hooks(struct uvs_bpf_shared *sh);

/*
 * The agent's socket census (collect/sock_census.h): the targets of one network namespace
 * share its socket-table dumps. NULL when it could not be made (each target dumps its own).
 */
struct uvs_sock_census *uvs_bpf_shared_census(const struct uvs_bpf_shared *sh);

/* The reader's epoll fd (-1 before any ring), and taking what is ready in every ring. */
int uvs_bpf_shared_event_fd(const struct uvs_bpf_shared *sh);
void uvs_bpf_shared_poll(struct uvs_bpf_shared *sh);

#endif
