// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>

#include "target/probe_site.h"

int uvs_uprobe_site(const struct uvs_target *t, const char *name, const char *what,
		    struct uvs_elf_symbol *sym, char *why, size_t cap)
{
	bool found = uvs_elf_has_symtab(t->uv.elf) && uvs_elf_find_function(t->uv.elf, name, sym) == 0;

	return uvs_uprobe_site_check(t, name, what, found ? sym : NULL, why, cap);
}

int uvs_uprobe_site_check(const struct uvs_target *t, const char *name, const char *what,
			  const struct uvs_elf_symbol *sym, char *why, size_t cap)
{
	if (!uvs_elf_has_symtab(t->uv.elf)) {
		snprintf(why, cap, "%s is stripped (no .symtab): %s are internal symbols", t->uv.path,
			 what);
		return -ENOENT;
	}
	if (t->build_id[0] && !t->build_id_checked) {
		snprintf(why, cap, "the build-id of %s was not found in the process's memory: "
			 "refusing to place uprobes in a file that may not be the one running",
			 t->uv.path);
		return -ESTALE;
	}
	if (!sym) {
		snprintf(why, cap, "%s has no symbol %s (a libuv built differently?)", t->uv.path,
			 name);
		return -ENOENT;
	}
	if (!uvs_object_maps_code(t, &t->uv, sym->addr + t->uv.bias)) {
		snprintf(why, cap, "%s is not running from %s (node --use-largepages copies its code "
			 "to anonymous memory): a uprobe there would never fire", name, t->uv.path);
		return -EFAULT;
	}
	return 0;
}
