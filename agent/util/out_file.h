/* SPDX-License-Identifier: MIT */
/*
 * A file of the operator's (a trace, a profile, JSON lines): opened before the attach, as root
 * and before privileges go, so that a path that cannot be written fails before anything is
 * attached; but neither created for good nor truncated until the session has started. An
 * attach that fails leaves the path as it was: no empty (and so invalid) trace or profile, and
 * an earlier one of the same name kept.
 */
#ifndef UVSCOPE_OUT_FILE_H
#define UVSCOPE_OUT_FILE_H

#include <stdbool.h>
#include <stdio.h>

struct uvs_out_file {
	FILE *f;          /* NULL until opened */
	const char *path; /* the operator's, not copied */
	bool created;     /* the open made it (it did not exist) */
	bool kept;        /* the session started: the file is the session's now */
};

/* Opens path for writing, mode 0600 if it is made: 0, or -errno. */
int uvs_out_file_open(struct uvs_out_file *o, const char *path);

/*
 * The session started: empties the file (an earlier one of the same name) before anything is
 * written to it. 0, or -errno.
 */
int uvs_out_file_keep(struct uvs_out_file *o);

/* Closes it: one that was never kept is removed if the open made it, else left untouched. */
void uvs_out_file_close(struct uvs_out_file *o);

#endif
