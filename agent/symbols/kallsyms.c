// SPDX-License-Identifier: MIT
/* The kernel's text symbols from /proc/kallsyms. See kallsyms.h. */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/sorted_array.h"
#include "symbols/kallsyms.h"
#include "symbols/name_arena.h"
#include "util/log.h"

#define MAX_LINE 512
#define MAX_NAME_BYTES (256u << 20)

struct ksym {
	uint64_t addr;
	const char *name;
};

struct uvs_kallsyms {
	struct ksym *v;
	size_t n, cap;
	struct uvs_name_arena names;
	bool restricted;
};

static bool is_text(char type)
{
	return type == 't' || type == 'T' || type == 'w' || type == 'W';
}

/* Parses "ADDR TYPE NAME[\t[MODULE]]"; the name ends at a tab, space or newline. */
static bool parse_line(char *line, uint64_t *addr, char *type, char **name, size_t *len)
{
	char *end;

	if (!((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f')))
		return false;
	errno = 0;
	*addr = strtoull(line, &end, 16);
	if (errno || end == line || end - line > 16 || end[0] != ' ' || !end[1] || end[2] != ' ')
		return false;
	*type = end[1];
	*name = end + 3;
	*len = strcspn(*name, " \t\r\n");
	return *len > 0;
}

static int add(struct uvs_kallsyms *k, uint64_t addr, const char *name, size_t len)
{
	const char *copy;

	if (k->n == UVS_KALLSYMS_MAX_SYMS)
		return 0;
	if (uvs_array_reserve((void **)&k->v, &k->cap, k->n, sizeof(*k->v), 4096))
		return -ENOMEM;
	copy = uvs_name_arena_add(&k->names, name, len);
	if (!copy)
		return 0; /* the name bound: the rest of the kernel goes unnamed */
	k->v[k->n++] = (struct ksym){ .addr = addr, .name = copy };
	return 0;
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

struct uvs_kallsyms *uvs_kallsyms_parse(FILE *f)
{
	struct uvs_kallsyms *k = calloc(1, sizeof(*k));
	char line[MAX_LINE];
	size_t zero = 0, text = 0;

	if (!k)
		return NULL;
	uvs_name_arena_init(&k->names, MAX_NAME_BYTES);
	while (fgets(line, sizeof(line), f)) {
		size_t len;
		uint64_t addr;
		char type, *name;

		/* An overlong line: skip its rest too. */
		if (!strchr(line, '\n') && !feof(f)) {
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (!parse_line(line, &addr, &type, &name, &len) || !is_text(type))
			continue;
		text++;
		if (!addr) {
			zero++;
			continue;
		}
		if (add(k, addr, name, len)) {
			uvs_kallsyms_free(k);
			return NULL;
		}
	}
	k->restricted = text && zero == text;
	if (k->n)
		qsort(k->v, k->n, sizeof(*k->v), cmp_ksym);
	return k;
}

void uvs_kallsyms_free(struct uvs_kallsyms *k)
{
	if (!k)
		return;
	free(k->v);
	uvs_name_arena_free(&k->names);
	free(k);
}

bool uvs_kallsyms_restricted(const struct uvs_kallsyms *k)
{
	return k && k->restricted;
}

size_t uvs_kallsyms_count(const struct uvs_kallsyms *k)
{
	return k ? k->n : 0;
}

int uvs_kallsyms_lookup(const struct uvs_kallsyms *k, uint64_t addr, const char **name,
			uint64_t *start)
{
	size_t lo, i;
	uint64_t end;

	if (!k || k->restricted)
		return -ENOENT;
	lo = uvs_array_count_le(k->v, k->n, sizeof(*k->v), offsetof(struct ksym, addr), addr);
	if (lo == 0)
		return -ENOENT;
	i = lo - 1;
	/* Aliases share an address: the first of them (sorted order) names it. */
	while (i && k->v[i - 1].addr == k->v[i].addr)
		i--;
	end = lo < k->n ? k->v[lo].addr : UINT64_MAX;
	if (addr >= end || addr - k->v[i].addr >= UVS_KALLSYMS_MAX_EXTENT)
		return -ENOENT;
	if (name)
		*name = k->v[i].name;
	if (start)
		*start = k->v[i].addr;
	return 0;
}

static pthread_once_t system_once = PTHREAD_ONCE_INIT;
static struct uvs_kallsyms *system_syms;

static void load_system(void)
{
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f) {
		uvs_warn("cannot read /proc/kallsyms: %s; kernel frames are shown as [kernel]",
			 strerror(errno));
		return;
	}
	system_syms = uvs_kallsyms_parse(f);
	fclose(f);
	if (uvs_kallsyms_restricted(system_syms))
		uvs_warn("kernel symbol addresses are hidden (kernel.kptr_restrict); kernel frames "
			 "are shown as [kernel] (sysctl kernel.kptr_restrict=0 shows them)");
}

const struct uvs_kallsyms *uvs_kallsyms_system(void)
{
	pthread_once(&system_once, load_system);
	return system_syms;
}
