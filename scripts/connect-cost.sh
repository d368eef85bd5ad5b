#!/usr/bin/env bash
# scripts/connect-cost.sh: what following TCP connections costs the target, per connection.
# bench/connect_cost.js makes ROUNDS x CONNS loopback connections to itself (both ends in the
# target: connect, accept, a byte each way, close) and times them. This runs it alone, with
# `uvscope watch --no-sockets` and with the default `uvscope watch` (which adds the socket
# table and the TCP tracepoints), PAIRS times in that order, the target on CPU 1 and uvscope on
# CPU 0, and prints per run the median of the last 5 rounds (the first are JIT warm-up).
#   sudo scripts/connect-cost.sh [PAIRS] [ROUNDS] [CONNS]     (defaults: 2 8 1500)
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-2} ROUNDS=${2:-8} CONNS=${3:-1500}
UVSCOPE=${UVSCOPE:-./uvscope}
[[ $(id -u) == 0 ]] || { echo "connect-cost: run as root" >&2; exit 1; }
[[ -x $UVSCOPE ]] || { echo "connect-cost: build uvscope first (make uvscope)" >&2; exit 1; }
(( ROUNDS > 5 )) || { echo "connect-cost: ROUNDS must be above 5" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"; kill $(jobs -p) 2>/dev/null || true' EXIT

# run NAME [uvscope flags | none]: one run; prints "NAME: median-of-last-5 us/connection".
run() {
	local name=$1 flags=$2 out=$dir/$1.out fifo=$dir/$1.in pid agent=
	mkfifo "$fifo"
	taskset -c 1 node bench/connect_cost.js "$ROUNDS" "$CONNS" <"$fifo" >"$out" &
	exec {w}>"$fifo"
	until [[ -s $out ]]; do read -r -t 0.05 <> <(:) || true; done
	pid=$(grep -o '[0-9]\+' "$out" | head -1)
	if [[ $flags != none ]]; then
		# shellcheck disable=SC2086  # flags is a word list on purpose
		taskset -c 0 "$UVSCOPE" watch -p "$pid" --json $flags >"$dir/$name.agent" 2>&1 &
		agent=$!
		until grep -q '"type":"attach"' "$dir/$name.agent" 2>/dev/null; do
			read -r -t 0.05 <> <(:) || true
		done
	fi
	echo go >&"$w"
	until (( $(wc -l <"$out") > ROUNDS )); do read -r -t 0.1 <> <(:) || true; done
	exec {w}>&-
	[[ -z $agent ]] || { kill -INT "$agent"; wait "$agent" || true; }
	wait || true
	printf '%-10s %s us/connection\n' "$name:" "$(tail -5 "$out" | grep -o '[0-9.]*}' |
		tr -d '}' | sort -n | sed -n 3p)"
}

for ((i = 1; i <= PAIRS; i++)); do
	run "none$i" none
	run "nosock$i" --no-sockets
	run "default$i" ''
done
