// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "util/log.h"
#include "target/uprobe_set.h"

/* From the kernel's uapi (6.6+); Debian 12's headers predate them. */
#define UVS_BPF_LINK_CREATE 28
#define UVS_BPF_TRACE_UPROBE_MULTI 48
#define UVS_BPF_F_UPROBE_MULTI_RETURN 1
/* 6.13+: one program at entry and return, the return probe set only when the entry asks. */
#define UVS_BPF_TRACE_UPROBE_SESSION 57

/* The head of union bpf_attr for BPF_LINK_CREATE with its uprobe_multi member. */
struct uprobe_multi_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t multi_flags;
	uint32_t pid;
	uint32_t pad;
};

/* Whether vmlinux's enum bpf_attach_type has name = val (the kernel knows that link). */
static bool kernel_has_attach_type(const char *name, int val)
{
	const struct btf_type *t;
	struct btf *vmlinux;
	bool found = false;
	int id, i;

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return false;
	id = btf__find_by_name_kind(vmlinux, "bpf_attach_type", BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(vmlinux, id) : NULL;
	for (i = 0; t && i < btf_vlen(t); i++) {
		const struct btf_enum *e = btf_enum(t) + i;

		if (!strcmp(btf__name_by_offset(vmlinux, e->name_off), name) && e->val == val)
			found = true;
	}
	btf__free(vmlinux);
	return found;
}

bool uvs_uprobe_multi_supported(void)
{
	static int known = -1;

	if (known >= 0)
		return known;
	/* The per-uprobe links, as on kernels before 6.6: for tests and for a kernel that errs. */
	known = !getenv("UVSCOPE_NO_UPROBE_MULTI") &&
		kernel_has_attach_type("BPF_TRACE_UPROBE_MULTI", UVS_BPF_TRACE_UPROBE_MULTI);
	return known;
}

bool uvs_uprobe_session_supported(void)
{
	static int known = -1;

	if (known >= 0)
		return known;
	/* UVSCOPE_NO_UPROBE_SESSION=1: as on kernels before 6.13 (tests, or a kernel that errs). */
	known = uvs_uprobe_multi_supported() && !getenv("UVSCOPE_NO_UPROBE_SESSION") &&
		kernel_has_attach_type("BPF_TRACE_UPROBE_SESSION", UVS_BPF_TRACE_UPROBE_SESSION);
	return known;
}

void uvs_uprobe_set_prepare(struct uvs_uprobe_set *s, struct bpf_program *prog)
{
	s->multi = uvs_uprobe_multi_supported();
	if (s->multi)
		bpf_program__set_expected_attach_type(prog, UVS_BPF_TRACE_UPROBE_MULTI);
}

void uvs_uprobe_set_prepare_session(struct bpf_program *prog)
{
	bpf_program__set_expected_attach_type(prog, UVS_BPF_TRACE_UPROBE_SESSION);
}

int uvs_uprobe_set_add(struct uvs_uprobe_set *s, struct bpf_program *prog, uint64_t offset,
		       uint64_t cookie, bool retprobe)
{
	if (s->n == UVS_UPROBE_SET_MAX)
		return -E2BIG;
	s->spots[s->n++] = (struct uvs_uprobe_spot){ prog, offset, cookie, retprobe, false };
	return 0;
}

int uvs_uprobe_set_add_session(struct uvs_uprobe_set *s, struct bpf_program *prog,
			       uint64_t offset, uint64_t cookie)
{
	if (!s->multi)
		return -EOPNOTSUPP;
	if (s->n == UVS_UPROBE_SET_MAX)
		return -E2BIG;
	s->spots[s->n++] = (struct uvs_uprobe_spot){ prog, offset, cookie, false, true };
	return 0;
}

/* One uprobe_multi link for the spots of prog in one direction, if it has any. */
static int attach_group(struct uvs_uprobe_set *s, struct bpf_program *prog, bool retprobe,
			int pid, const char *path)
{
	uint64_t offsets[UVS_UPROBE_SET_MAX], cookies[UVS_UPROBE_SET_MAX];
	struct uprobe_multi_attr attr;
	bool session = false;
	uint32_t n = 0;
	size_t i;
	int fd;

	for (i = 0; i < s->n; i++) {
		if (s->spots[i].prog != prog || s->spots[i].retprobe != retprobe)
			continue;
		offsets[n] = s->spots[i].offset;
		cookies[n++] = s->spots[i].cookie;
		session = s->spots[i].session; /* a program is one or the other */
	}
	if (!n)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (uint32_t)bpf_program__fd(prog);
	attr.attach_type = session ? UVS_BPF_TRACE_UPROBE_SESSION : UVS_BPF_TRACE_UPROBE_MULTI;
	attr.path = (uint64_t)(uintptr_t)path;
	attr.offsets = (uint64_t)(uintptr_t)offsets;
	attr.cookies = (uint64_t)(uintptr_t)cookies;
	attr.cnt = n;
	attr.multi_flags = retprobe ? UVS_BPF_F_UPROBE_MULTI_RETURN : 0;
	attr.pid = (uint32_t)pid;
	fd = (int)syscall(__NR_bpf, UVS_BPF_LINK_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		return -errno;
	s->fds[s->nfds++] = fd;
	return 0;
}

static int attach_multi(struct uvs_uprobe_set *s, int pid, const char *path)
{
	size_t i, j;
	int err;

	for (i = 0; i < s->n; i++) {
		bool seen = false;

		/* Each program once: the first spot that names it. */
		for (j = 0; j < i; j++)
			seen |= s->spots[j].prog == s->spots[i].prog;
		if (seen)
			continue;
		err = attach_group(s, s->spots[i].prog, false, pid, path);
		if (!err)
			err = attach_group(s, s->spots[i].prog, true, pid, path);
		if (err)
			return err;
	}
	return 0;
}

static int attach_each(struct uvs_uprobe_set *s, int pid, const char *path)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = s->spots[i].cookie,
			    .retprobe = s->spots[i].retprobe);
		struct bpf_link *l = bpf_program__attach_uprobe_opts(s->spots[i].prog, pid, path,
								      s->spots[i].offset, &opts);

		if (!l)
			return -errno;
		s->links[s->nlinks++] = l;
	}
	return 0;
}

int uvs_uprobe_set_attach(struct uvs_uprobe_set *s, int pid, const char *path)
{
	int err = s->multi ? attach_multi(s, pid, path) : attach_each(s, pid, path);

	if (err) {
		uvs_uprobe_set_detach(s);
		return err;
	}
	if (s->multi)
		uvs_debug("%zu uprobes in %zu uprobe_multi links", s->n, s->nfds);
	else
		uvs_debug("%zu uprobes, one link each", s->n);
	return 0;
}

void uvs_uprobe_set_detach(struct uvs_uprobe_set *s)
{
	size_t i;

	for (i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	for (i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	s->nfds = 0;
	s->nlinks = 0;
}
