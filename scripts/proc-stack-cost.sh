#!/usr/bin/env bash
# What stacks without BPF (`uvscope flame --backend proc`) cost the target: the pause of each
# ptrace grab (as uvscope measured it and as the target lived it, median and p99), and the
# target's and the agent's CPU per perf_event_open sample at 99 Hz and 997 Hz. Runs uvscope
# with only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH in its bounding set (setpriv). The method is
# in bench/proc_stack_cost.mjs.
#
# usage: scripts/proc-stack-cost.sh   (root; part of `make bench`, or on its own; about 1 minute
#   with the defaults)
#   PROC_COST_SECONDS [5]  length of each window   PROC_COST_RATES ["99 997"]
#   PROC_COST_PAIRS [4]    off/on pairs per rate
set -euo pipefail
cd "$(dirname "$0")/.."
UVSCOPE=${UVSCOPE:-$PWD/uvscope}
NODE=${NODE:-node}

die() { echo "proc-stack-cost: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root"
[[ -x $UVSCOPE ]] || die "$UVSCOPE is not built"
command -v setpriv >/dev/null || die "no setpriv (util-linux)"
UVSCOPE=$UVSCOPE exec "$NODE" bench/proc_stack_cost.mjs
