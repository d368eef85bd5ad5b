/* SPDX-License-Identifier: MIT */
/*
 * The kernel's vDSO as a file, so its symbols (__vdso_clock_gettime, frequent in node's
 * stacks: every Date.now() and timer check) can be indexed like any object. Every x86-64
 * process of one kernel maps the same image, so this process's own copy stands for the
 * target's: it is copied once into a memfd.
 */
#ifndef UVSCOPE_VDSO_H
#define UVSCOPE_VDSO_H

/* A new read-only fd on a copy of the vDSO (the caller closes it), or -errno. */
int uvs_vdso_open(void);

#endif
