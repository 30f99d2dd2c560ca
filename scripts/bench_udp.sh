#!/usr/bin/env bash
# UDP side by side in one lab run: synsweep, nmap -sU and masscan's UDP
# against real Debian daemons, share of the true open UDP ports found and
# wall time.
#
#   scripts/bench_udp.sh [--skip-build]
#
# Lab (scripts/lab.sh, veth shape): 198.19.0.0/24 scanned, even hosts alive
# (odd ones silent: nftables drops what is sent to them). In the target
# namespace: dnsmasq (53) and snmpd (161, community public) on wildcard
# sockets (they answer from the probed address), memcached -U 11211 bound to
# every 8th address; 12345 has no listener. The kernel's ICMP rate limit is
# off in the target namespace, so closed ports can answer every probe.
# Ground truth: 128 x 53 + 128 x 161 + 32 x 11211 = 288 open UDP pairs.
#
# Every packet stays inside the lab's two namespaces (unique names, torn
# down on exit with the daemons). Needs root, dnsmasq-base, snmpd,
# memcached, nmap, masscan. Each tool is bounded by `timeout`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lab="$here/lab.sh"
build=1
while (($#)); do
    case "$1" in
        --skip-build) build=0; shift ;;
        *) echo "usage: $0 [--skip-build]" >&2; exit 2 ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "bench_udp.sh: must run as root (network namespaces)" >&2; exit 1; }
for t in dnsmasq snmpd memcached nmap masscan; do
    command -v "$t" >/dev/null || { echo "bench_udp.sh: $t not found" >&2; exit 1; }
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin="$CARGO_TARGET_DIR/release/synsweep"
work=$(mktemp -d /tmp/synsweep-benchudp.XXXXXX)
name="bu$$"
pids=()
cleanup() {
    local p
    for p in "${pids[@]:-}"; do
        [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]:-}"; do
        [[ -n "$p" ]] && wait "$p" 2>/dev/null || true
    done
    "$lab" down "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((build)); then
    (cd "$root" && cargo build --release --quiet)
fi

eval "$("$lab" up "$name" --alive-mask 0.0.0.1)"
tns=$target_ns; sns=$scanner_ns; sif=$scanner_iface; rmac=$router_mac
ip netns exec "$tns" sysctl -q -w net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000

printf 'rocommunity public 198.18.0.0/16\nsysDescr synsweep udp bench\n' >"$work/snmpd.conf"
ip netns exec "$tns" dnsmasq --conf-file=/dev/null --keep-in-foreground --no-resolv --no-hosts \
    --user=root --pid-file="$work/dnsmasq.pid" --server=/invalid/ >/dev/null 2>&1 &
pids+=($!)
ip netns exec "$tns" snmpd -f -Lo -C -c "$work/snmpd.conf" -p "$work/snmpd.pid" udp:161 >/dev/null 2>&1 &
pids+=($!)
mc=$(for i in $(seq 0 8 255); do printf '198.19.0.%d,' "$i"; done)
ip netns exec "$tns" memcached -u root -l "${mc%,}" -U 11211 -p 0 >/dev/null 2>&1 &
pids+=($!)
for p in 53 161 11211; do
    for _ in $(seq 100); do
        [[ -n $(ip netns exec "$tns" ss -Huln "sport = :$p") ]] && break
        sleep 0.1
    done
    [[ -n $(ip netns exec "$tns" ss -Huln "sport = :$p") ]] || { echo "bench_udp.sh: nothing on udp/$p" >&2; exit 1; }
done

truth=288
# True open pairs among "PORT IP" lines.
true_open() {
    awk '{ split($2, o, "."); h = o[4] + 0
           if (o[1] == 198 && o[2] == 19 && o[3] == 0 && h % 2 == 0 &&
               ($1 == 53 || $1 == 161 || ($1 == 11211 && h % 8 == 0))) print $1, $2 }' | sort -u | wc -l
}
all_open() { sort -u | wc -l; }
now() { date +%s.%N; }
declare -A wall found extra
row() {
    printf '  %-44s %7.2f s  %3d/%d = %6.2f%%  (%d reported open that are not)\n' "$1" "${wall[$1]}" \
        "${found[$1]}" "$truth" "$(awk -v a="${found[$1]}" -v t="$truth" 'BEGIN { print 100 * a / t }')" "${extra[$1]}"
}

echo "synsweep UDP bench: $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lab: 198.19.0.0/24 x U:53,161,11211,12345; 128 live hosts; truth $truth open pairs"
echo "     (dnsmasq $(dnsmasq --version | head -1 | awk '{print $3}'), snmpd, memcached $(memcached -V | awk '{print $2}'), nmap $(nmap --version | awk 'NR==1 {print $3}'), masscan $(masscan --version 2>/dev/null | awk '/version/ {print $3; exit}'))"

cd "$work"
label="synsweep --rate 2000 --retries 1 --wait 2"
t0=$(now)
timeout -s INT 120 ip netns exec "$sns" "$bin" scan 198.19.0.0/24 -p U:53,161,11211,12345 \
    --rate 2000 --retries 1 --wait 2 -i "$sif" --router-mac "$rmac" --keep-root -o "$work/s.txt" \
    >"$work/s.out" 2>&1 || true
t1=$(now)
wall[$label]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
found[$label]=$(awk '$1 == "open" && $2 == "udp" { print $3, $4 }' "$work/s.txt" | true_open)
extra[$label]=$(( $(awk '$1 == "open" && $2 == "udp" { print $3, $4 }' "$work/s.txt" | all_open) - found[$label] ))
row "$label"
grep -o 'synsweep: .*' "$work/s.out" | sed 's/^/      /' || true

label="nmap -sU -n -Pn -T4 --max-retries 1"
t0=$(now)
timeout -s INT 600 ip netns exec "$sns" nmap -sU -n -Pn -T4 --max-retries 1 -p 53,161,11211,12345 \
    -oG "$work/n.gnmap" 198.19.0.0/24 >"$work/n.out" 2>&1 || true
t1=$(now)
wall[$label]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
# "Host: IP ()	Ports: 53/open/udp//domain///, 161/open|filtered/udp//..."
nmap_open() {
    awk -F'\t' '/Ports:/ { split($1, h, " "); n = split($2, ps, ", ");
        for (i = 1; i <= n; i++) { sub(/^Ports: /, "", ps[i]); split(ps[i], f, "/");
            if (f[2] == "open") print f[1], h[2] } }' "$work/n.gnmap"
}
found[$label]=$(nmap_open | true_open)
extra[$label]=$(( $(nmap_open | all_open) - found[$label] ))
row "$label"
tail -n 1 "$work/n.out" | sed 's/^/      /'

# masscan 1.3.2 can hang after its wait ends, ignoring SIGINT (masscan issue
# #144): run it in the background and stop it (SIGINT, then SIGKILL) when
# its status shows the negative countdown; its time ends there.
label="masscan -pU: --rate 2000 --retries 1 --wait 2"
t0=$(now)
ip netns exec "$sns" masscan 198.19.0.0/24 -pU:53,U:161,U:11211,U:12345 \
    --rate 2000 --retries 1 --wait 2 --adapter "$sif" --adapter-ip 198.18.0.1 --router-mac "$rmac" \
    -oL "$work/m.txt" >"$work/m.out" 2>&1 &
mp=$!
pids+=("$mp")
how=timeout
for ((i = 0; i < 60 * 20; i++)); do
    if ! kill -0 "$mp" 2>/dev/null; then how=exited; break; fi
    if tr '\r' '\n' <"$work/m.out" | tail -n 3 | grep -q 'waiting -[0-9]'; then how=hung; break; fi
    sleep 0.05
done
t1=$(now)
if [[ $how != exited ]]; then
    for i in 1 2 3; do kill -INT "$mp" 2>/dev/null || true; sleep 0.2; done
    kill -9 "$mp" 2>/dev/null || true
fi
wait "$mp" 2>/dev/null || true
wall[$label]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
found[$label]=$(awk '$1 == "open" && $2 == "udp" { print $3, $4 }' "$work/m.txt" 2>/dev/null | true_open)
extra[$label]=$(( $(awk '$1 == "open" && $2 == "udp" { print $3, $4 }' "$work/m.txt" 2>/dev/null | all_open) - found[$label] ))
row "$label"
[[ ${how:-} == exited ]] || echo "      (masscan $how after its wait; its time is until then)"
awk '$1 == "open" && $2 == "udp" { print $3, $4 }' "$work/m.txt" 2>/dev/null | sort -u >"$work/m.pairs"
awk '{ split($2, o, "."); h = o[4] + 0
       if (!(o[1] == 198 && o[2] == 19 && o[3] == 0 && h % 2 == 0 &&
             ($1 == 53 || $1 == 161 || ($1 == 11211 && h % 8 == 0)))) print "      masscan false open:", $1, $2 }' "$work/m.pairs"
