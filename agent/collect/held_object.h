/* SPDX-License-Identifier: MIT */
/*
 * A BPF object that one agent loads once for all its targets (collect/bpf_shared.h) and whose
 * links are host-wide: tracepoints that run in every process or for every socket on the host
 * (bpf/syscalls.bpf.c, bpf/sockets.bpf.c). Other processes pay for those hooks, so they are
 * attached only while some target holds them: the first target in attaches them, the last one
 * out (at its quiesce or detach) detaches them, and a target that comes later attaches them
 * again. The object itself stays loaded until sh is freed (its maps keep the figures).
 */
#ifndef UVSCOPE_HELD_OBJECT_H
#define UVSCOPE_HELD_OBJECT_H

#include <bpf/libbpf.h>

#include "collect/bpf_shared.h"

struct uvs_held_object {
	void *skel;                        /* the generated skeleton (struct x_bpf) */
	struct bpf_object_skeleton *desc;  /* its skel->skeleton: loads, attaches, detaches */
	void (*destroy)(void *skel);
	unsigned int holders;              /* targets holding the links */
};

/*
 * Loads an opened skeleton (its read-only data set) with sh's shared maps, and gives it to sh
 * as object `which`, wrapped in a held object that sh frees. skel NULL is an open that failed
 * (errno says why). On failure destroys skel and returns NULL with *err set to -errno.
 */
struct uvs_held_object *uvs_held_object_load(struct uvs_bpf_shared *sh, enum uvs_bpf_obj which,
					     void *skel, struct bpf_object_skeleton *desc,
					     void (*destroy)(void *skel), int *err);

/* One more target holds the links (the first attaches them). 0, or -errno. */
int uvs_held_object_hold(struct uvs_held_object *h);

/* One target lets go (the last detaches them). */
void uvs_held_object_let_go(struct uvs_held_object *h);

#endif
