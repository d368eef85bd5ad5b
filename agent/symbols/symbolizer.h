/* SPDX-License-Identifier: MIT */
/*
 * Native symbolization of one target process: a sampled address -> the function (or JIT code
 * object, or kernel function) it is in. The API the stack sampler calls per frame.
 *
 * User addresses go through the target's mappings (address_space.h): a file mapping is an ELF
 * object whose index (symtab.h, shared between processes by build id) names the address; an
 * anonymous executable mapping is JIT code, named by the target's perf map (perf_map.h) when
 * it runs with --perf-basic-prof. Kernel addresses go to kallsyms (kallsyms.h).
 *
 * Return addresses: for every frame but the first (the interrupted pc), pass the return
 * address minus 1. A call that is the last instruction of a function returns to the first
 * byte of the next one; pc - 1 is still inside the call, in the caller.
 *
 * One symbolizer is used from one thread at a time (the indexes it shares are thread-safe).
 */
#ifndef UVSCOPE_SYMBOLIZER_H
#define UVSCOPE_SYMBOLIZER_H

#include <stdbool.h>
#include <stdint.h>

/* Objects (distinct mapped files) one symbolizer opens at most: each holds an fd. */
#define UVS_SYMBOLIZER_MAX_OBJECTS 4096
/* Least time between two reads of the perf map caused by JIT addresses it did not name. */
#define UVS_SYMBOLIZER_PERF_MAP_INTERVAL_NS 1000000000ull

struct uvs_symbolizer;

/* For one target process; reads /proc/PID/maps now. NULL and errno on failure. */
struct uvs_symbolizer *uvs_symbolizer_new(int pid);
void uvs_symbolizer_free(struct uvs_symbolizer *s);

/*
 * Re-reads the maps (call it when an address falls in no known mapping, at most once per
 * second), and reads new lines of the perf map. 0 or -errno (the old maps are kept on error).
 */
int uvs_symbolizer_refresh(struct uvs_symbolizer *s);

/*
 * Whether a read of the maps now could name pc, which the last read placed nowhere (or in
 * anonymous data), asked of the kernel (symbols/maps_query.h) before paying for the read:
 * 1 yes, 0 no (the perf map's new lines are read all the same, at most once per
 * UVS_SYMBOLIZER_PERF_MAP_INTERVAL_NS, as uvs_symbolizer_refresh would have), < 0 cannot tell
 * (a kernel older than 6.11, or past the questions' bound): then refresh as before.
 */
int uvs_symbolizer_may_name(struct uvs_symbolizer *s, uint64_t pc);

/*
 * Opens and indexes now every object the target has mapped executable, so the first samples
 * do not pay for it (node's index takes a good fraction of a second: call this at attach, not
 * in the middle of an alert). Returns how many objects are indexed, or -errno.
 */
int uvs_symbolizer_preload(struct uvs_symbolizer *s);

enum uvs_addr_kind {
	UVS_ADDR_UNMAPPED = 0, /* in no mapping (even after a refresh) */
	UVS_ADDR_OBJECT,       /* a file-backed mapping of an ELF object */
	UVS_ADDR_ANON_EXEC,    /* an anonymous executable mapping: JIT code */
	UVS_ADDR_KERNEL,
};

struct uvs_native_sym {
	enum uvs_addr_kind kind;
	const char *name;     /* demangled symbol, or the perf map's name; NULL when none.
				 Valid until uvs_symbolizer_free. */
	const char *object;   /* path of the object ("/usr/bin/node"), NULL for anon/kernel */
	uint64_t sym_offset;  /* address - symbol start */
	uint64_t elf_addr;    /* the address as an ELF virtual address in its object */
	uint64_t load_bias;   /* runtime address - ELF address for that object */
	bool from_perf_map;
	bool v8_builtin;      /* name begins with "Builtins_" (V8's embedded builtins and
				 bytecode handlers are symbols of the node binary) */
};

/*
 * Names the user-space address pc (minus 1 for return addresses, see above). Returns 0 with
 * *out filled (name may be NULL: a mapping without a symbol there), -ENOENT when pc is in no
 * mapping the last read of the maps knew (kind UVS_ADDR_UNMAPPED; an anonymous mapping that is
 * not executable counts as none), -EINVAL for bad arguments.
 *
 * Objects are opened and indexed on first use (node's index: see the README's measurements).
 * A JIT address the perf map does not name makes the symbolizer read the perf map's new lines,
 * at most once per UVS_SYMBOLIZER_PERF_MAP_INTERVAL_NS.
 */
int uvs_symbolize_user(struct uvs_symbolizer *s, uint64_t pc, struct uvs_native_sym *out);

/*
 * Names a kernel address from kallsyms (read once per agent run, at the first call). Returns 0
 * with kind UVS_ADDR_KERNEL; name is "[kernel]" when addresses are hidden (kptr_restrict) or
 * kallsyms is unreadable, NULL when no symbol covers pc.
 */
int uvs_symbolize_kernel(struct uvs_symbolizer *s, uint64_t pc, struct uvs_native_sym *out);

/*
 * The opened object that maps pc (for the .eh_frame unwinder and the DWARF readers): an fd the
 * caller must not close (owned by the symbolizer, valid until uvs_symbolizer_free), the load
 * bias (runtime address - ELF address), its path (may be NULL). -ENOENT if none: anonymous
 * memory, no mapping, or a file that cannot be opened as an ELF object.
 */
int uvs_symbolizer_object_fd(struct uvs_symbolizer *s, uint64_t pc, int *fd, uint64_t *bias,
			     const char **path);

#endif
