// SPDX-License-Identifier: MIT
/*
 * PROCMAP_QUERY on this very process (symbols/maps_query.h): code, data and holes as the kernel
 * has them now, the second an unmapped answer is remembered, the questions' budget.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "symbols/maps_query.h"

#define SECOND 1000000000ull

static int some_code(int x)
{
	return x + 1;
}

/* An address that was mapped a moment ago and is in no mapping now. */
static uint64_t hole(void)
{
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(munmap(p, 4096), 0);
	return (uint64_t)(uintptr_t)p;
}

static struct uvs_maps_query *query_or_skip(void)
{
	struct uvs_maps_query *q = uvs_maps_query_new(getpid());
	int r;

	cr_assert_not_null(q);
	r = uvs_maps_query_may_name(q, (uint64_t)(uintptr_t)&some_code, 1);
	if (r == -ENOTTY) {
		uvs_maps_query_free(q);
		cr_skip_test("this kernel has no PROCMAP_QUERY (Linux 6.11+)");
	}
	cr_assert_eq(r, 1, "code of this test is mapped");
	return q;
}

Test(maps_query, code_data_and_holes)
{
	struct uvs_maps_query *q = query_or_skip();
	uint64_t gone = hole();
	int local = 0, fd;
	void *file;

	cr_assert_eq(uvs_maps_query_may_name(q, (uint64_t)(uintptr_t)&local, 2), 0,
		     "the stack is mapped, but no read would name code there");
	cr_assert_eq(uvs_maps_query_may_name(q, gone, 3), 0);
	cr_assert_eq(uvs_maps_query_may_name(q, 0x1000, 4), 0, "the zero page is never mapped");
	/* A file mapped as data: the symbolizer places it in its object all the same. */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	file = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	cr_assert_neq(file, MAP_FAILED);
	cr_assert_eq(uvs_maps_query_may_name(q, (uint64_t)(uintptr_t)file + 8, 5), 1);
	munmap(file, 4096);
	uvs_maps_query_free(q);
}

Test(maps_query, an_unmapped_answer_holds_for_a_second)
{
	struct uvs_maps_query *q = query_or_skip();
	uint64_t gone = hole();
	void *p;

	cr_assert_eq(uvs_maps_query_may_name(q, gone, 10), 0);
	/* JIT code appears there: anonymous, executable. */
	p = mmap((void *)(uintptr_t)gone, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	cr_assert_eq((uint64_t)(uintptr_t)p, gone);
	cr_assert_eq(uvs_maps_query_may_name(q, gone, 10 + SECOND - 1), 0,
		     "within the second: the answer remembered");
	cr_assert_eq(uvs_maps_query_may_name(q, gone, 10 + SECOND), 1, "then asked again");
	munmap(p, 4096);
	uvs_maps_query_free(q);
}

Test(maps_query, questions_are_bounded_per_second)
{
	struct uvs_maps_query *q = query_or_skip();
	uint64_t base = hole(), t = 5 * SECOND;
	unsigned i;

	/* The first question (in query_or_skip) was in another second: a fresh budget here. */
	for (i = 0; i < UVS_MAPS_QUERY_PER_SECOND; i++)
		cr_assert_eq(uvs_maps_query_may_name(q, base + i, t), 0, "question %u", i);
	cr_assert_eq(uvs_maps_query_may_name(q, base + 4095, t + 1), -EAGAIN, "over budget");
	cr_assert_eq(uvs_maps_query_may_name(q, base + 4095, t + SECOND), 0, "a new second");
	uvs_maps_query_free(q);
}

Test(maps_query, a_process_that_is_not_there)
{
	cr_assert_null(uvs_maps_query_new(-1));
	uvs_maps_query_free(NULL);
}
