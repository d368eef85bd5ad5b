#!/usr/bin/env bash
# What stack sampling costs, measured exactly rather than as a throughput ratio: the BPF
# sampler's own time per sample, from the kernel's BPF run-time statistics
# (kernel.bpf_stats_enabled, switched on only while measuring and restored after), at the
# normal rate and at the blocked rate, on a target that keeps its main loop busy in JavaScript;
# that time as a share of the target's CPU; and the agent's CPU and memory while it names every
# sample (symbol index, V8's heap, phases).
#
# The cost the kernel charges for the timer interrupt that takes the sample is not in the BPF
# figure (it is the same for any sampling profiler, perf included).
#
# usage: scripts/sample-cost.sh   (root; part of `make bench`, or on its own)
#   SAMPLE_COST_SECONDS [5]  length of each measurement   SAMPLE_COST_RATES ["99 997"]
set -euo pipefail
cd "$(dirname "$0")/.."
UVSCOPE=${UVSCOPE:-$PWD/uvscope}
NODE=${NODE:-node}
SECS=${SAMPLE_COST_SECONDS:-5}
RATES=${SAMPLE_COST_RATES:-99 997}
CLK_TCK=$(getconf CLK_TCK)

die() { echo "sample-cost: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root"
[[ -x $UVSCOPE ]] || die "$UVSCOPE is not built"
command -v bpftool >/dev/null || die "no bpftool"

tmp=$(mktemp -d)
prev_stats=$(sysctl -n kernel.bpf_stats_enabled)
target=
agent=
cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$prev_stats" || true
	[[ -n $agent ]] && kill "$agent" 2>/dev/null || true
	[[ -n $target ]] && kill "$target" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# The target: a JS function that spins on the main loop, one setImmediate after another.
cat > "$tmp/spin.js" <<'EOF'
function sampleCostSpin() { let x = 0; for (let i = 0; i < 200000; i++) x = (x * 31 + i) % 1000003; return x; }
function tick() { sampleCostSpin(); setImmediate(tick); }
tick();
process.stdout.write('ready\n');
EOF
"$NODE" "$tmp/spin.js" > "$tmp/target.out" &
target=$!
for _ in $(seq 200); do grep -q ready "$tmp/target.out" 2>/dev/null && break; sleep 0.05; done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run_cnt and run_time_ns of our on-CPU sampler program
prog_stats() {
	bpftool -j prog show | "$NODE" -e '
		let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
			const p = JSON.parse(s).filter((p) => String(p.name).startsWith("uvs_sample_on_c"));
			const c = p.reduce((a, p) => a + (p.run_cnt || 0), 0);
			const t = p.reduce((a, p) => a + (p.run_time_ns || 0), 0);
			console.log(c, t);
		});'
}

printf '%-8s %10s %14s %16s %14s %12s\n' rate samples "ns/sample" "% target CPU" "agent CPU %" "agent MiB"
for hz in $RATES; do
	"$UVSCOPE" watch -p "$target" --json --sample-hz "$hz" > "$tmp/agent.out" 2> "$tmp/agent.err" &
	agent=$!
	for _ in $(seq 400); do grep -q '"type":"attach"' "$tmp/agent.out" 2>/dev/null && break; sleep 0.05; done
	grep -q '"type":"attach"' "$tmp/agent.out" || die "uvscope did not attach: $(cat "$tmp/agent.err")"
	sysctl -qw kernel.bpf_stats_enabled=1
	read -r c0 t0 < <(prog_stats)
	tc0=$(cpu_ticks "$target"); ac0=$(cpu_ticks "$agent")
	sleep "$SECS"
	read -r c1 t1 < <(prog_stats)
	tc1=$(cpu_ticks "$target"); ac1=$(cpu_ticks "$agent")
	sysctl -qw kernel.bpf_stats_enabled="$prev_stats"
	rss=$(awk '/VmHWM/ { print $2 }' "/proc/$agent/status")
	kill -INT "$agent"; wait "$agent" || true; agent=
	"$NODE" -e '
		const [hz, c0, t0, c1, t1, tc0, tc1, ac0, ac1, rss, tck, secs] = process.argv.slice(1).map(Number);
		const n = c1 - c0, ns = n ? (t1 - t0) / n : 0;
		const targetNs = (tc1 - tc0) / tck * 1e9;
		const pct = targetNs ? (t1 - t0) / targetNs * 100 : 0;
		const agentPct = (ac1 - ac0) / tck / secs * 100;
		console.log(`${String(hz + " Hz").padEnd(8)} ${String(n).padStart(10)} ${ns.toFixed(0).padStart(14)} ` +
			`${pct.toFixed(3).padStart(16)} ${agentPct.toFixed(1).padStart(14)} ${(rss / 1024).toFixed(1).padStart(12)}`);
	' "$hz" "$c0" "$t0" "$c1" "$t1" "$tc0" "$tc1" "$ac0" "$ac1" "$rss" "$CLK_TCK" "$SECS"
done
