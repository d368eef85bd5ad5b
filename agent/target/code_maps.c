// SPDX-License-Identifier: MIT
/* Whether code runs from a file; one read of the maps for an attach. See code_maps.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/address_space.h"
#include "symbols/sorted_array.h"
#include "target/code_maps.h"

/* A check that passed on the hold's read: the file it ran from is that mapping's. */
struct passed {
	uint64_t addr;
	const struct uvs_mapping *mapping; /* in the hold's read */
};

struct uvs_code_hold {
	pid_t pid;
	struct uvs_address_space *maps; /* NULL until the first check */
	int read_err; /* why the first read failed: checks then read for themselves */
	unsigned reads;
	struct passed *passed;
	size_t npassed, cap;
};

/* Whether mapping m (NULL: none) is executable code of the file `path` (inode 0: any). */
static bool mapping_runs(const struct uvs_mapping *m, const char *path, uint64_t inode)
{
	return m && m->exec && strcmp(m->path, path) == 0 && (!inode || m->inode == inode);
}

bool uvs_code_runs_from(const struct uvs_address_space *as, uint64_t addr, const char *path,
			uint64_t inode)
{
	return mapping_runs(uvs_address_space_find(as, addr), path, inode);
}

bool uvs_code_runs_from_now(pid_t pid, uint64_t addr, const char *path)
{
	struct uvs_address_space *as = uvs_address_space_read(pid);
	bool ok = uvs_code_runs_from(as, addr, path, 0);

	uvs_address_space_free(as);
	return ok;
}

struct uvs_code_hold *uvs_code_hold_new(pid_t pid)
{
	struct uvs_code_hold *h = calloc(1, sizeof(*h));

	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	h->pid = pid;
	return h;
}

/* A check the hold's read cannot answer: a read of its own, as every check did before holds. */
static bool check_alone(struct uvs_code_hold *h, uint64_t addr, const char *path)
{
	h->reads++;
	return uvs_code_runs_from_now(h->pid, addr, path);
}

bool uvs_code_hold_check(struct uvs_code_hold *h, uint64_t addr, const char *path)
{
	const struct uvs_mapping *m;

	if (!h->maps && !h->read_err) {
		h->maps = uvs_address_space_read(h->pid);
		h->reads++;
		if (!h->maps)
			h->read_err = -errno;
	}
	if (!h->maps || h->npassed == UVS_CODE_HOLD_MAX_CHECKS)
		return check_alone(h, addr, path);
	m = uvs_address_space_find(h->maps, addr);
	if (!mapping_runs(m, path, 0))
		return false;
	if (uvs_array_reserve((void **)&h->passed, &h->cap, h->npassed, sizeof(*h->passed),
			      64))
		return check_alone(h, addr, path); /* a pass not remembered must not be cached */
	h->passed[h->npassed].addr = addr;
	h->passed[h->npassed++].mapping = m;
	return true;
}

unsigned uvs_code_hold_reads(const struct uvs_code_hold *h)
{
	return h ? h->reads : 0;
}

int uvs_code_hold_verify(struct uvs_code_hold *h, uint64_t *addr)
{
	struct uvs_address_space *now;
	size_t i;
	int err = 0;

	if (!h || h->npassed == 0)
		return 0;
	now = uvs_address_space_read(h->pid);
	h->reads++;
	if (!now)
		return -errno;
	for (i = 0; i < h->npassed && !err; i++) {
		const struct uvs_mapping *then = h->passed[i].mapping;

		/* The same file, not only the same name: a file replaced in between has another
		 * inode, and the uprobe went to the old one. */
		if (!uvs_code_runs_from(now, h->passed[i].addr, then->path, then->inode)) {
			if (addr)
				*addr = h->passed[i].addr;
			err = -ESTALE;
		}
	}
	uvs_address_space_free(now);
	return err;
}

void uvs_code_hold_free(struct uvs_code_hold *h)
{
	if (!h)
		return;
	uvs_address_space_free(h->maps);
	free(h->passed);
	free(h);
}
