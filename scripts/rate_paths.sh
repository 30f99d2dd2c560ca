#!/usr/bin/env bash
# How `--rate max` behaves behind a bottleneck on the path, side by
# side with fixed rates, in one run. Each case builds the lab (198.19.0.0/16,
# ports 22,80 open, a quarter of hosts alive; 32768 open pairs), adds an
# nftables policer in the target namespace, scans 22,80,443, and prints wall
# time, completeness and synsweep's summary (the rate the controller settled
# on and why).
#
#   scripts/rate_paths.sh [--skip-build] [CASE...]
#   cases: open syn50k reply20k burst16   (default: all)
#
#   open      no policer
#   syn50k    SYNs policed at 50 kpps, burst 1000, on the way in:
#             --rate max --wait 2 against --rate 45000 --wait 2
#   reply20k  SYN-ACKs policed at 20 kpps on the way back: --rate max
#   burst16   SYNs policed at 50 kpps with a 16-packet burst: --rate 40000
#
# Every packet stays inside the lab's two namespaces (unique names, torn down
# on exit). Needs root and nftables.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lab="$here/lab.sh"
build=1
cases=()
while (($#)); do
    case "$1" in
        --skip-build) build=0; shift ;;
        open | syn50k | reply20k | burst16) cases+=("$1"); shift ;;
        *) echo "usage: $0 [--skip-build] [open|syn50k|reply20k|burst16]..." >&2; exit 2 ;;
    esac
done
((${#cases[@]})) || cases=(open syn50k reply20k burst16)
[[ $EUID -eq 0 ]] || { echo "rate_paths.sh: must run as root (network namespaces)" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin="$CARGO_TARGET_DIR/release/synsweep"
((build)) && (cd "$root" && cargo build --release --quiet)
work=$(mktemp -d /tmp/synsweep-rp.XXXXXX)
name="rp$$"; name=${name:0:13}
cleanup() { "$lab" down "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
truth=32768

# policer RULES: a table of our own in the target namespace.
policer() {
    ip netns exec "$target_ns" nft delete table inet ratepath 2>/dev/null || true
    [[ -z ${1:-}${2:-} ]] && return
    ip netns exec "$target_ns" nft -f - <<EOF
table inet ratepath {
  chain input {
    type filter hook input priority -10; policy accept;
    $1
  }
  chain output {
    type filter hook output priority -10; policy accept;
    ${2:-}
  }
}
EOF
}

# run LABEL ARGS...: one scan, prints a row.
run() {
    local label=$1; shift
    local t0 t1 found
    t0=$(date +%s.%N)
    timeout -s INT 120 ip netns exec "$scanner_ns" "$bin" scan 198.19.0.0/16 -p 22,80,443 \
        -i "$scanner_iface" --router-mac "$router_mac" --keep-root --seed 7 "$@" \
        -o "$work/out.txt" >"$work/err" 2>&1 || true
    t1=$(date +%s.%N)
    found=$(awk '$1 == "open" { split($4, o, "."); if (($3 == 22 || $3 == 80) && o[4] % 4 == 0) print $3, $4 }' \
        "$work/out.txt" | sort -u | wc -l)
    printf '  %-34s %6.2f s  %5d/%d = %7.3f%%\n' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
        "$found" "$truth" "$(awk -v a="$found" -v t="$truth" 'BEGIN { print 100 * a / t }')"
    grep -o 'synsweep: .*' "$work/err" | sed 's/^/      /' || true
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >"$work/wall.$label"
}

echo "synsweep rate paths: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
eval "$("$lab" up "$name" --ports 22,80 --alive-mask 0.0.0.3)"
syn='tcp flags & (fin | syn | rst | ack) == syn'
for c in "${cases[@]}"; do
    case $c in
        open)
            echo; echo "open: no policer"
            policer ""
            run "max" --rate max --wait 2
            run "max --retries 0" --rate max --wait 2 --retries 0
            ;;
        syn50k)
            echo; echo "syn50k: SYNs policed at 50 kpps, burst 1000 (input hook of the target)"
            policer "$syn limit rate over 50000/second burst 1000 packets counter drop"
            run "fixed 45000" --rate 45000 --wait 2
            run "max" --rate max --wait 2
            awk -v a="$(<"$work/wall.max")" -v b="$(<"$work/wall.fixed 45000")" \
                'BEGIN { printf "  wall ratio max / fixed 45000: %.2f\n", a / b }'
            ;;
        reply20k)
            echo; echo "reply20k: SYN-ACKs policed at 20 kpps (output hook of the target)"
            policer "" "tcp flags & (syn | ack) == syn | ack limit rate over 20000/second counter drop"
            run "max" --rate max --wait 2
            ;;
        burst16)
            echo; echo "burst16: SYNs policed at 50 kpps, burst 16"
            policer "$syn limit rate over 50000/second burst 16 packets counter drop"
            run "fixed 40000" --rate 40000 --wait 2
            ;;
    esac
done
echo; echo "done"
