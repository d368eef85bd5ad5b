// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <stdlib.h>

#include "target/process.h"
#include "target/thread_roles.h"

static struct uvs_target *fake_target(void)
{
	struct uvs_target *t = calloc(1, sizeof(*t));

	t->pid = 100;
	t->fn_uv_run = (struct uvs_range){ 0x1000, 0x1400 };
	t->fn_pool_worker = (struct uvs_range){ 0x2000, 0x2100 };
	t->fn_worker_run = (struct uvs_range){ 0x3000, 0x3800 };
	return t;
}

Test(roles, by_stack_contents)
{
	struct uvs_target *t = fake_target();
	uint64_t worker_stack[] = { 0, 0x1234, 0x1010, 0x37ff, 0x7fff };
	uint64_t pool_stack[] = { 0x99, 0x2050 };
	uint64_t loop_stack[] = { 0x13ff, 0x5 };
	uint64_t other_stack[] = { 0x1400, 0x2100, 0x3800, 0xfff };

	cr_assert_eq(uvs_role_from_stack(t, 100, other_stack, 4), UVS_ROLE_MAIN);
	cr_assert_eq(uvs_role_from_stack(t, 101, worker_stack, 5), UVS_ROLE_WORKER);
	cr_assert_eq(uvs_role_from_stack(t, 102, pool_stack, 2), UVS_ROLE_THREADPOOL);
	cr_assert_eq(uvs_role_from_stack(t, 103, loop_stack, 2), UVS_ROLE_LOOP);
	cr_assert_eq(uvs_role_from_stack(t, 104, other_stack, 4), UVS_ROLE_OTHER,
		     "range ends are exclusive");
	cr_assert_eq(uvs_role_from_stack(t, 105, NULL, 0), UVS_ROLE_OTHER);
	free(t);
}

Test(roles, unknown_ranges_match_nothing)
{
	struct uvs_target *t = calloc(1, sizeof(*t));
	uint64_t stack[] = { 0, 1, 0x1000 };

	t->pid = 1;
	cr_assert_eq(uvs_role_from_stack(t, 2, stack, 3), UVS_ROLE_OTHER);
	free(t);
}
