// SPDX-License-Identifier: MIT
#include "collect/stack_resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/stack_beyond.h"
#include "symbols/kallsyms.h"
#include "symbols/symbolizer.h"
#include "target/thread_roles.h"
#include "unwind/cfi_unwind.h"
#include "unwind/loop_phases.h"
#include "util/clock.h"
#include "util/text.h"
#include "v8/v8.h"

#define MAX_NOTES 4
#define REFRESH_NS 1000000000ULL
/* The most frames one sample can name: V8 frames may add a leaf builtin frame each. */
#define MAX_USER (UVS_USER_FRAMES_MAX * 2)

struct uvs_stack_resolver {
	const struct uvs_target *t;
	struct uvs_symbolizer *sym;
	struct uvs_v8 *v8;
	struct uvs_unwinder *unwinder;
	struct uvs_object_source objects; /* the unwinder's view of the target: the symbolizer */
	struct uvs_phase_map *phases;
	int phases_fd;
	uint64_t last_refresh;
	char notes[MAX_NOTES][320];
	size_t nnotes;
	/* Storage for one call's strings. */
	struct uvs_js_name js[UVS_RESOLVED_FRAMES_MAX];
	char text[UVS_RESOLVED_FRAMES_MAX][96];
	struct uvs_raw_frame unwound[UVS_USER_FRAMES_MAX];
	struct uvs_raw_frame walked[UVS_USER_FRAMES_MAX];
	struct uvs_stack_beyond_reader beyond; /* a sleeping thread's stack above its copy */
	/* The last call's user frames (raw's, walked or unwound), for uvs_stack_resolver_role. */
	const struct uvs_raw_frame *last_user;
	size_t last_nuser;
};

static void note(struct uvs_stack_resolver *r, const char *why)
{
	if (r->nnotes < MAX_NOTES && why && *why)
		snprintf(r->notes[r->nnotes++], sizeof(r->notes[0]), "%s", why);
}

/* The unwinder finds objects through the symbolizer: one map of the target, one fd each. */
static int object_at(void *ctx, uint64_t pc, int *fd, uint64_t *bias, const char **path)
{
	return uvs_symbolizer_object_fd(ctx, pc, fd, bias, path);
}

struct uvs_stack_resolver *uvs_stack_resolver_new(const struct uvs_target *t)
{
	struct uvs_stack_resolver *r = calloc(1, sizeof(*r));
	char why[320] = "", path[64];
	const char *node_path;

	if (!r)
		return NULL;
	r->t = t;
	r->phases_fd = -1;
	r->sym = uvs_symbolizer_new(t->pid);
	if (!r->sym) {
		free(r);
		return NULL;
	}
	/* Index every object now: the first sample must not wait half a second for node's. */
	uvs_symbolizer_preload(r->sym);
	/* kallsyms too, while we may read its addresses (they read as 0 without CAP_SYSLOG). */
	uvs_kallsyms_system();
	r->objects = (struct uvs_object_source){ .object_at = object_at, .ctx = r->sym };
	r->unwinder = uvs_unwinder_new_with_source(&r->objects);
	if (!r->unwinder)
		note(r, "no .eh_frame unwinder: stacks through code without frame pointers end there");
	/* V8 lives in the node binary (or libnode); its metadata names JS frames. */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)t->pid);
	node_path = t->has_node_object ? t->node.open_path : path;
	r->v8 = uvs_v8_open(t->pid, node_path, why, sizeof(why));
	note(r, why);
	/* libuv's DWARF: the phase of a sample from its return address into uv_run. */
	why[0] = 0;
	r->phases_fd = open(t->uv.open_path, O_RDONLY | O_CLOEXEC);
	if (r->phases_fd >= 0)
		r->phases = uvs_phase_map_new(r->phases_fd, t->uv.path, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "cannot open %s for its DWARF: %s", t->uv.path,
			 strerror(errno));
	if (!r->phases)
		note(r, why);
	return r;
}

void uvs_stack_resolver_free(struct uvs_stack_resolver *r)
{
	if (!r)
		return;
	uvs_phase_map_free(r->phases);
	if (r->phases_fd >= 0)
		close(r->phases_fd);
	uvs_unwinder_free(r->unwinder);
	uvs_v8_free(r->v8);
	uvs_symbolizer_free(r->sym);
	free(r);
}

size_t uvs_stack_resolver_notes(const struct uvs_stack_resolver *r, const char **notes, size_t cap)
{
	size_t i;

	for (i = 0; r && i < r->nnotes && i < cap; i++)
		notes[i] = r->notes[i];
	return i;
}

void uvs_stack_resolver_describe(const struct uvs_stack_resolver *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "JS names %s%s%s, phases %s", r->v8 ? "from V8 " : "unavailable",
		 r->v8 ? uvs_v8_version(r->v8) : "", r->v8 ? "'s heap" : "",
		 r->phases ? "from libuv's DWARF" : "unavailable");
}

enum uvs_role uvs_stack_resolver_role(const struct uvs_stack_resolver *r, pid_t tid)
{
	uint64_t pcs[UVS_USER_FRAMES_MAX];
	size_t n = r->last_nuser < UVS_USER_FRAMES_MAX ? r->last_nuser : UVS_USER_FRAMES_MAX;

	for (size_t i = 0; i < n; i++)
		pcs[i] = r->last_user[i].pc;
	return uvs_role_from_stack(r->t, tid, pcs, n);
}

void uvs_stack_resolver_new_epoch(struct uvs_stack_resolver *r)
{
	if (r && r->v8)
		uvs_v8_new_epoch(r->v8);
}

/* The user address pc of frame i: a return address is looked up one byte back (in the call). */
static int symbolize(struct uvs_stack_resolver *r, uint64_t pc, size_t i,
		     struct uvs_native_sym *s)
{
	uint64_t addr = i ? pc - 1 : pc;
	int err = uvs_symbolize_user(r->sym, addr, s);
	uint64_t now;

	if (err != -ENOENT)
		return err;
	/* A new mapping (a library loaded, JIT code space grown): read the maps again, rarely. */
	now = uvs_now_mono();
	if (now - r->last_refresh < REFRESH_NS)
		return err;
	/*
	 * Only if the kernel says addr is in code or a file now: else a read would not name it
	 * either (most such addresses are no code at all: a frame-pointer chain run into a frame
	 * without one, or into the heap). The second is then not used up: the next unknown
	 * address may still read, so an address in a mapping new since the last read is named
	 * as soon as it was with a read a second.
	 */
	if (uvs_symbolizer_may_name(r->sym, addr) == 0)
		return err;
	r->last_refresh = now;
	if (uvs_symbolizer_refresh(r->sym))
		return err;
	return uvs_symbolize_user(r->sym, addr, s);
}

static const char *basename_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "?";
}

static const char *strip_builtins(const char *name)
{
	return strncmp(name, "Builtins_", 9) == 0 ? name + 9 : name;
}

/*
 * A perf map name of a JS function, "JS:*name file:line:col" (the tag and the tier marker
 * vary by version: LazyCompile:, Function:, JS:; *, ~, ^, +), as a JS frame.
 */
static bool perf_map_js(const char *entry, struct uvs_js_name *js)
{
	const char *colon = strchr(entry, ':'), *name, *space, *file, *l1, *l2;

	if (!colon)
		return false;
	name = colon + 1;
	while (*name && strchr("*~^+-", *name))
		name++;
	space = strchr(name, ' ');
	if (!space)
		return false;
	file = space + 1;
	l2 = strrchr(file, ':');
	if (!l2 || l2 == file)
		return false;
	l1 = l2 - 1;
	while (l1 > file && *l1 != ':')
		l1--;
	if (*l1 != ':' || l1 == file)
		return false;
	if (space == name)
		snprintf(js->name, sizeof(js->name), "(anonymous)");
	else
		uvs_text_copy_cut(js->name, sizeof(js->name), name, (size_t)(space - name));
	uvs_text_copy_cut(js->file, sizeof(js->file), file, (size_t)(l1 - file));
	js->line = (uint32_t)strtoul(l1 + 1, NULL, 10);
	return true;
}

struct frames_out {
	struct uvs_frame *f;
	size_t n, cap;
};

static void put(struct frames_out *o, enum uvs_frame_kind kind, const char *name,
		const char *file, uint32_t line)
{
	if (o->n < o->cap)
		o->f[o->n++] = (struct uvs_frame){ .kind = kind, .name = name, .file = file,
						   .line = line };
}

/* One user frame, innermost first into o (a V8 frame may give two: the builtin and its JS). */
static void name_user_frame(struct uvs_stack_resolver *r, const struct uvs_raw_frame *f, size_t i,
			    struct frames_out *o)
{
	struct uvs_native_sym s = { 0 };
	struct uvs_js_name *js = &r->js[o->n < UVS_RESOLVED_FRAMES_MAX ? o->n : 0];
	char *text = r->text[o->n < UVS_RESOLVED_FRAMES_MAX ? o->n : 0];
	bool v8_code;

	if (symbolize(r, f->pc, i, &s)) {
		snprintf(text, sizeof(r->text[0]), "[unknown 0x%llx]", (unsigned long long)f->pc);
		put(o, UVS_FRAME_UNKNOWN, text, NULL, 0);
		return;
	}
	v8_code = s.kind == UVS_ADDR_ANON_EXEC || s.v8_builtin;
	if (v8_code && r->v8) {
		switch (uvs_v8_name_frame(r->v8, f, true, js)) {
		case UVS_V8_FRAME_JS:
			/* The leaf in a bytecode handler or builtin: that too, below its JS function. */
			if (i == 0 && s.v8_builtin && s.name &&
			    !strstr(s.name, "InterpreterEntryTrampoline"))
				put(o, UVS_FRAME_V8, strip_builtins(s.name), NULL, 0);
			put(o, UVS_FRAME_JS, js->name, js->file, js->line);
			return;
		case UVS_V8_FRAME_JS_UNKNOWN:
			if (s.from_perf_map && s.name && perf_map_js(s.name, js)) {
				put(o, UVS_FRAME_JS, js->name, js->file, js->line);
				return;
			}
			put(o, UVS_FRAME_UNKNOWN, "[JS: unknown]", NULL, 0);
			return;
		case UVS_V8_FRAME_TYPED:
		case UVS_V8_FRAME_NOT_V8:
			break;
		}
	}
	if (s.kind == UVS_ADDR_ANON_EXEC) {
		if (s.name && perf_map_js(s.name, js))
			put(o, UVS_FRAME_JS, js->name, js->file, js->line);
		else if (s.name)
			put(o, UVS_FRAME_V8, s.name, NULL, 0);
		else
			put(o, UVS_FRAME_UNKNOWN, "[JIT]", NULL, 0);
		return;
	}
	if (s.name) {
		put(o, s.v8_builtin ? UVS_FRAME_V8 : UVS_FRAME_NATIVE,
		    s.v8_builtin ? strip_builtins(s.name) : s.name, s.object, 0);
		return;
	}
	snprintf(text, sizeof(r->text[0]), "[%s+0x%llx]", basename_of(s.object),
		 (unsigned long long)s.elf_addr);
	uvs_sanitize(text, sizeof(r->text[0]));
	put(o, UVS_FRAME_UNKNOWN, text, s.object, 0);
}

/* The loop phase from the innermost return address into uv_run. */
static int phase_of(struct uvs_stack_resolver *r, const struct uvs_stack_sample *raw,
		    const struct uvs_raw_frame *user, size_t n)
{
	int phase;

	if (!r->phases || raw->loop == UVS_SAMPLE_NOT_LOOP)
		return UVS_PHASE_NONE;
	phase = uvs_phase_map_stack_phase(r->phases, user, n, r->t->uv.bias, NULL);
	if (phase == UVS_PHASE_POLL_IO && raw->loop == UVS_SAMPLE_LOOP_IDLE)
		phase = UVS_PHASE_POLL_WAIT;
	return phase;
}

/*
 * The copy holds the uprobes trampoline where a function with a pending uretprobe will return;
 * the kernel's originals, most recent first, go back in the frames' order (see stacks.h).
 */
static void put_back_uretprobe_returns(const struct uvs_stack_sample *raw,
				       struct uvs_raw_frame *frames, size_t n)
{
	uint32_t k = 0;

	for (size_t i = 1; i < n && raw->uretprobe_trampoline; i++)
		if (frames[i].pc == raw->uretprobe_trampoline && k < raw->nuretprobe_ret &&
		    k < UVS_URETPROBES_MAX)
			frames[i].pc = raw->uretprobe_ret[k++];
}

/*
 * A stack cut short before uv_run (deeper than the copy of the stack reaches) still says its
 * phase when its outermost libuv frame is one of the phase functions: only uv_run calls them.
 */
static int phase_of_cut_stack(const struct uvs_stack_sample *raw, const struct uvs_frame *frames,
			      size_t n)
{
	static const struct {
		const char *name;
		int phase;
	} callees[] = {
		{ "uv__run_timers", UVS_PHASE_TIMERS }, { "uv__run_idle", UVS_PHASE_IDLE },
		{ "uv__run_prepare", UVS_PHASE_PREPARE }, { "uv__io_poll", UVS_PHASE_POLL_IO },
		{ "uv__run_check", UVS_PHASE_CHECK },
	};

	for (size_t i = n; i-- > 0;) {
		if (frames[i].kind != UVS_FRAME_NATIVE)
			continue;
		for (size_t k = 0; k < sizeof(callees) / sizeof(callees[0]); k++) {
			if (strcmp(frames[i].name, callees[k].name))
				continue;
			if (callees[k].phase == UVS_PHASE_POLL_IO && raw->loop == UVS_SAMPLE_LOOP_IDLE)
				return UVS_PHASE_POLL_WAIT;
			return callees[k].phase;
		}
	}
	return UVS_PHASE_NONE;
}

/*
 * The walk's frames with the caller it missed at a frameless innermost function put in as
 * frame 1 (uvs_unwind_missed_leaf_caller says which), with frame 0's fp and slots: the frame
 * %rbp points to is the caller's. Needs the copy of the stack (only for the CFI step). Returns
 * the frame count, 0 when nothing was added. Also for a walk that broke further up, when the
 * CFI unwind of the copy found fewer frames (it stops where the copy ends, or where a perf
 * sample's copy lacks the red zone below %rsp that a CFI rule reads %rbp from).
 */
static size_t add_frameless_leaf_caller(struct uvs_stack_resolver *r,
					const struct uvs_stack_sample *raw, const uint8_t *copy,
					size_t copy_len, const struct uvs_raw_frame *user,
					size_t nuser)
{
	uint64_t caller;
	size_t n;

	if (nuser < 2 || !copy_len || !r->unwinder || raw->sp < UVS_STACK_COPY_REDZONE)
		return 0;
	caller = uvs_unwind_missed_leaf_caller(r->unwinder, raw->ip, raw->sp, raw->bp,
					       raw->sp - UVS_STACK_COPY_REDZONE, copy, copy_len,
					       user[1].pc);
	if (!caller)
		return 0;
	n = nuser < UVS_USER_FRAMES_MAX ? nuser + 1 : UVS_USER_FRAMES_MAX;
	/* user may be r->walked itself: move the outer frames up first. */
	memmove(&r->walked[2], &user[1], (n - 2) * sizeof(user[0]));
	r->walked[0] = user[0];
	r->walked[1] = user[0];
	r->walked[1].pc = caller;
	return n;
}

/*
 * The CFI walk of a broken walk's copy into r->unwound; for a thread asleep in a system call,
 * on above the copy while the thread is still where it was sampled (collect/stack_beyond.h).
 */
static int unwind_copy(struct uvs_stack_resolver *r, const struct uvs_stack_sample *raw,
		       const uint8_t *copy, size_t copy_len)
{
	uint64_t base = raw->sp - UVS_STACK_COPY_REDZONE;
	bool complete, beyond;
	int n;

	beyond = uvs_stack_beyond_init(&r->beyond, r->t->pid, raw, base + copy_len);
	n = uvs_unwind_copy_beyond(r->unwinder, raw->ip, raw->sp, raw->bp, base, copy, copy_len,
				   beyond ? &r->beyond.source : NULL, r->unwound,
				   UVS_USER_FRAMES_MAX, &complete);
	/* It woke while its stack was read: what lay above the copy may be another call's. */
	if (beyond && uvs_stack_beyond_used(&r->beyond) && !uvs_stack_beyond_held(&r->beyond))
		n = uvs_unwind_copy_at(r->unwinder, raw->ip, raw->sp, raw->bp, base, copy,
				       copy_len, r->unwound, UVS_USER_FRAMES_MAX, &complete);
	return n;
}

size_t uvs_stack_resolve(struct uvs_stack_resolver *r, const struct uvs_stack_sample *raw,
			 const uint8_t *copy, size_t copy_len, struct uvs_frame *out, size_t cap,
			 int *phase)
{
	struct frames_out o = { .f = out, .cap = cap };
	const struct uvs_raw_frame *user = raw->user;
	size_t nuser = raw->nuser, i;

	r->last_nuser = 0;
	if (raw->nuretprobe_ret) {
		memcpy(r->walked, raw->user, nuser * sizeof(raw->user[0]));
		put_back_uretprobe_returns(raw, r->walked, nuser);
		user = r->walked;
	}

	/* Frame pointers broke: the copy of the stack and .eh_frame say the rest. */
	if (raw->walk_end == UVS_WALK_BROKEN && copy_len && r->unwinder &&
	    raw->sp >= UVS_STACK_COPY_REDZONE) {
		int n = unwind_copy(r, raw, copy, copy_len);

		if (n > (int)nuser) {
			user = r->unwound;
			nuser = (size_t)n;
			put_back_uretprobe_returns(raw, r->unwound, nuser);
		}
	}
	/* The frame-pointer walk's frames (whole, or longer than CFI's): its leaf checked. */
	if (user != r->unwound) {
		size_t n = add_frameless_leaf_caller(r, raw, copy, copy_len, user, nuser);

		if (n) {
			user = r->walked;
			nuser = n;
		}
	}
	/* Innermost first: the kernel's frames, then the user's. */
	for (i = 0; i < raw->nkernel; i++) {
		struct uvs_native_sym s = { 0 };

		if (uvs_symbolize_kernel(r->sym, raw->kernel[i], &s) == 0 && s.name) {
			put(&o, UVS_FRAME_KERNEL, s.name, NULL, 0);
		} else {
			snprintf(r->text[o.n < UVS_RESOLVED_FRAMES_MAX ? o.n : 0], sizeof(r->text[0]),
				 "[kernel 0x%llx]", (unsigned long long)raw->kernel[i]);
			put(&o, UVS_FRAME_KERNEL, r->text[o.n < UVS_RESOLVED_FRAMES_MAX ? o.n : 0],
			    NULL, 0);
		}
	}
	for (i = 0; i < nuser; i++)
		name_user_frame(r, &user[i], i, &o);
	r->last_user = user;
	r->last_nuser = nuser;
	*phase = phase_of(r, raw, user, nuser);
	if (*phase == UVS_PHASE_NONE && raw->loop != UVS_SAMPLE_NOT_LOOP)
		*phase = phase_of_cut_stack(raw, out, o.n);
	/* Root first. */
	for (i = 0; i < o.n / 2; i++) {
		struct uvs_frame tmp = out[i];

		out[i] = out[o.n - 1 - i];
		out[o.n - 1 - i] = tmp;
	}
	return o.n;
}
