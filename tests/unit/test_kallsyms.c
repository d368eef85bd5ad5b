// SPDX-License-Identifier: MIT
/* Unit tests for agent/symbols/kallsyms.c on captured /proc/kallsyms texts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "symbols/kallsyms.h"

static struct uvs_kallsyms *parse(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct uvs_kallsyms *k;

	cr_assert(f);
	k = uvs_kallsyms_parse(f);
	fclose(f);
	cr_assert(k);
	return k;
}

static const char *name_at(const struct uvs_kallsyms *k, uint64_t addr)
{
	const char *name;

	return uvs_kallsyms_lookup(k, addr, &name, NULL) ? NULL : name;
}

/* Trimmed from a 6.x kernel, out of order as module symbols are. */
static const char captured[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff82266810 T schedule\n"
	"ffffffff822668c0 t schedule_preempt_disabled\n"
	"ffffffff81234560 W weak_text_fn\n"
	"ffffffff83000000 D some_data\n"
	"ffffffff83000100 b some_bss\n"
	"ffffffffc0a01000 t foo_init\t[foo]\n"
	"ffffffff81100000 T do_syscall_64\n"
	"ffffffff81100200 w weak_lower\n";

Test(kallsyms, text_symbols_by_address)
{
	struct uvs_kallsyms *k = parse(captured);
	uint64_t start;
	const char *name;

	cr_expect_not(uvs_kallsyms_restricted(k));
	cr_expect_eq(uvs_kallsyms_count(k), 7, "data and bss symbols are left out");
	cr_assert_eq(uvs_kallsyms_lookup(k, 0xffffffff82266820, &name, &start), 0);
	cr_expect_str_eq(name, "schedule");
	cr_expect_eq(start, 0xffffffff82266810);
	cr_expect_str_eq(name_at(k, 0xffffffff822668bf), "schedule");
	cr_expect_str_eq(name_at(k, 0xffffffff822668c0), "schedule_preempt_disabled");
	cr_expect_str_eq(name_at(k, 0xffffffff81100100), "do_syscall_64");
	cr_expect_str_eq(name_at(k, 0xffffffff81100200), "weak_lower");
	cr_expect_str_eq(name_at(k, 0xffffffff81234561), "weak_text_fn");
	cr_expect_str_eq(name_at(k, 0xffffffffc0a01004), "foo_init", "the module name is cut");
	cr_expect_null(name_at(k, 0xffffffff80000000), "below the first symbol");
	/* The last symbol and those before long gaps reach only so far. */
	cr_expect_null(name_at(k, 0xffffffffc0a01000 + UVS_KALLSYMS_MAX_EXTENT));
	cr_expect_null(name_at(k, 0xffffffff822668c0 + UVS_KALLSYMS_MAX_EXTENT));
	uvs_kallsyms_free(k);
}

Test(kallsyms, all_zero_addresses_mean_restricted)
{
	struct uvs_kallsyms *k = parse("0000000000000000 T _stext\n"
				       "0000000000000000 T schedule\n"
				       "0000000000000000 D some_data\n");

	cr_expect(uvs_kallsyms_restricted(k));
	cr_expect_null(name_at(k, 0));
	cr_expect_null(name_at(k, 0xffffffff82266820));
	uvs_kallsyms_free(k);
}

Test(kallsyms, garbage_and_overlong_lines)
{
	char *text = calloc(1, 4096);
	struct uvs_kallsyms *k;

	cr_assert(text);
	strcpy(text, "not a line\n"
		     "ffffffff81000000T glued\n"
		     "ffffffff81000000 TT two-letters\n"
		     "1ffffffff81000000 T seventeen-digits\n"
		     "ffffffff81000000 T \n"
		     "ffffffff81000000 T ");
	/* A name of 1000 bytes (calloc: the NUL follows): past the line bound, skipped whole. */
	memset(text + strlen(text), 'x', 1000);
	strcat(text, "\nffffffff81001000 T good\x1b[0m\n");
	k = parse(text);
	cr_expect_eq(uvs_kallsyms_count(k), 1);
	cr_expect_str_eq(name_at(k, 0xffffffff81001000), "good?[0m");
	cr_expect_null(name_at(k, 0xffffffff81000000));
	uvs_kallsyms_free(k);
	free(text);
	k = parse("");
	cr_expect_eq(uvs_kallsyms_count(k), 0);
	cr_expect_not(uvs_kallsyms_restricted(k));
	cr_expect_null(name_at(k, 1));
	uvs_kallsyms_free(k);
}

/*
 * Addresses are kept as 32-bit offsets from the lowest one: symbols further than 4 GiB above
 * it (none on x86-64, where the kernel's text is in the top 2 GiB) are dropped, not misnamed.
 */
Test(kallsyms, only_the_4_gib_above_the_lowest_symbol_are_kept)
{
	static const char text[] = "0000000100000000 T low\n"
				   "00000001fffff000 T still_in\n"
				   "0000000200001000 T too_far\n";
	struct uvs_kallsyms *k = parse(text);

	cr_expect_eq(uvs_kallsyms_count(k), 2);
	cr_expect_str_eq(name_at(k, 0x100000010), "low");
	cr_expect_str_eq(name_at(k, 0x1fffff010), "still_in");
	cr_expect_null(name_at(k, 0x200001010));
	cr_expect_null(name_at(k, 0xfff));
	uvs_kallsyms_free(k);
}
