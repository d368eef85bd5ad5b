/* SPDX-License-Identifier: MIT */
/*
 * A minimal map of a process's executable mappings for the unwinder's object_source: read from
 * /proc/PID/maps, each file opened through /proc/PID/map_files/<range> (so a file deleted or
 * replaced since it was mapped still opens as mapped) and its load bias taken from its program
 * headers. The maps are read again, at most once a second, when a pc falls in no mapping.
 */
#ifndef UVSCOPE_PROC_OBJECTS_H
#define UVSCOPE_PROC_OBJECTS_H

#include <stdint.h>

#include "unwind/object_source.h"

struct uvs_proc_objects;

/* For the live process pid. NULL with errno set when its maps cannot be read. */
struct uvs_proc_objects *uvs_proc_objects_new(int pid);

/*
 * From a saved copy of a maps file, each object opened by the path in it (a capture of a
 * process that has exited: the unit tests). Never read again.
 */
struct uvs_proc_objects *uvs_proc_objects_from_file(const char *maps_path);

void uvs_proc_objects_free(struct uvs_proc_objects *p);

/* The object_source over p (valid while p lives). */
struct uvs_object_source uvs_proc_objects_source(struct uvs_proc_objects *p);

/* The uvs_object_source.object_at of proc objects (ctx: a struct uvs_proc_objects). */
int uvs_proc_objects_at(void *ctx, uint64_t pc, int *fd, uint64_t *bias, const char **path);

#endif
