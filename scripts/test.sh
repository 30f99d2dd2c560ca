#!/usr/bin/env bash
# Run synsweep's tests on a fresh machine: install what they need (as root,
# with apt-get, only what is missing), then `cargo test --release`.
#
#   scripts/test.sh [CARGO TEST ARGS...]     e.g. scripts/test.sh --test scan_lab
#
# The lab tests build network namespaces (root), the format tests validate nmap
# XML with xmllint against nmap's DTD (nmap-common) and render the HTML report
# in headless Chromium, the UDP lab sends probes to real dnsmasq, snmpd and
# memcached. They fail, never skip, when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(nftables iproute2 libxml2-utils nmap-common chromium python3 dnsmasq-base snmpd memcached)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    if [[ $EUID -ne 0 ]]; then
        echo "test.sh: missing packages ${missing[*]}; run as root (the lab tests need root anyway)" >&2
        exit 1
    fi
    echo "test.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
exec cargo test --release "$@"
