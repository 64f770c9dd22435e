#!/usr/bin/env bash
# Builds the micro-benchmarks in bench/programs/ as static musl executables.
#
# Usage: bench/build.sh [OUT_DIR]    (default: target/bench, relative to the repository root)
# Needs musl-gcc (Debian: apt-get install musl-tools).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/target/bench}"
command -v musl-gcc >/dev/null || { echo "bench/build.sh: musl-gcc not found (apt-get install musl-tools)" >&2; exit 1; }
mkdir -p "$OUT"
for src in "$ROOT"/bench/programs/bench_*.c; do
    name="$(basename "$src" .c)"
    musl-gcc -static -O2 -Wall -Wextra -Werror -pthread -o "$OUT/$name" "$src"
done
echo "$OUT"
