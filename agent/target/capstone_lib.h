/* SPDX-License-Identifier: MIT */
/*
 * libcapstone, loaded only while it is needed: the agent decodes x86-64 code (probe sites,
 * entry sites, call instructions) while attaching, and the library costs about 5 MB of RSS
 * once loaded (its tables, relocated by the dynamic linker), which linking it would keep for
 * the whole session. It is opened with dlopen at the first uvs_cs_open() and closed when the
 * last handle is closed and no hold is left; uvs_capstone_hold() keeps it loaded across a
 * burst of decodes (attaching) so each does not load it again.
 *
 * The library must be the major version of the headers uvscope was built with (the layout of
 * cs_insn and cs_detail changes between majors): libcapstone.so.CS_API_MAJOR.
 *
 * Thread-safe. Functions return 0 or -errno.
 */
#ifndef UVSCOPE_CAPSTONE_LIB_H
#define UVSCOPE_CAPSTONE_LIB_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Loads libcapstone (or counts one more hold on it); -ENOENT when it cannot be loaded:
 * uvs_capstone_error() says why.
 */
int uvs_capstone_hold(void);

/* Drops a hold; the last one (with no handle open) unloads the library. */
void uvs_capstone_release(void);

/* Why the last load failed ("libcapstone.so.4: cannot open shared object file ..."). */
const char *uvs_capstone_error(void);

/*
 * An x86-64 decoder with instruction details on (cs_open + CS_OPT_DETAIL), holding the library
 * until uvs_cs_close(); -ENOENT when the library cannot be loaded, -EIO when capstone refuses.
 */
int uvs_cs_open(csh *h);
void uvs_cs_close(csh *h);

/* capstone's own calls, through the loaded library; valid on a handle uvs_cs_open() gave. */
cs_insn *uvs_cs_malloc(csh h);
void uvs_cs_free(cs_insn *insn, size_t count);
bool uvs_cs_disasm_iter(csh h, const uint8_t **code, size_t *size, uint64_t *address,
			cs_insn *insn);
bool uvs_cs_insn_group(csh h, const cs_insn *insn, unsigned int group_id);
cs_err uvs_cs_regs_access(csh h, const cs_insn *insn, cs_regs regs_read, uint8_t *regs_read_count,
			  cs_regs regs_write, uint8_t *regs_write_count);

#endif
