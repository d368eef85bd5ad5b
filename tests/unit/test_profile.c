// SPDX-License-Identifier: MIT
/* The profile: interning of frames and stacks, entries per (stack, labels), frame texts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/profile.h"
#include "util/text.h"

static const struct uvs_sample_labels main_busy = {100, UVS_ROLE_MAIN, UVS_STATE_LOOP_BUSY,
						   UVS_PHASE_TIMERS};

static int32_t js(struct uvs_profile *p, const char *name, const char *file, uint32_t line)
{
	struct uvs_frame f = {UVS_FRAME_JS, name, file, line};

	return uvs_profile_frame(p, &f);
}

Test(profile, equal_frames_get_one_id)
{
	struct uvs_profile *p = uvs_profile_new(1000);
	struct uvs_frame native = {UVS_FRAME_NATIVE, "f", NULL, 0};
	struct uvs_frame empty_file = {UVS_FRAME_NATIVE, "f", "", 0};
	struct uvs_frame kernel = {UVS_FRAME_KERNEL, "f", NULL, 0};
	char name[] = "handler";
	int32_t a, b;

	cr_assert_not_null(p);
	a = js(p, name, "/app/x.js", 3);
	cr_expect_eq(js(p, "handler", "/app/x.js", 3), a);
	cr_expect_neq(js(p, "handler", "/app/x.js", 4), a);
	cr_expect_neq(js(p, "handler", "/app/y.js", 3), a);
	cr_expect_neq(js(p, "handler", NULL, 3), a);
	b = uvs_profile_frame(p, &native);
	cr_expect_neq(uvs_profile_frame(p, &empty_file), b, "a NULL file is not an empty one");
	cr_expect_neq(uvs_profile_frame(p, &kernel), b, "kinds keep frames apart");
	cr_expect_eq(uvs_profile_frame(p, &native), b);
	cr_expect_eq(uvs_profile_nframes(p), 7);

	/* The profile copied the strings. */
	strcpy(name, "changed");
	cr_expect_str_eq(uvs_profile_frame_at(p, a)->name, "handler");
	cr_expect_str_eq(uvs_profile_frame_at(p, a)->file, "/app/x.js");
	cr_expect_eq(uvs_profile_frame_at(p, a)->line, 3);
	cr_expect_null(uvs_profile_frame_at(p, 7));
	cr_expect_null(uvs_profile_frame_at(p, -1));
	uvs_profile_free(p);
}

Test(profile, frame_without_name_is_refused)
{
	struct uvs_profile *p = uvs_profile_new(1000);
	struct uvs_frame f = {UVS_FRAME_NATIVE, NULL, NULL, 0};

	errno = 0;
	cr_expect_eq(uvs_profile_frame(p, &f), -1);
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(uvs_profile_nframes(p), 0);
	uvs_profile_free(p);
}

Test(profile, samples_of_one_stack_and_labels_are_one_entry)
{
	struct uvs_profile *p = uvs_profile_new(10000000);
	struct uvs_sample_labels worker = {101, UVS_ROLE_WORKER, UVS_STATE_LOOP_BUSY,
					   UVS_PHASE_TIMERS};
	struct uvs_sample_labels other_phase = main_busy;
	struct uvs_profile_entry e;
	int32_t s1[2], s2[2];

	s1[0] = s2[0] = js(p, "outer", "/a.js", 1);
	s1[1] = js(p, "inner", "/a.js", 5);
	s2[1] = js(p, "other", "/a.js", 9);
	other_phase.phase = UVS_PHASE_CHECK;

	cr_assert_eq(uvs_profile_add(p, s1, 2, &main_busy, 1, 10), 0);
	cr_assert_eq(uvs_profile_add(p, s2, 2, &main_busy, 2, 20), 0);
	cr_assert_eq(uvs_profile_add(p, s1, 2, &main_busy, 3, 30), 0);
	cr_assert_eq(uvs_profile_add(p, s1, 2, &worker, 4, 40), 0);
	cr_assert_eq(uvs_profile_add(p, s1, 2, &other_phase, 5, 50), 0);
	cr_assert_eq(uvs_profile_add(p, s1, 1, &main_busy, 6, 60), 0);

	cr_expect_eq(uvs_profile_nentries(p), 5);
	cr_expect_eq(uvs_profile_total_samples(p), 21);
	cr_expect_eq(uvs_profile_period_ns(p), 10000000);

	/* In the order first added; the repeat went into the first. */
	uvs_profile_entry_at(p, 0, &e);
	cr_expect_eq(e.count, 4);
	cr_expect_eq(e.weight_ns, 40);
	cr_expect_eq(e.nframes, 2);
	cr_expect_arr_eq(e.frames, s1, sizeof(s1));
	cr_expect_eq(e.labels.tid, 100);
	uvs_profile_entry_at(p, 1, &e);
	cr_expect_eq(e.count, 2);
	cr_expect_arr_eq(e.frames, s2, sizeof(s2));
	uvs_profile_entry_at(p, 2, &e);
	cr_expect_eq(e.labels.role, UVS_ROLE_WORKER);
	cr_expect_eq(e.count, 4);
	uvs_profile_entry_at(p, 3, &e);
	cr_expect_eq(e.labels.phase, UVS_PHASE_CHECK);
	uvs_profile_entry_at(p, 4, &e);
	cr_expect_eq(e.nframes, 1, "a prefix is a stack of its own");
	cr_expect_eq(e.count, 6);
	uvs_profile_entry_at(p, 5, &e);
	cr_expect_eq(e.nframes, 0, "out of range: an empty entry");
	cr_expect_null(e.frames);
	uvs_profile_free(p);
}

Test(profile, bad_stacks_are_refused)
{
	struct uvs_profile *p = uvs_profile_new(1000);
	int32_t ok = js(p, "f", NULL, 0), bad[2] = {ok, 1}, neg[1] = {-1};
	int32_t *deep = calloc(UVS_PROFILE_MAX_DEPTH + 1, sizeof(*deep));

	cr_assert_not_null(deep);
	cr_expect_eq(uvs_profile_add(p, bad, 2, &main_busy, 1, 1), -EINVAL);
	cr_expect_eq(uvs_profile_add(p, neg, 1, &main_busy, 1, 1), -EINVAL);
	cr_expect_eq(uvs_profile_add(p, &ok, 0, &main_busy, 1, 1), -EINVAL);
	cr_expect_eq(uvs_profile_add(p, deep, UVS_PROFILE_MAX_DEPTH + 1, &main_busy, 1, 1),
		     -EINVAL);
	cr_expect_eq(uvs_profile_add(p, deep, UVS_PROFILE_MAX_DEPTH, &main_busy, 1, 1), 0);
	cr_expect_eq(uvs_profile_nentries(p), 1);
	cr_expect_eq(uvs_profile_total_samples(p), 1);
	free(deep);
	uvs_profile_free(p);
}

/* Enough distinct frames, stacks and entries to grow every table many times over. */
Test(profile, many_distinct_stacks_stay_apart)
{
	enum { NFRAMES = 5000, NSTACKS = 40000 };
	struct uvs_profile *p = uvs_profile_new(1000);
	struct uvs_profile_entry e;
	char name[32];
	int32_t st[3];
	size_t i;

	for (i = 0; i < NFRAMES; i++) {
		snprintf(name, sizeof(name), "fn%zu", i);
		cr_assert_eq(js(p, name, "/x.js", (uint32_t)i), (int32_t)i);
	}
	for (int round = 0; round < 2; round++) {
		for (i = 0; i < NSTACKS; i++) {
			st[0] = (int32_t)(i % NFRAMES);
			st[1] = (int32_t)(i / NFRAMES);
			st[2] = (int32_t)((i * 7) % NFRAMES);
			cr_assert_eq(uvs_profile_add(p, st, 3, &main_busy, i + 1, 0), 0);
		}
	}
	cr_expect_eq(uvs_profile_nframes(p), NFRAMES);
	cr_expect_eq(uvs_profile_nentries(p), NSTACKS);
	for (i = 0; i < NSTACKS; i += 997) {
		uvs_profile_entry_at(p, i, &e);
		cr_expect_eq(e.count, 2 * (i + 1));
		cr_expect_eq(e.frames[0], (int32_t)(i % NFRAMES));
		cr_expect_eq(e.frames[2], (int32_t)((i * 7) % NFRAMES));
	}
	uvs_profile_free(p);
}

Test(profile, frame_text)
{
	char buf[UVS_FRAME_TEXT_MAX], small[8];
	struct uvs_frame f = {UVS_FRAME_JS, "handler", "/app/x.js", 12};

	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "handler /app/x.js:12");
	f.line = 0;
	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "handler /app/x.js");
	f.file = NULL;
	f.line = 3;
	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "handler");
	f.file = "";
	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "handler", "a script with no name");
	f.line = 0;
	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "handler");
	f = (struct uvs_frame){UVS_FRAME_NATIVE, "uv_run", "/usr/bin/node", 0};
	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "uv_run");
	f = (struct uvs_frame){UVS_FRAME_KERNEL, "do_syscall_64", NULL, 0};
	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "do_syscall_64");
	f = (struct uvs_frame){UVS_FRAME_UNKNOWN, "[JS: unknown]", NULL, 0};
	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "[JS: unknown]");

	/* Control bytes and invalid UTF-8 never get out, whatever the caller passed in. */
	f = (struct uvs_frame){UVS_FRAME_JS, "a\nb\x1b[31m\xff\xc3\xa9", "f\r.js", 1};
	cr_expect_str_eq(uvs_frame_text(&f, buf, sizeof(buf)), "a?b?[31m?\xc3\xa9 f?.js:1");
	/* A cut in the middle of "é" leaves a '?', not half a character. */
	f = (struct uvs_frame){UVS_FRAME_NATIVE, "abcdef\xc3\xa9", NULL, 0};
	cr_expect_str_eq(uvs_frame_text(&f, small, sizeof(small)), "abcdef?");
}

Test(profile, state_names)
{
	cr_expect_str_eq(uvs_sample_state_name(UVS_STATE_CPU), "cpu");
	cr_expect_str_eq(uvs_sample_state_name(UVS_STATE_LOOP_BUSY), "loop_busy");
	cr_expect_str_eq(uvs_sample_state_name(UVS_STATE_LOOP_IDLE), "loop_idle");
	cr_expect_str_eq(uvs_sample_state_name(UVS_STATE_OFF_CPU), "off_cpu");
	cr_expect_str_eq(uvs_sample_state_name((enum uvs_sample_state)99), "unknown");
}
