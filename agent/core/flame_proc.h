/* SPDX-License-Identifier: MIT */
/*
 * `uvscope flame --backend proc`: a profile without BPF. Stacks come from perf_event_open
 * samples with the user stack (collect/perf_sampler.h) where perf_event_paranoid lets a
 * process that may ptrace the target sample it (level 2 or less), which stops nothing; else
 * from ptrace grabs of each thread at a low rate (collect/thread_stack.h), each stopping that
 * one thread for a measured pause. Either way the same resolver as the BPF path names them.
 *
 * UVSCOPE_PROC_STACKS=ptrace or =perf picks the mechanism (tests and the bench compare them);
 * UVSCOPE_TEST_HOLD_STOP_MS is for tests only (collect/thread_stack.h, test_hold_ns).
 */
#ifndef UVSCOPE_FLAME_PROC_H
#define UVSCOPE_FLAME_PROC_H

#include <stdbool.h>

#include "cli/options.h"

/*
 * Whether flame runs in the proc backend: asked for (--backend proc), or --backend auto (the
 * default) where BPF is not allowed (privileges) or cannot load (no kernel BTF), said in one
 * line as watch says it.
 */
bool uvs_flame_proc_wanted(const struct uvs_cli *cli);

/* Runs the flame command of cli in the proc backend. Returns the exit status (0, or 1). */
int uvs_flame_proc_run(const struct uvs_cli *cli);

#endif
