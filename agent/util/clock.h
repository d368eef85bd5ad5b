/* SPDX-License-Identifier: MIT */
/* The two clocks the agent uses: BPF's (monotonic) for spans, the wall clock for outputs. */
#ifndef UVSCOPE_CLOCK_H
#define UVSCOPE_CLOCK_H

#include <stdint.h>

/* Monotonic clock in ns: the clock bpf_ktime_get_ns() uses. */
uint64_t uvs_now_mono(void);
/* Wall clock in ns, for timestamps in outputs. */
uint64_t uvs_now_real(void);
/* A CLOCK_MONOTONIC time (from BPF) on the wall clock. */
uint64_t uvs_mono_to_real(uint64_t mono_ns);
/* Sleeps ns nanoseconds (the rest of them when a signal comes). */
void uvs_sleep_ns(uint64_t ns);

#endif
