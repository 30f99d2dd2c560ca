#!/usr/bin/env bash
# Run synsweep's tests on a fresh machine: install what they need (as root,
# with apt-get, only what is missing), then `cargo test --release`.
#
#   scripts/test.sh [CARGO TEST ARGS...]     e.g. scripts/test.sh --test scan_lab
#
# Without arguments it runs everything, then the main lab tests again with the
# other sender backend (SYNSWEEP_TEST_SECOND_PASS: packet, the default, or xdp).
#
# The lab tests build network namespaces (root), the format tests validate nmap
# XML with xmllint against nmap's DTD (nmap-common) and render the HTML report
# in headless Chromium, the deployment tests run Slurm's daemons, buildah and
# kubernetes-validate, the UDP lab sends probes to real dnsmasq, snmpd and
# memcached. They fail, never skip, when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# slurm-wlm and munge: a one-node Slurm cluster in a lab (tests/slurm_lab.rs);
# buildah, libcap2-bin and binutils: the container image (tests/container_image.rs);
# python3-venv: kubernetes-validate (PyPI) for the manifests (tests/deploy_manifests.rs);
# openssh-server ... socat: the real daemons of tests/identify_lab.rs,
# tests/identify_ipv6_lab.rs and tests/demo_lab.rs (the demo lab of scripts/run.sh).
# opensmtpd: the SMTP daemon of tests/identify_hostile_lab.rs (scripts/hostile_lab.sh).
# nmap masscan zmap: the other scanners whose results tests/import_lab.rs reads.
# bsdutils: `script`, a terminal for the progress line (tests/progress_cli.rs).
pkgs=(nftables iproute2 procps libxml2-utils nmap-common chromium python3
    slurm-wlm munge buildah libcap2-bin binutils python3-venv
    dnsmasq-base snmpd memcached
    openssh-server openssh-client openssl nginx redis-server vsftpd mosquitto
    inetutils-telnetd socat bsdutils opensmtpd
    nmap masscan zmap)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    if [[ $EUID -ne 0 ]]; then
        echo "test.sh: missing packages ${missing[*]}; run as root (the lab tests need root anyway)" >&2
        exit 1
    fi
    echo "test.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # The labs start the daemons they need in their own namespaces: keep the
    # packages' own services (sshd, nginx, redis, ...) from starting on this
    # machine while they install (policy-rc.d, unless the machine has one).
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    rc=0
    { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } || rc=$?
    if [[ -n $own_policy ]]; then rm -f "$policy"; fi
    if ((rc)); then
        echo "test.sh: apt-get failed (exit $rc)" >&2
        exit "$rc"
    fi
fi
# kubernetes-validate (the official schemas of every Kubernetes version it
# ships) in a virtual environment under target/, where the tests look for it.
KV_VENV=target/tools/venv
KV_VERSION=1.37.0
if ! "$KV_VENV/bin/kubernetes-validate" --version 2>/dev/null | grep -qx "$KV_VERSION"; then
    echo "test.sh: installing kubernetes-validate $KV_VERSION into $KV_VENV" >&2
    python3 -m venv "$KV_VENV"
    "$KV_VENV/bin/pip" install --quiet "kubernetes-validate==$KV_VERSION"
fi
cargo test --release "$@"
# The main lab tests a second time through the other sender: the full run
# above sends through AF_XDP wherever it binds (the default, --tx-backend
# auto); this pass forces AF_PACKET (SYNSWEEP_TEST_TX_BACKEND, read by
# tests/common); SYNSWEEP_TEST_SECOND_PASS=xdp forces AF_XDP instead.
if (($# == 0)); then
    SYNSWEEP_TEST_TX_BACKEND=${SYNSWEEP_TEST_SECOND_PASS:-packet} cargo test --release \
        --test scan_lab --test integrity_loss --test ipv6_lab --test udp_scan_lab \
        --test paths_lab --test shard_lab --test integrity_resume
fi
