#!/usr/bin/env bash
# Side-by-side benchmark of synsweep, masscan and zmap in the lab, in one run
# (DESIGN.md, "Measuring": ratios measured together hold; absolute rates drift).
#
#   scripts/bench.sh [--quick] [--skip-build] [--senders N]
#
# (a) sender-only rate into a sink (a lab whose target drops every frame at
#     ingress; its veth has 2 TX queues): the floors of ../shared/tools/rawlimit.c
#     (mmsg, one thread; xsk, AF_XDP in copy mode, one process per queue),
#     synsweep --rate unlimited (default; --tx-backend xdp and --tx-backend
#     packet with 1 and 2 senders), masscan at its top rate, zmap -r 0.
#     Ratios: synsweep AF_XDP over the xsk floor for the same number of
#     senders (target >= 0.9), over synsweep AF_PACKET (target >= 1.7), and
#     synsweep's best over masscan and zmap. Each rate is read off the scanner
#     veth's tx_packets counter, sampled every 0.1 s, over the window in which
#     the counter moved (startup and cool-down excluded, same for every tool).
#     synsweep runs with --rate unlimited (no controller: a sink answers
#     nothing, so --rate max would stay at its safe rate).
# (b) live lab (198.19.0.0/16, ports 22,80 open, a quarter of hosts alive;
#     ground truth 32768 open pairs), probes to ports 22,80,443: wall time and
#     completeness of synsweep --rate max --wait 2 (single pass), masscan
#     --retries 1 --rate 200000 --wait 2, and zmap -r 0 -c 2 (one run per port).
# (c) peak RSS of synsweep over 198.19.0.0/16 x 65535 ports stopped after 5 s
#     (timeout -s INT 5) vs the same /16 x 3 ports.
#
# Every packet stays inside the two lab namespaces this script builds (unique
# names, always torn down on exit). Needs root, nftables, python3, masscan,
# zmap, cc. Each step is bounded by `timeout`; the whole run takes 2-4 minutes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lab="$here/lab.sh"
quick=0 build=1 senders=""
while (($#)); do
    case "$1" in
        --quick) quick=1; shift ;;
        --skip-build) build=0; shift ;;
        --senders) senders=${2:?}; shift 2 ;;
        *) echo "usage: $0 [--quick] [--skip-build] [--senders N]" >&2; exit 2 ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "bench.sh: must run as root (network namespaces)" >&2; exit 1; }
for t in masscan zmap cc nft python3; do
    command -v "$t" >/dev/null || { echo "bench.sh: $t not found" >&2; exit 1; }
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin="$CARGO_TARGET_DIR/release/synsweep"
work=$(mktemp -d /tmp/synsweep-bench.XXXXXX)
sink="bs$$s"
live="bs$$l"
pids=()
cleanup() {
    local p
    for p in "${pids[@]:-}" $(cat "$work/pids" 2>/dev/null); do
        [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
    done
    "$lab" down "$sink" >/dev/null 2>&1 || true
    "$lab" down "$live" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((build)); then
    (cd "$root" && cargo build --release --quiet)
fi
cc -O2 -o "$work/rawlimit" "$root/../shared/tools/rawlimit.c" 2>/dev/null ||
    cc -O2 -o "$work/rawlimit" /work/shared/tools/rawlimit.c

# Sink probes: the /16 times PORTS_SINK ports.
if ((quick)); then nports_sink=20; else nports_sink=40; fi
nprobes_sink=$((65536 * nports_sink))
sen=()
[[ -n "$senders" ]] && sen=(--senders "$senders")

now() { date +%s.%N; }
ns_of() { echo "sswlab-$1-s"; }

# Run a command in lab $1's scanner namespace while sampling the scanner
# veth's tx_packets every 0.05 s; prints "rate_pps packets secs": the rate
# while the counter moved, the packets sent and the seconds the rate spans.
# $2 is a timeout in seconds.
sampled() {
    local name=$1 limit=$2; shift 2
    local ns iface samples
    ns=$(ns_of "$name"); iface="$name-s"
    samples="$work/samples.$name"
    ip netns exec "$ns" bash -c '
        f=/sys/class/net/'"$iface"'/statistics/tx_packets
        while :; do read -r n <"$f"; echo "$EPOCHREALTIME $n"; sleep 0.05; done' >"$samples" &
    local sp=$!
    pids+=("$sp")
    bounded "$limit" "$work/out.$name" ip netns exec "$ns" "$@" >/dev/null
    sleep 0.3
    kill "$sp" 2>/dev/null || true
    wait "$sp" 2>/dev/null || true
    # The rate over the longest run of intervals in which the counter moved
    # (by more than 100 frames: the kernel's own stray frames do not count),
    # less its first and last interval: the sender started or stopped inside
    # those, and they would add up to 0.1 s to a run of well under a second.
    awk '{ t[NR] = $1; n[NR] = $2 }
         END { for (k = 2; k <= NR; k++) {
                   if (n[k] - n[k - 1] > 100) { if (!run) s = k; run++; if (run > best) { best = run; bs = s; be = k } }
                   else run = 0 }
               if (best >= 3) printf "%.0f %d %.2f\n", (n[be - 1] - n[bs]) / (t[be - 1] - t[bs]), n[NR] - n[1], t[be - 1] - t[bs];
               else print "0 0 0" }' "$samples"
}

# Run a command in the background with output to $2 until it exits, or its
# output shows masscan's endless negative countdown (masscan 1.3.2 can hang
# after its wait ends; masscan issue #144), or $1 seconds pass; then stop it
# (SIGINT three times, then SIGKILL). Prints "exited", "hung" or "timeout".
bounded() {
    local limit=$1 out=$2; shift 2
    : >"$out"
    "$@" >>"$out" 2>&1 &
    local p=$! how=timeout i
    echo "$p" >>"$work/pids"
    for ((i = 0; i < limit * 20; i++)); do
        if ! kill -0 "$p" 2>/dev/null; then how=exited; break; fi
        if tr '\r' '\n' <"$out" | tail -n 3 | grep -q 'waiting -[0-9]'; then how=hung; break; fi
        sleep 0.05
    done
    now >"$out.end"
    if [[ $how != exited ]]; then
        for i in 1 2 3; do kill -INT "$p" 2>/dev/null || true; sleep 0.2; done
        kill -9 "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
    echo "$how"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mpps() { awk -v a="$1" 'BEGIN { printf "%.3f Mpps", a / 1e6 }'; }

echo "synsweep bench: $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "netdev_max_backlog=$(sysctl -n net.core.netdev_max_backlog) (not changed by this script)"

# ---------------------------------------------------------------- (a) sink
eval "$("$lab" up "$sink" --sink --queues 2)"
smac=$router_mac; sif=$scanner_iface
echo
echo "(a) sender-only into a sink: 198.19.0.0/16 x $nports_sink ports = $nprobes_sink probes"
declare -A rate
run_sink() {  # label cmd...
    local label=$1; shift
    local r
    r=$(sampled "$sink" 60 "$@")
    rate[$label]=${r%% *}
    printf '  %-22s %s  (%s packets in %s s)\n' "$label" "$(mpps "${rate[$label]}")" \
        "$(cut -d' ' -f2 <<<"$r")" "$(cut -d' ' -f3 <<<"$r")"
}
cd "$work"
run_sink "rawlimit mmsg" "$work/rawlimit" "$sif" "$smac" "$nprobes_sink" mmsg
run_sink "rawlimit xsk x1" "$work/rawlimit" "$sif" "$smac" "$nprobes_sink" xsk copy,wakeup,q=0
# Two processes, one per queue, each sending half.
run_sink "rawlimit xsk x2" bash -c '"$0" "$1" "$2" "$3" xsk copy,wakeup,q=0 & "$0" "$1" "$2" "$3" xsk copy,wakeup,q=1 & wait' \
    "$work/rawlimit" "$sif" "$smac" "$((nprobes_sink / 2))"
run_sink "synsweep" "$bin" scan 198.19.0.0/16 -p "1-$nports_sink" --rate unlimited --wait 0 \
    -i "$sif" --router-mac "$smac" --keep-root -q "${sen[@]}" -o "$work/sink.txt"
for b in xdp packet; do
    for n in 1 2; do
        run_sink "synsweep $b x$n" "$bin" scan 198.19.0.0/16 -p "1-$nports_sink" --rate unlimited --wait 0 \
            -i "$sif" --router-mac "$smac" --keep-root -q --senders $n --tx-backend $b -o "$work/sink.txt"
    done
done
run_sink "masscan" masscan 198.19.0.0/16 -p "1-$nports_sink" --rate 100000000 --wait 0 \
    --adapter "$sif" --adapter-ip 198.18.0.1 --router-mac "$smac" -oL "$work/sink.m"
run_sink "zmap" zmap -p 80 -P "$nports_sink" -r 0 -c 0 -i "$sif" -G "$smac" -S 198.18.0.1 \
    --blacklist-file=/dev/null -q -o "$work/sink.z" 198.19.0.0/16
best=${rate[synsweep xdp x2]}
echo "  ratios: xdp/xsk-floor x1 $(ratio "${rate[synsweep xdp x1]}" "${rate[rawlimit xsk x1]}")," \
    "x2 $(ratio "${rate[synsweep xdp x2]}" "${rate[rawlimit xsk x2]}") (target >= 0.9);" \
    "xdp/packet x1 $(ratio "${rate[synsweep xdp x1]}" "${rate[synsweep packet x1]}")," \
    "x2 $(ratio "${rate[synsweep xdp x2]}" "${rate[synsweep packet x2]}") (target >= 1.7)"
echo "          synsweep xdp x2/masscan $(ratio "$best" "${rate[masscan]}")," \
    "synsweep xdp x2/zmap $(ratio "$best" "${rate[zmap]}")," \
    "synsweep packet x1/rawlimit-mmsg $(ratio "${rate[synsweep packet x1]}" "${rate[rawlimit mmsg]}")"
"$lab" down "$sink"

# ---------------------------------------------------------------- (b) live
eval "$("$lab" up "$live" --ports 22,80 --alive-mask 0.0.0.3)"
lmac=$router_mac; lif=$scanner_iface; lns=$(ns_of "$live")
truth=32768
echo
echo "(b) live lab: 198.19.0.0/16 x 22,80,443, a quarter alive, ports 22,80 open ($truth open pairs)"
# Open pairs that are truly open, from "PORT IP" lines.
true_open() {
    awk '{ split($2, o, "."); if (($1 == 22 || $1 == 80) && o[1] == 198 && o[2] == 19 && o[4] % 4 == 0) print $1, $2 }' |
        sort -u | wc -l
}
softnet_drops() {  # the host's backlog drops (column 2 of softnet_stat, hex, per CPU)
    local s=0 a b rest
    while read -r a b rest; do s=$((s + 16#$b)); done </proc/net/softnet_stat
    echo "$s"
}
declare -A wall found
live_row() {
    local label=$1
    printf '  %-36s %6.2f s  %5d/%d = %7.3f%%  %s\n' "$label" "${wall[$label]}" "${found[$label]}" "$truth" \
        "$(awk -v a="${found[$label]}" -v t="$truth" 'BEGIN { print 100 * a / t }')" "${2:-}"
}

d0=$(softnet_drops); t0=$(now)
timeout -s INT 60 ip netns exec "$lns" "$bin" scan 198.19.0.0/16 -p 22,80,443 --rate max --wait 2 --retries 0 \
    -i "$lif" --router-mac "$lmac" --keep-root "${sen[@]}" -o "$work/live.txt" >"$work/live.out" 2>&1 || true
t1=$(now)
wall[synsweep]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
found[synsweep]=$(awk '$1 == "open" { print $3, $4 }' "$work/live.txt" | true_open)
live_row synsweep "(--rate max --wait 2, single pass; softnet drops +$(($(softnet_drops) - d0)))"
grep -o 'synsweep: .*' "$work/live.out" | sed 's/^/      /' || true

# masscan 1.3.2 can hang after its wait ends (see bounded): its finish time
# is when the wait ran out or the process exited, whichever came first.
d0=$(softnet_drops); t0=$(now)
how=$(bounded 120 "$work/masscan.out" ip netns exec "$lns" masscan 198.19.0.0/16 -p 22,80,443 \
    --rate 200000 --retries 1 --wait 2 \
    --adapter "$lif" --adapter-ip 198.18.0.1 --router-mac "$lmac" -oL "$work/live.m")
t1=$(<"$work/masscan.out.end")
[[ $how == hung ]] && hung=1
wall[masscan]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
found[masscan]=$(awk '$1 == "open" { print $3, $4 }' "$work/live.m" | true_open)
live_row masscan "(--retries 1 --rate 200000 --wait 2${hung:+; hung after its wait, stopped}; softnet drops +$(($(softnet_drops) - d0)))"

d0=$(softnet_drops); t0=$(now)
: >"$work/live.z"
for p in 22 80 443; do
    timeout -s INT 60 ip netns exec "$lns" zmap -p "$p" -r 0 -c 2 -i "$lif" -G "$lmac" -S 198.18.0.1 \
        --blacklist-file=/dev/null -q -o "$work/z.$p" 198.19.0.0/16 >/dev/null 2>&1 || true
    awk -v p="$p" '{ print p, $1 }' "$work/z.$p" >>"$work/live.z"
done
t1=$(now)
wall[zmap]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
found[zmap]=$(true_open <"$work/live.z")
live_row zmap "(-r 0 -c 2, three runs, one per port; softnet drops +$(($(softnet_drops) - d0)))"
echo "  ratios: masscan/synsweep wall $(ratio "${wall[masscan]}" "${wall[synsweep]}")," \
    "zmap/synsweep wall $(ratio "${wall[zmap]}" "${wall[synsweep]}")"

# ---------------------------------------------------------------- (c) memory
echo
echo "(c) peak memory, stopped after 5 s (timeout -s INT 5), live lab"
mem() {  # label ports
    local d="$work/mem.$1"
    mkdir -p "$d"
    (cd "$d" && timeout -s KILL 30 /usr/bin/time -v -o "$d/time" timeout -s INT 5 \
        ip netns exec "$lns" "$bin" scan 198.19.0.0/16 -p "$2" --rate unlimited --wait 1 \
        -i "$lif" --router-mac "$lmac" --keep-root -q -o "$d/f.ndjson" >/dev/null 2>&1 || true)
    local kb
    kb=$(awk -F': ' '/Maximum resident/ { print $2 }' "$d/time")
    printf '  %-24s max RSS %6.1f MiB  (%s findings)\n' "$1" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" \
        "$(wc -l <"$d/f.ndjson")"
}
mem "/16 x 65535 ports" 1-65535
mem "/16 x 3 ports" 22,80,443
"$lab" down "$live"
echo
echo "done"
