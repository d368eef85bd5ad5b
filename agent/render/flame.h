/* SPDX-License-Identifier: MIT */
/*
 * The flame outputs of `uvscope flame`: one profile (core/profile.h) written as folded stacks,
 * an interactive SVG flame graph, or a pprof profile, chosen by the output file's name or by
 * --format. The writers are pure: a profile in, a file out.
 */
#ifndef UVSCOPE_FLAME_H
#define UVSCOPE_FLAME_H

#include <stdint.h>
#include <stdio.h>

#include "core/profile.h"

enum uvs_flame_format {
	UVS_FLAME_UNKNOWN = 0,
	UVS_FLAME_FOLDED, /* .folded (also .txt): flamegraph.pl, inferno, speedscope */
	UVS_FLAME_SVG,	  /* .svg: open in a browser */
	UVS_FLAME_PPROF,  /* .pb.gz, .pprof: go tool pprof, Pyroscope, Grafana */
};

/* What the profile does not say about itself; every field may be left zero. */
struct uvs_flame_info {
	const char *title;   /* SVG: the heading, e.g. "uvscope flame: pid 4242, cpu, 30 s" */
	int64_t time_ns;     /* pprof: wall-clock start (CLOCK_REALTIME), 0 if unknown */
	int64_t duration_ns; /* pprof: how long sampling ran */
};

/* The format a file name asks for, by its ending; UVS_FLAME_UNKNOWN for any other. */
enum uvs_flame_format uvs_flame_format_from_path(const char *path);

/* The format a --format value names ("folded", "svg", "pprof"); UVS_FLAME_UNKNOWN otherwise. */
enum uvs_flame_format uvs_flame_format_from_name(const char *name);

/* Writes p to out in format f. Returns 0, -EINVAL (unknown format), -ENOMEM or -EIO. */
int uvs_flame_write(FILE *out, enum uvs_flame_format f, const struct uvs_profile *p,
		    const struct uvs_flame_info *info);

#endif /* UVSCOPE_FLAME_H */
