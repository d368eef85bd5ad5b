// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "render/flame.h"
#include "render/flame_folded.h"
#include "render/flame_pprof.h"
#include "render/flame_svg.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

enum uvs_flame_format uvs_flame_format_from_path(const char *path)
{
	if (ends_with(path, ".folded") || ends_with(path, ".txt"))
		return UVS_FLAME_FOLDED;
	if (ends_with(path, ".svg"))
		return UVS_FLAME_SVG;
	if (ends_with(path, ".pb.gz") || ends_with(path, ".pprof"))
		return UVS_FLAME_PPROF;
	return UVS_FLAME_UNKNOWN;
}

enum uvs_flame_format uvs_flame_format_from_name(const char *name)
{
	if (strcmp(name, "folded") == 0)
		return UVS_FLAME_FOLDED;
	if (strcmp(name, "svg") == 0)
		return UVS_FLAME_SVG;
	if (strcmp(name, "pprof") == 0)
		return UVS_FLAME_PPROF;
	return UVS_FLAME_UNKNOWN;
}

int uvs_flame_write(FILE *out, enum uvs_flame_format f, const struct uvs_profile *p,
		    const struct uvs_flame_info *info)
{
	int err = -EINVAL;

	/* A stdio failure below leaves its cause in errno: said (ENOSPC) rather than EIO. */
	errno = 0;
	switch (f) {
	case UVS_FLAME_FOLDED:
		err = uvs_flame_folded_write(out, p);
		break;
	case UVS_FLAME_SVG:
		err = uvs_flame_svg_write(out, p, info);
		break;
	case UVS_FLAME_PPROF:
		err = uvs_flame_pprof_write(out, p, info);
		break;
	case UVS_FLAME_UNKNOWN:
		break;
	}
	if (err == -EIO && errno && errno != EIO)
		err = -errno;
	return err;
}
