// SPDX-License-Identifier: MIT
/* libcapstone through dlopen, loaded while it is used. See capstone_lib.h. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "target/capstone_lib.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define CAPSTONE_SONAME "libcapstone.so." STR(CS_API_MAJOR)

/* The library's entry points, set while it is loaded. */
struct capstone_fns {
	cs_err (*open)(cs_arch, cs_mode, csh *);
	cs_err (*close)(csh *);
	cs_err (*option)(csh, cs_opt_type, size_t);
	cs_insn *(*malloc)(csh);
	void (*free)(cs_insn *, size_t);
	bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
	bool (*insn_group)(csh, const cs_insn *, unsigned int);
	cs_err (*regs_access)(csh, const cs_insn *, cs_regs, uint8_t *, cs_regs, uint8_t *);
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *lib;           /* dlopen's handle; NULL when not loaded */
static unsigned holds;      /* holds and open handles: the library stays while > 0 */
static struct capstone_fns fns;
static char error[256];

/* Resolves every entry point; false (and error set) when one is missing. */
static bool resolve(void)
{
	static const struct {
		const char *name;
		size_t off;
	} want[] = {
		{ "cs_open", offsetof(struct capstone_fns, open) },
		{ "cs_close", offsetof(struct capstone_fns, close) },
		{ "cs_option", offsetof(struct capstone_fns, option) },
		{ "cs_malloc", offsetof(struct capstone_fns, malloc) },
		{ "cs_free", offsetof(struct capstone_fns, free) },
		{ "cs_disasm_iter", offsetof(struct capstone_fns, disasm_iter) },
		{ "cs_insn_group", offsetof(struct capstone_fns, insn_group) },
		{ "cs_regs_access", offsetof(struct capstone_fns, regs_access) },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		void *p = dlsym(lib, want[i].name);

		if (!p) {
			snprintf(error, sizeof(error), "%s has no %s", CAPSTONE_SONAME, want[i].name);
			return false;
		}
		/* POSIX: a function pointer and a void * have the same representation. */
		memcpy((char *)&fns + want[i].off, &p, sizeof(p));
	}
	return true;
}

int uvs_capstone_hold(void)
{
	int err = 0;

	pthread_mutex_lock(&lock);
	if (!lib) {
		lib = dlopen(CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (!lib) {
			const char *e = dlerror();

			snprintf(error, sizeof(error), "%s", e ? e : CAPSTONE_SONAME ": cannot load");
		} else if (!resolve()) {
			dlclose(lib);
			lib = NULL;
		}
	}
	if (lib)
		holds++;
	else
		err = -ENOENT;
	pthread_mutex_unlock(&lock);
	return err;
}

void uvs_capstone_release(void)
{
	pthread_mutex_lock(&lock);
	if (holds && --holds == 0) {
		dlclose(lib);
		lib = NULL;
		memset(&fns, 0, sizeof(fns));
	}
	pthread_mutex_unlock(&lock);
}

const char *uvs_capstone_error(void)
{
	return error[0] ? error : "no error";
}

int uvs_cs_open(csh *h)
{
	int err = uvs_capstone_hold();

	*h = 0;
	if (err)
		return err;
	if (fns.open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK) {
		*h = 0;
		snprintf(error, sizeof(error), "%s refused to open an x86-64 decoder",
			 CAPSTONE_SONAME);
		uvs_capstone_release();
		return -EIO;
	}
	fns.option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	return 0;
}

void uvs_cs_close(csh *h)
{
	fns.close(h);
	uvs_capstone_release();
}

cs_insn *uvs_cs_malloc(csh h)
{
	return fns.malloc(h);
}

void uvs_cs_free(cs_insn *insn, size_t count)
{
	fns.free(insn, count);
}

bool uvs_cs_disasm_iter(csh h, const uint8_t **code, size_t *size, uint64_t *address,
			cs_insn *insn)
{
	return fns.disasm_iter(h, code, size, address, insn);
}

bool uvs_cs_insn_group(csh h, const cs_insn *insn, unsigned int group_id)
{
	return fns.insn_group(h, insn, group_id);
}

cs_err uvs_cs_regs_access(csh h, const cs_insn *insn, cs_regs regs_read, uint8_t *regs_read_count,
			  cs_regs regs_write, uint8_t *regs_write_count)
{
	return fns.regs_access(h, insn, regs_read, regs_read_count, regs_write, regs_write_count);
}
