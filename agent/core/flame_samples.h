/* SPDX-License-Identifier: MIT */
/*
 * `uvscope flame`: which samples go into the profile and under which root, per mode.
 *   cpu    every on-CPU sample, under its thread ("main loop 1234", "threadpool", ...)
 *   loop   busy loop threads only, under the loop and the phase the sample ran in (the frames
 *          from the thread's start to the loop's uv_run left out)
 *   offcpu samples of sleeping threads, under their thread
 */
#ifndef UVSCOPE_FLAME_SAMPLES_H
#define UVSCOPE_FLAME_SAMPLES_H

#include "cli/options.h"
#include "core/profile.h"

/* Adds s to p if the mode takes it. Returns 0, or -ENOMEM. */
int uvs_flame_add(struct uvs_profile *p, enum uvs_flame_mode mode, const struct uvs_sample *s);

/* The name of the thread root ("main loop 1234", "worker loop 1240", "threadpool", ...). */
void uvs_flame_thread_root(const struct uvs_sample_labels *l, char *buf, size_t cap);

#endif
