#!/usr/bin/env bash
# Runs every micro-benchmark in bench/programs/ in Coracle and in the Linux VM (`coracle bench`).
#
# Usage: bench/run-all.sh [coracle bench options, e.g. -n 5 --accel tcg]
#   Builds the programs with bench/build.sh into target/bench; uses target/release/coracle,
#   or $CORACLE (build it first: cargo build --release -p coracle-tools). The Linux VM is
#   prepared by `coracle bench` itself.
# Tables go to stdout, progress to stderr. Exits 0 only when every run of every benchmark
# succeeded on both sides.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CORACLE="${CORACLE:-$ROOT/target/release/coracle}"
[ -x "$CORACLE" ] || { echo "run-all: $CORACLE not found: cargo build --release -p coracle-tools" >&2; exit 1; }
BIN="$("$ROOT/bench/build.sh")" || exit 1

# benchmark and its arguments | CPU counts
PLAN=(
    "bench_syscall|1"
    "bench_clock|1"
    "bench_pagefault|1"
    "bench_futex|1,2"
    "bench_thread|1"
    "bench_fork|1"
    "bench_cpu 2|1,2"
)
status=0
for entry in "${PLAN[@]}"; do
    read -r -a cmd <<<"${entry%|*}"
    cpus="${entry#*|}"
    echo "=== ${cmd[*]} (--cpus $cpus)"
    "$CORACLE" bench --cpus "$cpus" "$@" -- "$BIN/${cmd[0]}" "${cmd[@]:1}"
    rc=$?
    [ "$rc" -gt "$status" ] && status=$rc
    echo
done
exit "$status"
