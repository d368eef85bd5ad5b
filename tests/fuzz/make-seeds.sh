#!/usr/bin/env bash
# Writes the seed corpus in tests/fuzz/corpus/ (committed; `make fuzz` never writes there).
# Run it by hand, as root (the netlink capture and /proc/PID/syscall of a child need it), only
# to remake the seeds; the crash inputs kept as seeds (named crash-*) are left alone.
#
#   elf/       the ELF fixtures of the unit tests, linked without libc so each is a few KiB
#   proc/      lines of /proc/PID/maps, /proc/PID/task/TID/syscall texts, a /proc/PID/limits,
#              and /proc/PID/fd link texts
#   sock_diag/ real NETLINK_SOCK_DIAG replies about sockets of our own (capture-sock-diag.py)
#   unwind/    registers and stack copies for fuzz_unwind.c (its header says what the flags mean)
#   symtab/    the same ELF files as elf/
#   perf_map/  perf map texts: node's kinds of line, overlapping ranges, a line without its end
#   v8/        the mode byte alone (the valid synthetic heap as V8 11.3 and 13.6 lay it out), and
#              random patches and a random raw image (see fuzz_v8.c)
#   phase_map/ the miniature libuv (fake_libuv.c) without libc: inlined phases with DWARF 5
#              call sites (-O2), no inlining and no call sites (-O0), DWARF 4 GNU call sites
#   flame/     profiles for fuzz_flame.c: frames of every kind, hostile names, a few stacks
#   prom/      Accept headers (mode byte 0: Prometheus's own, q=0) and process names (mode 1)
#   rules/     the shipped rules file, and small ones with each kind of value and mistake
#   perf_ring/ perf mmap rings: a sample and a lost record, the same wrapping, a size that lies
set -euo pipefail
cd "$(dirname "$0")"
src=../fixtures/elf
out=corpus
mkdir -p "$out/elf" "$out/proc" "$out/sock_diag" "$out/unwind" "$out/symtab" "$out/perf_map" "$out/v8" \
	"$out/phase_map"
printf '\x00' > "$out/v8/valid-11"
printf '\x01' > "$out/v8/valid-13"
# Arbitrary bytes, the same on every run (a seed that changes from run to run would make a
# fuzz failure impossible to reproduce from the seed corpus): SHA-256 in counter mode.
pseudo_random() {
	local i=0 hex=''
	while [ "${#hex}" -lt $(($2 * 2)) ]; do
		hex+=$(printf 'uvscope-seed-%s-%d' "$1" "$i" | sha256sum | cut -c1-64)
		i=$((i + 1))
	done
	hex=${hex:0:$(($2 * 2))}
	printf "$(printf '%s' "$hex" | sed 's/../\\x&/g')"
}
{ printf '\x00'; pseudo_random patches 200; } > "$out/v8/patches-random"
{ printf '\x02'; pseudo_random raw 2048; } > "$out/v8/raw-random"
mkdir -p "$out/flame" "$out/rules"
cp ../../deploy/uvscope-rules.ini "$out/rules/shipped.ini"

# No libc, no unwind tables, one page alignment: the symbols, notes and headers stay real.
small=(-Os -nostdlib -fno-asynchronous-unwind-tables -Wl,--build-id=sha1 -Wl,-z,norelro
       -Wl,-z,noseparate-code -Wl,-z,max-page-size=0x1000)
gcc "${small[@]}" -fno-pie -no-pie -rdynamic -Wl,-e,main "$src/prog.c" -o "$out/elf/nopie"
gcc "${small[@]}" -fPIE -pie -rdynamic -Wl,-e,main "$src/prog.c" -o "$out/elf/pie"
gcc "${small[@]}" -fPIC -shared "$src/lib.c" -o "$out/elf/lib.so"
strip -o "$out/elf/pie-stripped" "$out/elf/pie"
chmod -x "$out"/elf/*
cp "$out"/elf/* "$out/symtab/"

printf '55d3a4b5c000 40 JS:*hot /app/x.js:3:10\n55d3a4b5c020 10 LazyCompile:~cold /app/y.js:1\n55d3a4b5c000 100 Builtin:ArgumentsAdaptorTrampoline\n' > "$out/perf_map/node-lines"
printf '1000 1000 old\n1800 100 new\n1900 10 a\n1000 2000 all\n1fff 2 b\nzzz\n1000 0 z\n' > "$out/perf_map/overlaps"
printf '1000 10 partial-line-without-newline' > "$out/perf_map/partial"
mkdir -p "$out/prom"
printf '\x00application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' > "$out/prom/accept-prometheus"
printf '\x00text/plain;q=0.5, application/openmetrics-text ; q=0' > "$out/prom/accept-q0"
printf '\x01node' > "$out/prom/comm-node"
printf '\x01a"b\\c\nd\xc3\xa9\xff\x1b[2J' > "$out/prom/comm-hostile"

gcc "${small[@]}" -g -fPIC -shared -O2 "$src/fake_libuv.c" -o "$out/phase_map/fake-libuv-O2.so"
gcc "${small[@]}" -g -fPIC -shared -O0 "$src/fake_libuv.c" -o "$out/phase_map/fake-libuv-O0.so"
gcc "${small[@]}" -gdwarf-4 -fPIC -shared -O2 "$src/fake_libuv.c" \
	-o "$out/phase_map/fake-libuv-dwarf4.so"
chmod -x "$out"/phase_map/*

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

# A frame-pointer chain (fp at +64 -> +160 -> 0, return addresses in the fuzzer's text), the same
# with the red zone and ip in the fuzzer's code, and raw registers that nothing maps.
python3 - "$out/unwind" <<'PY'
import struct, sys
d = sys.argv[1] + '/'
words = [0] * 64
words[8] = 0xfee0 << 48 | 160; words[9] = 0xfeed << 48 | 0x1234
words[20] = 0; words[21] = 0xfeed << 48 | 0x4321
chain = b''.join(struct.pack('<Q', w) for w in words)
open(d + 'fp-chain', 'wb').write(struct.pack('<QQQB', 0x100, 0, 64, 3) + chain)
open(d + 'cfi-redzone', 'wb').write(struct.pack('<QQQB', 0x8000, 0, 80, 7) + chain * 2)
# Expressions (flag 8): OpenSSL sha512 avx2's CFA (breg7 152; deref; plus_uconst 8), the PLT rule.
def op(a, n=0, n2=0): return struct.pack('<BQQ', a, n, n2)
e = op(0x77, 152) + op(0x06) + op(0x23, 8)
plt = op(0x77, 8) + op(0x80) + op(0x3f) + op(0x1a) + op(0x3b) + op(0x2a) + op(0x33) + op(0x24) + op(0x22)
open(d + 'expr-deref', 'wb').write(struct.pack('<QQQB', 0, 0, 0, 10) + e + bytes(200))
open(d + 'expr-plt', 'wb').write(struct.pack('<QQQB', 0, 0, 0, 10) + plt)
open(d + 'raw', 'wb').write(struct.pack('<QQQB', 0xdeadbeef, 0x7ffc12340000, 0x7ffc12340010, 0) + bytes(256))
PY
# Four frames of four kinds, one named with ; < > & ", and three stacks; then a hostile name.
printf '\x03\x01main loop\x00\x03handler; <x> & "y"\x00\x02do_syscall_64\x00\x07[unknown]\x00\x00\x01\x02\xff\x00\x01\xff\x03\xff' \
	> "$out/flame/mixed"
printf '\x01\x03\xff\xfe\x0a\x1b[31mbad\x00\x00\x00\xff' > "$out/flame/hostile"

# loop_mem/: an image holding a uv_loop_t on a "stack" (fd 7), its metrics with the idle-time
# flag on, and a pool queue of two jobs and libuv's message (see fuzz_loop_mem.c's header).
mkdir -p "$out/loop_mem"
python3 - "$out/loop_mem/valid-loop" <<'PY'
import struct, sys
BASE = 0x7f0000000000
img = bytearray(0x3000)
def q(off, v): struct.pack_into('<Q', img, off, v)
def d(off, v): struct.pack_into('<I', img, off, v)
loop, lf = 0x800, 0x1000
q(loop + 16, BASE + loop + 16); q(loop + 24, BASE + loop + 16)
q(loop + 40, BASE + lf); d(loop + 64, 7)
d(lf, 1); q(lf + 8, 1234); q(lf + 136, 999_000_000_000); q(lf + 144, 500_000_000_000)
head, msg, exitm, nodes = 0x2000, 0x2020, 0x2040, [0x2100, 0x2020, 0x2200]
prev = head
for n in nodes:
    q(prev, BASE + n); q(n + 8, BASE + prev); prev = n
q(prev, BASE + head); q(head + 8, BASE + prev)
params = struct.pack('<HHHHHH', 7, 1, 0x100, head, msg, exitm) + bytes(4)
open(sys.argv[1], 'wb').write(params + bytes(img))
PY

# proc/net-*: lines of /proc/PID/net/{tcp,tcp6,udp} as the kernel prints them (proc_net.c).
printf '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 263 1 00000000bc2e2fe6 100 0 0 10 0\n' > "$out/proc/net-tcp-listen"
printf '   1: 00000000000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 4711 1 0000000000000000 100 0 0 10 0\n' > "$out/proc/net-tcp6-listen"
printf '  123: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   107        0 9001 2 0000000000000000 42\n' > "$out/proc/net-udp"

# perf_ring/: perf mmap rings for fuzz_perf_ring.c (8 bytes of tail, 2 of head - tail, the data):
# a sample with a callchain, user registers and a 3-frame stack, then a PERF_RECORD_LOST; the
# same two with the sample wrapping past the end of the 4096-byte ring; a size that lies.
mkdir -p "$out/perf_ring"
python3 - "$out/perf_ring" <<'PY'
import struct, sys
d = sys.argv[1] + '/'
SP = 0x7ffd0000
stack = [0] * 32
stack[4] = SP + 96; stack[5] = 0x401100   # frame at sp+32 -> sp+96
stack[12] = 0; stack[13] = 0x401200       # frame at sp+96: the outermost
stack[10] = 0xf00d                         # its fp-16 slot
body = struct.pack('<QQQQ', 0x401000, (4243 << 32) | 4242, 1234, 3)
body += struct.pack('<QQQ', 0xfffffffffffffe00, 0x401100, 0x401200)
body += struct.pack('<QQQQ', 2, SP + 32, SP, 0x401000)
raw = b''.join(struct.pack('<Q', w) for w in stack)
body += struct.pack('<Q', len(raw)) + raw + struct.pack('<Q', len(raw))
sample = struct.pack('<IHH', 9, 0, 8 + len(body)) + body
lost = struct.pack('<IHHQQ', 2, 0, 24, 1, 5)
recs = sample + lost
ring = recs + bytes(4096 - len(recs))
open(d + 'sample-lost', 'wb').write(struct.pack('<QH', 0, len(recs)) + ring)
start = 4096 - 40
wrapped = bytearray(4096)
for i, b in enumerate(recs):
    wrapped[(start + i) % 4096] = b
open(d + 'wrapped', 'wb').write(struct.pack('<QH', 5 * 4096 + start, len(recs)) + bytes(wrapped))
liar = struct.pack('<IHH', 9, 0, 4000) + bytes(8)
open(d + 'size-lies', 'wb').write(struct.pack('<QH', 0, 16) + liar + bytes(4096 - 16))
PY
