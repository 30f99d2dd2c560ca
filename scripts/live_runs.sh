#!/usr/bin/env bash
# The live lab of scripts/bench.sh (b), scanned N times in a row by synsweep
# alone, defaults on: the spread of wall times and of `--rate max`'s cuts,
# which one run per tool in bench.sh cannot show.
#
#   scripts/live_runs.sh [N] [-- extra scan arguments]     (N: default 20)
#
# Prints one line per run (wall time, open pairs found of 32768, rate cuts,
# identification packets), then the sorted wall times. Every packet stays
# inside the two lab namespaces it builds (torn down on exit). Needs root and
# a release build (cargo build --release), or SYNSWEEP_BIN=path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lab="$here/lab.sh"
n=${1:-20}
[[ $# -gt 0 ]] && shift
[[ ${1:-} == -- ]] && shift
[[ $n =~ ^[0-9]+$ && $n -ge 1 ]] || { echo "usage: $0 [N] [-- scan args]" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "live_runs.sh: must run as root (network namespaces)" >&2; exit 1; }
bin=${SYNSWEEP_BIN:-"${CARGO_TARGET_DIR:-$root/target}/release/synsweep"}
[[ -x $bin ]] || { echo "live_runs.sh: $bin not found: cargo build --release" >&2; exit 1; }
name="lr$$"
work=$(mktemp -d /tmp/synsweep-live.XXXXXX)
trap '"$lab" down "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$("$lab" up "$name" --ports 22,80 --alive-mask 0.0.0.3)"
walls=()
for ((i = 1; i <= n; i++)); do
    t0=$(date +%s.%N)
    (cd "$work" && timeout -s INT 120 ip netns exec "$scanner_ns" "$bin" scan 198.19.0.0/16 -p 22,80,443 \
        --rate max --wait 2 --retries 0 -i "$scanner_iface" --router-mac "$router_mac" --keep-root \
        -o "$work/f.txt" "$@" >"$work/out" 2>&1) || true
    t1=$(date +%s.%N)
    rm -f "$work/paused.json"
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    found=$(awk '$1 == "open" { split($4, o, "."); if (($3 == 22 || $3 == 80) && o[4] % 4 == 0) print $3, $4 }' \
        "$work/f.txt" | sort -u | wc -l)
    cuts=$(grep -o '[0-9]* rate cuts' "$work/out" | awk '{ print $1 }' || true)
    ident=$(grep -o '[0-9]* identification packets' "$work/out" | awk '{ print $1 }' || true)
    printf 'run %3d  %6.2f s  %5d/32768  cuts %s  identification packets %s\n' "$i" "$wall" "$found" \
        "${cuts:-?}" "${ident:-0}"
    walls+=("$wall")
done
printf '%s\n' "${walls[@]}" | sort -n | tr '\n' ' '
echo
