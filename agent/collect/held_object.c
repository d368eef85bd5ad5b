// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "collect/held_object.h"

static void held_destroy(void *p)
{
	struct uvs_held_object *h = p;

	h->destroy(h->skel);
	free(h);
}

struct uvs_held_object *uvs_held_object_load(struct uvs_bpf_shared *sh, enum uvs_bpf_obj which,
					     void *skel, struct bpf_object_skeleton *desc,
					     void (*destroy)(void *skel), int *err)
{
	struct uvs_held_object *h;

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		*err = -ENOMEM;
		destroy(skel);
		return NULL;
	}
	h->skel = skel;
	h->desc = desc;
	h->destroy = destroy;
	*err = uvs_bpf_shared_reuse(sh, *desc->obj);
	if (!*err)
		*err = bpf_object__load_skeleton(desc);
	if (*err) {
		held_destroy(h);
		return NULL;
	}
	uvs_bpf_shared_set_object(sh, which, h, held_destroy);
	return h;
}

int uvs_held_object_hold(struct uvs_held_object *h)
{
	int err;

	if (!h->holders && (err = bpf_object__attach_skeleton(h->desc)))
		return err;
	h->holders++;
	return 0;
}

void uvs_held_object_let_go(struct uvs_held_object *h)
{
	if (h->holders && --h->holders == 0)
		bpf_object__detach_skeleton(h->desc);
}
