// SPDX-License-Identifier: MIT
/* The kernel's text symbols from /proc/kallsyms. See kallsyms.h. */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/sorted_array.h"
#include "symbols/kallsyms.h"
#include "util/log.h"
#include "util/text.h"

#define MAX_LINE 512
#define MAX_NAME_BYTES (256u << 20)

/* A symbol as parsed, before sorting. */
struct ksym {
	uint64_t addr;
	uint32_t name; /* offset in names */
	uint32_t pad;
};

/*
 * Kept for the whole run (120,000 symbols on a distribution kernel): 8 bytes a symbol, the
 * address as an offset from the lowest one (x86-64 kernel text and modules lie in the top
 * 2 GiB) and the name's offset in one buffer of names.
 */
struct uvs_kallsyms {
	uint64_t base;
	uint32_t *off;  /* address - base, sorted */
	uint32_t *name; /* offset in names, in the order of off */
	size_t n;
	char *names;
	size_t names_len;
	bool restricted;
};

/* What parsing gathers. */
struct gather {
	struct ksym *v;
	size_t n, cap;
	size_t names_cap;
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

static int add(struct uvs_kallsyms *k, struct gather *g, uint64_t addr, const char *name,
	       size_t len)
{
	if (g->n == UVS_KALLSYMS_MAX_SYMS || k->names_len + len + 1 > MAX_NAME_BYTES)
		return 0; /* the bounds: the rest of the kernel goes unnamed */
	if (uvs_array_reserve((void **)&g->v, &g->cap, g->n, sizeof(*g->v), 4096))
		return -ENOMEM;
	if (k->names_len + len + 1 > g->names_cap) {
		size_t cap = g->names_cap ? g->names_cap : 64 * 1024;
		char *p;

		while (cap < k->names_len + len + 1)
			cap *= 2;
		p = realloc(k->names, cap);
		if (!p)
			return -ENOMEM;
		k->names = p;
		g->names_cap = cap;
	}
	memcpy(k->names + k->names_len, name, len);
	k->names[k->names_len + len] = '\0';
	uvs_sanitize(k->names + k->names_len, len + 1);
	g->v[g->n++] = (struct ksym){ .addr = addr, .name = (uint32_t)k->names_len };
	k->names_len += len + 1;
	return 0;
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Sorts what was gathered into k's compact arrays; symbols past base + 4 GiB are dropped. */
static int compact(struct uvs_kallsyms *k, struct gather *g)
{
	size_t i;

	if (!g->n)
		return 0;
	qsort(g->v, g->n, sizeof(*g->v), cmp_ksym);
	k->base = g->v[0].addr;
	k->off = malloc(g->n * sizeof(*k->off));
	k->name = malloc(g->n * sizeof(*k->name));
	if (!k->off || !k->name)
		return -ENOMEM;
	for (i = 0; i < g->n && g->v[i].addr - k->base <= UINT32_MAX; i++) {
		k->off[i] = (uint32_t)(g->v[i].addr - k->base);
		k->name[i] = g->v[i].name;
	}
	k->n = i;
	/* Give back what the doubling over-allocated: kept until exit. */
	if (k->names_len < g->names_cap) {
		char *p = realloc(k->names, k->names_len);

		if (p)
			k->names = p;
	}
	return 0;
}

struct uvs_kallsyms *uvs_kallsyms_parse(FILE *f)
{
	struct uvs_kallsyms *k = calloc(1, sizeof(*k));
	struct gather g = { 0 };
	char line[MAX_LINE];
	size_t zero = 0, text = 0;
	int err = 0;

	if (!k)
		return NULL;
	while (!err && fgets(line, sizeof(line), f)) {
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
		err = add(k, &g, addr, name, len);
	}
	k->restricted = text && zero == text;
	if (!err)
		err = compact(k, &g);
	free(g.v);
	if (err) {
		uvs_kallsyms_free(k);
		return NULL;
	}
	return k;
}

void uvs_kallsyms_free(struct uvs_kallsyms *k)
{
	if (!k)
		return;
	free(k->off);
	free(k->name);
	free(k->names);
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

/* How many symbols start at or before offset x: the index just past the last one (0: none). */
static size_t count_le(const struct uvs_kallsyms *k, uint64_t x)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->off[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int uvs_kallsyms_lookup(const struct uvs_kallsyms *k, uint64_t addr, const char **name,
			uint64_t *start)
{
	uint64_t x, end;
	size_t lo, i;

	/* Past base + 4 GiB symbols were dropped: what is there has no name here. */
	if (!k || k->restricted || !k->n || addr < k->base || addr - k->base > UINT32_MAX)
		return -ENOENT;
	x = addr - k->base;
	lo = count_le(k, x);
	if (lo == 0)
		return -ENOENT;
	i = lo - 1;
	/* Aliases share an address: the first of them (sorted order) names it. */
	while (i && k->off[i - 1] == k->off[i])
		i--;
	end = lo < k->n ? k->off[lo] : UINT64_MAX;
	if (x >= end || x - k->off[i] >= UVS_KALLSYMS_MAX_EXTENT)
		return -ENOENT;
	if (name)
		*name = k->names + k->name[i];
	if (start)
		*start = k->base + k->off[i];
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
