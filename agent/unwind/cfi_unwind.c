// SPDX-License-Identifier: MIT
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unwind/cfi_expr.h"
#include "unwind/cfi_objects.h"
#include "unwind/cfi_unwind.h"
#include "unwind/proc_objects.h"

/* Objects whose CFI is kept; node maps about a dozen. Past this, new objects have no CFI. */
#define OBJECTS_MAX 256

/*
 * CFI rows by pc, direct-mapped: a node's samples return to the same few hundred call sites,
 * and finding a row (the object, its FDE, running its CIE and FDE programs) costs microseconds.
 */
#define ROWS_CACHED 4096

/*
 * The callee-saved registers of the x86-64 psABI (%rbx, %rbp, %r12-%r15) and the RA: all a
 * caller stopped at a call can need (%rsp is the CFA); the others are dead across a call. Only
 * a signal frame's caller was stopped anywhere, and gets every register its CFI restores.
 */
static const int callee_saved[] = { 3, UVS_DW_RBP, 12, 13, 14, 15, UVS_DW_RA };
static const int every_reg[] = { 0, 1, 2, 3, 4, 5, UVS_DW_RBP, 8, 9, 10, 11, 12, 13, 14, 15,
				 UVS_DW_RA };

struct cached_row {
	uint64_t pc;        /* the pc looked up (a return address - 1, or an exact pc) */
	Dwarf_Frame *frame; /* NULL: no CFI for pc (JIT code, V8's builtins) */
	bool used;
};

/* One mapped file of the target (by device and inode) and its CFI, shared (cfi_objects.h). */
struct object {
	dev_t dev;
	ino_t ino;
	struct uvs_cfi_object *cfi; /* a reference; NULL: no ELF object uvscope reads */
};

struct uvs_unwinder {
	struct uvs_proc_objects *own; /* set when the unwinder made its own source */
	struct uvs_object_source src;
	struct object objects[OBJECTS_MAX];
	size_t nobjects;
	struct cached_row rows[ROWS_CACHED];
	struct uvs_unwind_stats stats;
};

enum step {
	STEP_NEXT,    /* regs now hold the caller's */
	STEP_END,     /* the outermost frame */
	STEP_STOP,    /* cannot go on */
};


struct uvs_unwinder *uvs_unwinder_new_with_source(const struct uvs_object_source *src)
{
	struct uvs_unwinder *u;

	if (!src || !src->object_at) {
		errno = EINVAL;
		return NULL;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->src = *src;
	return u;
}


struct uvs_unwinder *uvs_unwinder_new(int pid)
{
	struct uvs_proc_objects *objs = uvs_proc_objects_new(pid);
	struct uvs_object_source src;
	struct uvs_unwinder *u;

	if (!objs)
		return NULL;
	src = uvs_proc_objects_source(objs);
	u = uvs_unwinder_new_with_source(&src);
	if (!u) {
		uvs_proc_objects_free(objs);
		return NULL;
	}
	u->own = objs;
	return u;
}


void uvs_unwinder_free(struct uvs_unwinder *u)
{
	if (!u)
		return;
	uvs_unwinder_forget_rows(u);
	/* After the rows: they point into the objects' CFI. */
	for (size_t i = 0; i < u->nobjects; i++)
		uvs_cfi_object_put(u->objects[i].cfi);
	uvs_proc_objects_free(u->own);
	free(u);
}


void uvs_unwinder_forget_rows(struct uvs_unwinder *u)
{
	for (size_t i = 0; i < ROWS_CACHED; i++) {
		free(u->rows[i].frame);
		u->rows[i] = (struct cached_row){ 0 };
	}
}


void uvs_unwinder_stats(const struct uvs_unwinder *u, struct uvs_unwind_stats *out)
{
	*out = u->stats;
}


/* The object behind fd, its CFI taken from the shared ones the first time it is seen. */
static struct object *object_for_fd(struct uvs_unwinder *u, int fd)
{
	struct uvs_cfi_object *cfi;
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return NULL;
	for (size_t i = 0; i < u->nobjects; i++) {
		if (u->objects[i].dev == st.st_dev && u->objects[i].ino == st.st_ino)
			return &u->objects[i];
	}
	if (u->nobjects == OBJECTS_MAX)
		return NULL;
	cfi = uvs_cfi_object_get(fd);
	/* Out of fds or memory: tried again at its next frame. */
	if (!cfi && errno != ENOEXEC && errno != EINVAL)
		return NULL;
	/* Kept also when it is no ELF object, so that it is not opened again per frame. */
	u->objects[u->nobjects] = (struct object){ .dev = st.st_dev, .ino = st.st_ino, .cfi = cfi };
	return &u->objects[u->nobjects++];
}


/* The CFI row for pc (a pc of the target), or NULL with no CFI for it. Free the result. */
static Dwarf_Frame *find_row(struct uvs_unwinder *u, uint64_t pc)
{
	struct object *o;
	uint64_t bias;
	int fd;

	if (u->src.object_at(u->src.ctx, pc, &fd, &bias, NULL))
		return NULL;
	o = object_for_fd(u, fd);
	if (!o)
		return NULL;
	return uvs_cfi_object_row(o->cfi, pc - bias);
}


/*
 * The CFI row for pc from the cache, else found and cached; NULL with no CFI for it. That no
 * CFI was found is cached too: the JIT and builtin frames between native ones are as frequent.
 */
static Dwarf_Frame *frame_at(struct uvs_unwinder *u, uint64_t pc)
{
	struct cached_row *slot = &u->rows[(pc ^ (pc >> 12)) % ROWS_CACHED];
	Dwarf_Frame *frame;

	if (slot->used && slot->pc == pc) {
		u->stats.rows_cached++;
		return slot->frame;
	}
	frame = find_row(u, pc);
	free(slot->frame);
	*slot = (struct cached_row){ .pc = pc, .frame = frame, .used = true };
	return frame;
}


/* The caller's value of register regno by the frame's rule; false when it is not known. */
static bool restore_register(Dwarf_Frame *frame, int regno, const struct uvs_cfi_regs *regs,
			     const struct uvs_stack_bytes *stack, uint64_t cfa, uint64_t *out,
			     bool *undefined)
{
	Dwarf_Op ops_mem[3], *ops;
	struct uvs_cfi_result r;
	size_t nops;

	*undefined = false;
	if (dwarf_frame_register(frame, regno, ops_mem, &ops, &nops))
		return false;
	if (nops == 0) {
		if (ops) { /* "undefined": call-clobbered, or the outermost frame for the RA */
			*undefined = true;
			return false;
		}
		/* "same value": this frame did not change it. */
		if (!(regs->valid & (1u << regno)))
			return false;
		*out = regs->v[regno];
		return true;
	}
	if (uvs_cfi_eval(ops, nops, regs, stack, true, cfa, &r))
		return false;
	if (r.is_value) {
		*out = r.word;
		return true;
	}
	return uvs_stack_read(stack, r.word, out);
}


/* One step by CFI; regs become the caller's. signal: frame is a signal trampoline's. */
static enum step step_cfi(Dwarf_Frame *frame, bool signal, struct uvs_cfi_regs *regs,
			  const struct uvs_stack_bytes *stack)
{
	const int *restored = signal ? every_reg : callee_saved;
	size_t nrestored = signal ? sizeof(every_reg) / sizeof(every_reg[0])
				  : sizeof(callee_saved) / sizeof(callee_saved[0]);
	struct uvs_cfi_regs caller = { 0 };
	struct uvs_cfi_result cfa;
	Dwarf_Op *ops;
	size_t nops;
	bool undefined;

	if (dwarf_frame_cfa(frame, &ops, &nops) || nops == 0 ||
	    uvs_cfi_eval(ops, nops, regs, stack, false, 0, &cfa) || cfa.is_value)
		return STEP_STOP;
	for (size_t i = 0; i < nrestored; i++) {
		int regno = restored[i];
		uint64_t v;

		if (restore_register(frame, regno, regs, stack, cfa.word, &v, &undefined)) {
			caller.v[regno] = v;
			caller.valid |= 1u << regno;
		} else if (regno == UVS_DW_RA) {
			return undefined ? STEP_END : STEP_STOP;
		}
	}
	/* The CFA is, by definition on x86-64, the caller's %rsp. */
	caller.v[UVS_DW_RSP] = cfa.word;
	caller.valid |= 1u << UVS_DW_RSP;
	*regs = caller;
	return STEP_NEXT;
}


/*
 * One step by frame pointer, for code without CFI: [rbp] is the caller's rbp, [rbp + 8] the
 * return address. Registers other than these are unknown in the caller afterwards.
 */
static enum step step_fp(struct uvs_cfi_regs *regs, const struct uvs_stack_bytes *stack)
{
	uint64_t fp = regs->v[UVS_DW_RBP], caller_fp, ra;
	bool known = regs->valid & (1u << UVS_DW_RBP);

	if (known && fp == 0)
		return STEP_END; /* the outermost frame zeroes %rbp, as the BPF walk expects */
	if (!known || fp < regs->v[UVS_DW_RSP] || !uvs_stack_read(stack, fp, &caller_fp) ||
	    !uvs_stack_read(stack, fp + 8, &ra))
		return STEP_STOP;
	regs->valid = (1u << UVS_DW_RBP) | (1u << UVS_DW_RSP) | (1u << UVS_DW_RA);
	regs->v[UVS_DW_RBP] = caller_fp;
	regs->v[UVS_DW_RSP] = fp + 16;
	regs->v[UVS_DW_RA] = ra;
	return STEP_NEXT;
}


static void emit(struct uvs_raw_frame *f, const struct uvs_cfi_regs *regs,
		 const struct uvs_stack_bytes *stack)
{
	uint64_t fp = (regs->valid & (1u << UVS_DW_RBP)) ? regs->v[UVS_DW_RBP] : 0;
	uint64_t m8, m16;

	f->pc = regs->v[UVS_DW_RA];
	f->fp = fp;
	f->slot_m8 = 0;
	f->slot_m16 = 0;
	if (fp >= 16 && uvs_stack_read(stack, fp - 16, &m16) && uvs_stack_read(stack, fp - 8, &m8)) {
		f->slot_m8 = m8;
		f->slot_m16 = m16;
	}
}


/*
 * Finds the caller of the frame in regs. exact_pc: the pc is where the frame was interrupted
 * (frame 0, or the frame a signal interrupted), not a return address, whose call instruction
 * is the byte before it (a call can be a function's last instruction).
 */
static enum step step(struct uvs_unwinder *u, struct uvs_cfi_regs *regs, bool *exact_pc,
		      const struct uvs_stack_bytes *stack)
{
	uint64_t pc = regs->v[UVS_DW_RA];
	Dwarf_Frame *frame = frame_at(u, *exact_pc ? pc : pc - 1);
	enum step s;

	if (!frame) {
		s = step_fp(regs, stack);
		u->stats.fp_steps += s == STEP_NEXT;
		u->stats.stop_fp += s == STEP_STOP;
		*exact_pc = false;
		return s;
	}
	/* The caller of a signal trampoline was interrupted at its pc, not at a call. */
	if (dwarf_frame_info(frame, NULL, NULL, exact_pc) < 0)
		*exact_pc = false;
	s = step_cfi(frame, *exact_pc, regs, stack);
	u->stats.cfi_steps += s == STEP_NEXT;
	u->stats.stop_cfi += s == STEP_STOP;
	return s;
}


int uvs_unwind_copy_at(struct uvs_unwinder *u, uint64_t ip, uint64_t sp, uint64_t bp,
		       uint64_t copy_base, const uint8_t *copy, size_t len,
		       struct uvs_raw_frame *out, size_t cap, bool *complete)
{
	return uvs_unwind_copy_beyond(u, ip, sp, bp, copy_base, copy, len, NULL, out, cap,
				      complete);
}

int uvs_unwind_copy_beyond(struct uvs_unwinder *u, uint64_t ip, uint64_t sp, uint64_t bp,
			   uint64_t copy_base, const uint8_t *copy, size_t len,
			   const struct uvs_stack_beyond *beyond, struct uvs_raw_frame *out,
			   size_t cap, bool *complete)
{
	const struct uvs_stack_bytes stack = { .data = copy, .base = copy_base, .len = len,
					       .beyond = beyond };
	struct uvs_cfi_regs regs = { 0 };
	bool exact_pc = true;
	size_t n = 0;

	*complete = false;
	if (!u || !out || cap == 0)
		return 0;
	u->stats.walks++;
	regs.v[UVS_DW_RA] = ip;
	regs.v[UVS_DW_RSP] = sp;
	regs.v[UVS_DW_RBP] = bp;
	regs.valid = (1u << UVS_DW_RA) | (1u << UVS_DW_RSP) | (1u << UVS_DW_RBP);
	for (;;) {
		uint64_t prev_sp = regs.v[UVS_DW_RSP];
		enum step s;

		emit(&out[n++], &regs, &stack);
		if (n == cap) {
			u->stats.stop_cap++;
			break;
		}
		s = step(u, &regs, &exact_pc, &stack);
		if (s == STEP_END || (s == STEP_NEXT && regs.v[UVS_DW_RA] == 0)) {
			*complete = true;
			u->stats.complete++;
			break;
		}
		/* Each caller's frame lies above its callee's: the walk ends, whatever the copy. */
		if (s != STEP_NEXT || !(regs.valid & (1u << UVS_DW_RSP)) ||
		    regs.v[UVS_DW_RSP] <= prev_sp)
			break;
	}
	return (int)n;
}

uint64_t uvs_unwind_missed_leaf_caller(struct uvs_unwinder *u, uint64_t ip, uint64_t sp,
				       uint64_t bp, uint64_t copy_base, const uint8_t *copy,
				       size_t len, uint64_t fp_caller_pc)
{
	struct uvs_raw_frame step[2];
	bool complete;

	if (!len || uvs_unwind_copy_at(u, ip, sp, bp, copy_base, copy, len, step, 2, &complete) != 2)
		return 0;
	if (step[1].pc == 0 || step[1].pc == fp_caller_pc)
		return 0;
	return step[1].pc;
}


int uvs_unwind_copy(struct uvs_unwinder *u, uint64_t ip, uint64_t sp, uint64_t bp,
		    const uint8_t *copy, size_t len, struct uvs_raw_frame *out, size_t cap,
		    bool *complete)
{
	return uvs_unwind_copy_at(u, ip, sp, bp, sp, copy, len, out, cap, complete);
}
