// SPDX-License-Identifier: MIT
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target/privileges.h"

int uvs_drop_privileges(bool keep_sampling)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	/* Both < 32, so they live in data[0]. */
	__u32 keep = 1u << CAP_SYS_PTRACE | 1u << CAP_DAC_READ_SEARCH;

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[0].effective &= keep;
	data[0].permitted &= keep;
	data[0].inheritable = 0;
	data[1].inheritable = 0;
	if (keep_sampling) {
		/* CAP_PERFMON (38) and CAP_BPF (39) live in data[1]. */
		__u32 keep1 = 1u << (CAP_PERFMON - 32) | 1u << (CAP_BPF - 32);

		data[1].effective &= keep1;
		data[1].permitted &= keep1;
	} else {
		data[1].effective = data[1].permitted = 0;
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int uvs_check_privileges(char *missing, size_t cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data) == 0 && has_cap(data, CAP_SYS_ADMIN) &&
	    has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON))
		return 0;
	snprintf(missing, cap, "run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN");
	return -EPERM;
}
