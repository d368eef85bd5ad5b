// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <unistd.h>

#include "util/out_file.h"

int uvs_out_file_open(struct uvs_out_file *o, const char *path)
{
	const int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
	int fd;

	*o = (struct uvs_out_file){ .path = path };
	/* Made here, or there already (not followed if it is a dangling link: O_EXCL). */
	fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	if (fd >= 0)
		o->created = true;
	else if (errno == EEXIST)
		fd = open(path, flags);
	if (fd < 0)
		return -errno;
	o->f = fdopen(fd, "w");
	if (!o->f) {
		int err = -errno;

		close(fd);
		if (o->created)
			unlink(path);
		return err;
	}
	return 0;
}

int uvs_out_file_keep(struct uvs_out_file *o)
{
	if (!o->f || o->kept)
		return 0;
	o->kept = true;
	/* Nothing was written yet (only buffered): the file starts empty, at offset 0. */
	if (!o->created && ftruncate(fileno(o->f), 0) && errno != EINVAL)
		return -errno;
	return 0;
}

void uvs_out_file_close(struct uvs_out_file *o)
{
	if (!o->f)
		return;
	/* Whatever was buffered is dropped, not written: the path stays as it was. */
	if (!o->kept)
		__fpurge(o->f);
	fclose(o->f);
	if (!o->kept && o->created)
		unlink(o->path);
	o->f = NULL;
}
