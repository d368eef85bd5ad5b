/* SPDX-License-Identifier: MIT */
/*
 * C++ (Itanium ABI) and Rust symbol demangling, through libiberty's cplus_demangle: the
 * demangler binutils and GDB use, kept current with GCC (Debian's libiberty-dev).
 */
#ifndef UVSCOPE_DEMANGLE_H
#define UVSCOPE_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The demangled form of `mangled` with its parameter list, in a new string the caller frees;
 * NULL when `mangled` is not a mangled name (or on ENOMEM): print it as it is then.
 */
char *uvs_demangle(const char *mangled);

/*
 * True when `mangled` demangles to a name that begins with `prefix`, e.g.
 * "v8::internal::Heap::PerformGarbageCollection(" matches every overload and clone
 * (".constprop.0", ".isra.0") of that member function.
 */
bool uvs_demangled_has_prefix(const char *mangled, const char *prefix);

#endif
