/* SPDX-License-Identifier: MIT */
/*
 * pprof output: the profile.proto format of google/pprof (proto/profile.proto), gzip-
 * compressed, as `go tool pprof`, Pyroscope and Grafana read it.
 *
 * Two values per sample: samples/count and cpu/nanoseconds (the entry's weight: the period
 * for on-CPU samples, the time asleep for off-CPU ones); period_type cpu/nanoseconds with the
 * profile's period. One location and one function per distinct frame: function name, filename
 * (the JS script or the native object) and start_line (JS). Samples keep their labels: "tid"
 * (numeric), "role", "state" and, in a phase, "phase" (strings).
 */
#ifndef UVSCOPE_FLAME_PPROF_H
#define UVSCOPE_FLAME_PPROF_H

#include <stdio.h>

#include "core/profile.h"
#include "render/flame.h"

/* Writes p to out; info may be NULL. Returns 0, -ENOMEM, or -EIO when out is in error. */
int uvs_flame_pprof_write(FILE *out, const struct uvs_profile *p,
			  const struct uvs_flame_info *info);

#endif /* UVSCOPE_FLAME_PPROF_H */
