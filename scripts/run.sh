#!/usr/bin/env bash
# Set up and run synsweep.
#
#   scripts/run.sh                 build, then scan a built-in lab network and write
#                                  a findings file and an HTML risk report to ./synsweep-demo/
#   scripts/run.sh SCAN-ARGS...    build, then `synsweep scan SCAN-ARGS...` for real
#
# The lab (scripts/lab.sh) is a pair of network namespaces on this machine: the
# scanner's only link leads to a simulated internet at 198.19.0.0/16 in the other
# namespace (a quarter of hosts alive, a few services listening), with no route out.
# Needs root (raw sockets, namespaces). Installs nftables and iproute2 with apt-get
# if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
    echo "run.sh: needs root (raw sockets and network namespaces); try: sudo $0 $*" >&2
    exit 1
fi
need=()
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    echo "run.sh: installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --quiet
bin=$PWD/target/release/synsweep

if (($#)); then
    exec "$bin" scan "$@"
fi

name=demo$$
name=${name:0:13}
out=$PWD/synsweep-demo
mkdir -p "$out"
trap 'scripts/lab.sh down "$name" >/dev/null 2>&1 || true' EXIT
# Alive: one host in 64 (address & 0.0.0.63 == 0), like a sparse internet block.
# ssh, http and https on every alive host; the rest on some: telnet on 1 in 8,
# RDP on 1 in 4, redis on 1 in 16, SMB on 1 in 4, MySQL on 1 in 2.
eval "$(scripts/lab.sh up "$name" --ports 22,23,80,443,445,3306,3389,6379 --alive-mask 0.0.0.63 --alive-value 0.0.0.0 \
    --only 23:0.0.7.0:0.0.0.0 --only 3389:0.0.3.0:0.0.1.0 --only 6379:0.0.15.0:0.0.2.0 \
    --only 445:0.0.0.255:0.0.0.128 --only 3306:0.0.0.64:0.0.0.64)"
echo "lab: scanner namespace $scanner_ns; simulated internet 198.19.0.0/18 behind it, one host in 64 alive" >&2
# No -p: the risk catalog's ports.
scripts/lab.sh exec "$name" -- "$bin" scan 198.19.0.0/18 \
    --rate 250k --retries 1 --wait 2 \
    -o "$out/findings.ndjson" -o "$out/report.html" -o "$out/findings.csv"
echo "findings: $out/findings.ndjson  report: $out/report.html  csv: $out/findings.csv" >&2
