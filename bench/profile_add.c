// SPDX-License-Identifier: MIT
/*
 * What adding samples to a profile costs the agent (make bench-profile): a 99 Hz sampler of a
 * busy server gives a few thousand samples a second, a blocked loop sampled fast or many
 * threads up to 100,000. Stacks here are 40 frames deep (JS under native under kernel), drawn
 * from 20,000 distinct stacks over 4,000 distinct frames, on 8 threads in 4 phases.
 *
 * Two rates, in CPU time of this thread (a busy machine does not make them look slower):
 * adding stacks of frame ids already known (a sampler that caches a frame's id by its
 * address), and naming every frame of every sample again (uvs_profile_frame per frame, a
 * sampler with no cache).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/profile.h"

#define NFRAMES 4000
#define NSTACKS 20000
#define DEPTH 40
#define NSAMPLES 2000000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static struct uvs_frame frames[NFRAMES];
	static char names[NFRAMES][48];
	static int32_t stacks[NSTACKS][DEPTH];
	struct uvs_profile *p = uvs_profile_new(10101010);
	struct uvs_sample_labels l = {0};
	int32_t ids[DEPTH];
	double t0, t1;
	size_t i, j;

	srand(42);
	for (i = 0; i < NFRAMES; i++) {
		snprintf(names[i], sizeof(names[i]), "someModule.handler_number_%zu", i);
		frames[i] =
		    (struct uvs_frame){i % 3 == 0 ? UVS_FRAME_JS : UVS_FRAME_NATIVE, names[i],
				       "/srv/app/node_modules/x/index.js", (uint32_t)i};
		if (uvs_profile_frame(p, &frames[i]) != (int32_t)i)
			return 1;
	}
	for (i = 0; i < NSTACKS; i++)
		for (j = 0; j < DEPTH; j++)
			stacks[i][j] = j < 10 ? (int32_t)j : (int32_t)(rand() % NFRAMES);

	t0 = now();
	for (i = 0; i < NSAMPLES; i++) {
		l.tid = 1000 + (int)(i % 8);
		l.phase = (int)(i % 4);
		if (uvs_profile_add(p, stacks[rand() % NSTACKS], DEPTH, &l, 1, 10101010))
			return 1;
	}
	t1 = now();
	printf("known frame ids: %.0f samples/s (%.2f us each), %zu entries\n",
	       NSAMPLES / (t1 - t0), (t1 - t0) / NSAMPLES * 1e6, uvs_profile_nentries(p));

	t0 = now();
	for (i = 0; i < NSAMPLES / 10; i++) {
		const int32_t *st = stacks[rand() % NSTACKS];

		for (j = 0; j < DEPTH; j++)
			ids[j] = uvs_profile_frame(p, &frames[st[j]]);
		if (uvs_profile_add(p, ids, DEPTH, &l, 1, 10101010))
			return 1;
	}
	t1 = now();
	printf("every frame named again: %.0f samples/s (%.2f us each)\n",
	       NSAMPLES / 10 / (t1 - t0), (t1 - t0) / (NSAMPLES / 10) * 1e6);
	uvs_profile_free(p);
	return 0;
}
