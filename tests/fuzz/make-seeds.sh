#!/usr/bin/env bash
# Writes the seed corpus in tests/fuzz/corpus/ (committed; `make fuzz` never writes there).
# Run it by hand, as root (the netlink capture and /proc/PID/syscall of a child need it), only
# to remake the seeds; the crash inputs kept as seeds (named crash-*) are left alone.
#
#   elf/       the ELF fixtures of the unit tests, linked without libc so each is a few KiB
#   proc/      lines of /proc/PID/maps, /proc/PID/task/TID/syscall texts, a /proc/PID/limits,
#              and /proc/PID/fd link texts
#   sock_diag/ real NETLINK_SOCK_DIAG replies about sockets of our own (capture-sock-diag.py)
#   flame/     profiles for fuzz_flame.c: frames of every kind, hostile names, a few stacks
set -euo pipefail
cd "$(dirname "$0")"
src=../fixtures/elf
out=corpus
mkdir -p "$out/elf" "$out/proc" "$out/sock_diag" "$out/flame"

# No libc, no unwind tables, one page alignment: the symbols, notes and headers stay real.
small=(-Os -nostdlib -fno-asynchronous-unwind-tables -Wl,--build-id=sha1 -Wl,-z,norelro
       -Wl,-z,noseparate-code -Wl,-z,max-page-size=0x1000)
gcc "${small[@]}" -fno-pie -no-pie -rdynamic -Wl,-e,main "$src/prog.c" -o "$out/elf/nopie"
gcc "${small[@]}" -fPIE -pie -rdynamic -Wl,-e,main "$src/prog.c" -o "$out/elf/pie"
gcc "${small[@]}" -fPIC -shared "$src/lib.c" -o "$out/elf/lib.so"
strip -o "$out/elf/pie-stripped" "$out/elf/pie"
chmod -x "$out"/elf/*

# A few kinds of maps line: cat's text, a library, the heap, the stack, an anonymous mapping.
maps=$(cat /proc/self/maps)
grep -m1 ' r-xp .*/cat$' <<<"$maps" > "$out/proc/maps-exec"
grep -m1 ' r-xp .*/libc' <<<"$maps" > "$out/proc/maps-lib"
grep -m1 '\[heap\]' <<<"$maps" > "$out/proc/maps-heap"
grep -m1 '\[stack\]' <<<"$maps" > "$out/proc/maps-stack"
awk '$6 == "" { print; exit }' <<<"$maps" > "$out/proc/maps-anon"
sleep 5 &
sleep 0.2
cat /proc/$!/syscall > "$out/proc/syscall-in-syscall"
kill $!
# The kernel's other two forms, which a snapshot of a live process rarely catches.
printf -- '-1 0x7ffd3c1e9a48 0x7f2a5c2e1d3f\n' > "$out/proc/syscall-blocked"
printf 'running\n' > "$out/proc/syscall-running"
cat /proc/self/limits > "$out/proc/limits"
readlink /proc/self/fd/0 > "$out/proc/fd-path"
printf 'socket:[123456]' > "$out/proc/fd-socket"
printf 'pipe:[98765]' > "$out/proc/fd-pipe"
printf 'anon_inode:[eventpoll]' > "$out/proc/fd-anon"

python3 capture-sock-diag.py "$out/sock_diag"

# Four frames of four kinds, one named with ; < > & ", and three stacks; then a hostile name.
printf '\x03\x01main loop\x00\x03handler; <x> & "y"\x00\x02do_syscall_64\x00\x07[unknown]\x00\x00\x01\x02\xff\x00\x01\xff\x03\xff' \
	> "$out/flame/mixed"
printf '\x01\x03\xff\xfe\x0a\x1b[31mbad\x00\x00\x00\xff' > "$out/flame/hostile"
