#!/usr/bin/env bash
# Set up and run synsweep.
#
#   scripts/run.sh                 build, then scan the demo lab (real daemons in
#                                  network namespaces on this machine) and write a
#                                  findings file and an HTML risk report to ./synsweep-demo/
#   scripts/run.sh SCAN-ARGS...    build, then `synsweep scan SCAN-ARGS...` for real
#
# The demo lab (scripts/demo_lab.sh) is a pair of network namespaces: the
# scanner's only link leads to a simulated internet in the other one, with no
# route out (every packet stays in 198.18.0.0/15 and 2001:2::/48). There, real
# Debian daemons (sshd, nginx with good and bad TLS certificates, vsftpd,
# telnetd, redis, mosquitto, memcached, dnsmasq, snmpd) serve three dozen
# IPv4 hosts of 198.19.0.0/26 and eight IPv6 hosts of 2001:2::/122, some on
# ports where nobody expects them, and one middlebox answers on every port.
# synsweep scans both blocks with its defaults (identification on), on the
# risk catalog's TCP ports and U:53,161,11211. Every daemon is stopped and
# both namespaces are removed when the script ends, also on Ctrl-C.
#
# Needs root (raw sockets, namespaces). Installs what is missing with apt-get
# (the daemons' own services are kept from starting on this machine).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
    echo "run.sh: needs root (raw sockets and network namespaces); try: sudo $0 $*" >&2
    exit 1
fi
pkgs=(nftables iproute2 python3 openssl openssh-server openssh-client nginx redis-server
    vsftpd mosquitto inetutils-telnetd socat memcached dnsmasq-base snmpd)
if (($#)); then pkgs=(nftables iproute2); fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    echo "run.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # The demo starts the daemons it needs in its own namespace: keep the
    # packages' own services from starting on this machine (policy-rc.d,
    # unless the machine has one).
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    rc=0
    { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } || rc=$?
    if [[ -n $own_policy ]]; then rm -f "$policy"; fi
    if ((rc)); then
        echo "run.sh: apt-get failed (exit $rc)" >&2
        exit "$rc"
    fi
fi
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/synsweep

if (($#)); then
    exec "$bin" scan "$@"
fi

name=demo$$
name=${name:0:13}
out=$PWD/synsweep-demo
work=$(mktemp -d /tmp/synsweep-demo.XXXXXX)
cleanup() {
    scripts/demo_lab.sh down "$name" >/dev/null 2>&1 || true
    # An interrupted scan's state (paused.json in $work, the report's spill
    # file next to it) goes too: the demo is rerun, not resumed.
    rm -rf "$work" "$out"/*.spill.ndjson
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$out"
rm -f "$out/findings.ndjson" "$out/report.html" "$out/findings.csv" "$out"/*.spill.ndjson
echo "run.sh: starting the demo lab's daemons" >&2
info=$(DEMO_OWNER=$$ scripts/demo_lab.sh up "$name" "$work/lab")
eval "$info"
echo "run.sh: scanning $targets from namespace $scanner_ns (no route out)" >&2
# The working directory is the temporary one: a paused scan's state (Ctrl-C)
# goes away with it.
root=$PWD
(cd "$work" && "$root/scripts/demo_lab.sh" scan "$name" "$bin" "$out")
scripts/demo_lab.sh summary "$out/findings.ndjson" >&2
echo "findings: $out/findings.ndjson  report: $out/report.html  csv: $out/findings.csv" >&2
