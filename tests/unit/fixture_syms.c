// SPDX-License-Identifier: MIT
/* readelf's symbol listing of a fixture, parsed. See fixture_syms.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture_files.h"
#include "fixture_syms.h"

struct fixture_sym *fixture_functions(const char *fixture, size_t *n)
{
	char path[4200], line[1024];
	struct fixture_sym *v = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s.syms", fx(fixture));
	f = fopen(path, "r");
	cr_assert(f, "cannot open %s (run `make unit`)", path);
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long value, size;
		char type[16], bind[16], vis[16], ndx[16];
		int name_at = 0;
		char *name;

		/* "   Num: Value Size Type Bind Vis Ndx Name" */
		if (sscanf(line, " %*[0-9]: %llx %llu %15s %15s %15s %15s %n", &value, &size, type,
			   bind, vis, ndx, &name_at) != 6 || !name_at)
			continue;
		if ((strcmp(type, "FUNC") && strcmp(type, "IFUNC")) || !strcmp(ndx, "UND") ||
		    !strcmp(ndx, "ABS"))
			continue;
		name = line + name_at;
		name[strcspn(name, "@\n")] = '\0';
		if (!*name)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			cr_assert(v);
		}
		v[*n].value = value;
		v[*n].size = size;
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", name);
		(*n)++;
	}
	fclose(f);
	cr_assert(*n > 0, "%s lists no functions", path);
	return v;
}

const struct fixture_sym *fixture_function(const struct fixture_sym *v, size_t n,
					   const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!strcmp(v[i].name, name))
			return &v[i];
	}
	cr_assert_fail("%s is not a function readelf lists", name);
	return NULL;
}
