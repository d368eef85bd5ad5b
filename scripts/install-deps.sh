#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build, test and demo uvscope.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

packages=(
	clang            # compiles bpf/*.bpf.c with -target bpf
	libclang-rt-14-dev # libFuzzer, clang's sanitizers: make fuzz (clang only recommends it)
	llvm             # llvm-strip and friends used around BPF objects
	libbpf-dev       # loading, CO-RE relocation, skeleton runtime
	bpftool          # vmlinux.h from kernel BTF, skeleton generation, tests inspect programs
	libelf-dev       # ELF symbol resolution (agent/elf_symbols.c), libbpf's own dependency
	zlib1g-dev       # libbpf's dependency; pprof files are gzip-compressed
	libdw-dev        # .eh_frame unwinding of sampled stacks, libuv's DWARF (inlined phases)
	libiberty-dev    # the C++ demangler for native frames (cplus_demangle)
	libcapstone-dev  # disassembly: proving probe sites are instruction boundaries
	libprotobuf-c-dev    # pprof output (protobuf)
	protobuf-c-compiler  # generates the pprof encoder from proto/profile.proto at build time
	libxml2-utils    # tests: xmllint, an independent XML parser for the SVG flame graph
	libuv1-dev       # tests: a native libuv program with known call chains (tests/fixtures/native)
	golang-go        # tests: `go tool pprof` reads the pprof output back (independent decoder)
	libcriterion-dev # unit tests
	libxml2-dev      # unit tests: the SVG flame graph must parse as XML (libxml2)
	chromium         # tests: the SVG flame graph driven in a headless browser (skipped without)
	pkg-config
	make
	gcc
	binutils         # nm, readelf, strip: the unit tests' independent references
	util-linux       # setpriv (privilege-drop test), taskset (benchmark)
	procps
	linux-libc-dev   # asm/unistd_64.h: the syscall names the agent prints
	strace           # tests: an independent count of the target's syscalls
	gdb              # tests: stops a loop thread at a chosen instruction (loop.test.mjs)
	bpftrace         # tests: an independent stack sampler (sampled loop phases, loop_phases.test.mjs)
	libinih-dev      # alert rules files (--rules FILE, INI)
	libmicrohttpd-dev # uvscope serve: the /metrics HTTP endpoint
	prometheus       # tests: promtool checks the /metrics exposition (the daemon is not started)
)
# Node runs the demo app and the integration fixtures; install Debian's only if none is there.
command -v node >/dev/null 2>&1 || packages+=(nodejs)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: everything is already installed"
	exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
# Packages with daemons (prometheus) must not start them here: only their tools are wanted.
# policy-rc.d is the Debian way to tell maintainer scripts so; an existing one is left alone.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	own_policy=yes
fi
status=0
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" ||
	status=$?
[ "$own_policy" = no ] || $SUDO rm -f "$policy"
exit "$status"
