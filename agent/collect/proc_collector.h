/* SPDX-License-Identifier: MIT */
/*
 * The proc collector (collect/proc_collector.c): no BPF, only what CAP_SYS_PTRACE (and
 * CAP_DAC_READ_SEARCH) let a process read of another. NULL and errno on failure to allocate.
 */
#ifndef UVSCOPE_PROC_COLLECTOR_H
#define UVSCOPE_PROC_COLLECTOR_H

#include "collect/collector.h"

struct uvs_collector *uvs_proc_collector_new(void);

#endif
