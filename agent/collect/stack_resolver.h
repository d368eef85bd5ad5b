/* SPDX-License-Identifier: MIT */
/*
 * Names the frames of a raw sample (include/uvscope/stacks.h): kernel frames from kallsyms,
 * native frames from the ELF symbols of the objects the target maps, JavaScript frames from
 * V8's heap (agent/v8), the rest of a broken frame-pointer walk from .eh_frame (agent/unwind),
 * and the loop phase from the return address into uv_run (agent/unwind/loop_phases).
 */
#ifndef UVSCOPE_STACK_RESOLVER_H
#define UVSCOPE_STACK_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"
#include "target/process.h"
#include "uvscope/stacks.h"

#define UVS_RESOLVED_FRAMES_MAX (UVS_USER_FRAMES_MAX * 2 + UVS_KERNEL_FRAMES_MAX)

struct uvs_stack_resolver;

/* notes: what cannot be named on this target, one sentence each (at most 4), for the report. */
struct uvs_stack_resolver *uvs_stack_resolver_new(const struct uvs_target *t);
void uvs_stack_resolver_free(struct uvs_stack_resolver *r);
size_t uvs_stack_resolver_notes(const struct uvs_stack_resolver *r, const char **notes,
				size_t cap);

/*
 * Names raw's frames into out (root first), at most cap; *phase is the loop phase
 * (UVS_PHASE_NONE when the stack does not pass through uv_run). The frames' strings live in
 * the resolver until the next call. Returns the number of frames.
 */
size_t uvs_stack_resolve(struct uvs_stack_resolver *r, const struct uvs_stack_sample *raw,
			 const uint8_t *copy, size_t copy_len, struct uvs_frame *out, size_t cap,
			 int *phase);

/* What names the frames, for the attach line: "JS names from V8 11.3.244.8's heap, phases from
 * libuv's DWARF" (what is missing is in the notes). */
void uvs_stack_resolver_describe(const struct uvs_stack_resolver *r, char *buf, size_t cap);

/*
 * The role the last resolved stack shows for its thread tid (target/thread_roles.h): a Worker's
 * loop when it runs through Worker::Run, and so on; UVS_ROLE_OTHER when it passes through
 * none of them, which a cut walk may also do. Only within the sample's callback: the frames
 * may be the raw sample's.
 */
enum uvs_role uvs_stack_resolver_role(const struct uvs_stack_resolver *r, pid_t tid);

/* A GC may have moved objects; called at least once per window. */
void uvs_stack_resolver_new_epoch(struct uvs_stack_resolver *r);

#endif
