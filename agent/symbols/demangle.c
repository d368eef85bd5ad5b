/* SPDX-License-Identifier: MIT */
#include "symbols/demangle.h"

#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

char *uvs_demangle(const char *mangled)
{
	if (!mangled || mangled[0] != '_')
		return NULL;
	/*
	 * DMGL_PARAMS: keep the parameter list (overloads tell apart); DMGL_ANSI: const etc.
	 * DMGL_AUTO tries Rust, then C++: a style flag alone (DMGL_RUST) would demangle Rust only.
	 */
	return cplus_demangle(mangled, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}

bool uvs_demangled_has_prefix(const char *mangled, const char *prefix)
{
	char *d = uvs_demangle(mangled);
	bool yes = d && strncmp(d, prefix, strlen(prefix)) == 0;

	free(d);
	return yes;
}
