#!/usr/bin/env bash
# Start-up cost of a long target list: synsweep --dry-run over a targets file
# of N scattered addresses (default 1,000,000) next to masscan reading the same
# file, wall time and peak RSS (/usr/bin/time -v) side by side.
#
#   scripts/bench_targets.sh [--lines N] [--skip-build] [--keep FILE]
#
# SAFETY: the file holds only lab addresses (DESIGN.md, "The lab"): IPv4
# singletons from 198.18.0.0/15 (every other address of its 131,072, in random
# order: 65,536 lines) and, for the rest, scattered single IPv6 addresses of
# 2001:2::/48 (all inside 2001:2::/64, the lab's routed IPv6 prefix, so that
# every line goes through route lookup and the split into paths). Both tools run inside a fresh lab namespace (scripts/lab.sh,
# shape veth: no route out of the lab) and neither sends a packet:
# synsweep with --dry-run (no ARP, no neighbour solicitation), masscan with
# --echo (it reads and parses its whole configuration, -iL file included,
# prints it and exits without opening the adapter; masscan(8), "--echo").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lab="$here/lab.sh"
lines=1000000 build=1 keep=""
while (($#)); do
    case "$1" in
        --lines) lines=${2:?}; shift 2 ;;
        --skip-build) build=0; shift ;;
        --keep) keep=${2:?}; shift 2 ;;
        *) echo "usage: $0 [--lines N] [--skip-build] [--keep FILE]" >&2; exit 2 ;;
    esac
done
[[ $EUID -eq 0 ]] || { echo "bench_targets.sh: must run as root (network namespaces)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench_targets.sh: /usr/bin/time not found (Debian package time)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench_targets.sh: python3 not found" >&2; exit 1; }
have_masscan=1
command -v masscan >/dev/null || { have_masscan=0; echo "bench_targets.sh: masscan not found: synsweep only" >&2; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin="$CARGO_TARGET_DIR/release/synsweep"
work=$(mktemp -d /tmp/synsweep-bench-targets.XXXXXX)
name="bt$$"
cleanup() {
    "$lab" down "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((build)); then
    (cd "$root" && cargo build --release --quiet)
fi

file=${keep:-$work/targets.txt}
# Lab addresses only (see SAFETY above). A --keep file that already holds
# --lines lines is reused, after checking that it holds lab addresses only.
if [[ -n "$keep" && -s "$keep" && $(wc -l <"$keep") -eq $lines ]]; then
python3 - "$keep" <<'EOF'
import ipaddress, sys
nets = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:2::/48")]
for line in open(sys.argv[1]):
    ip = ipaddress.ip_address(line.strip())
    assert any(ip.version == n.version and ip in n for n in nets), line
EOF
else
python3 - "$lines" "$file" <<'EOF'
import ipaddress, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(21)
base4 = int(ipaddress.IPv4Address("198.18.0.0"))      # 198.18.0.0/15
v4 = [base4 + 2 * i for i in range(min(n, 65536))]      # every other address
base6 = int(ipaddress.IPv6Address("2001:2::"))          # 2001:2::/64 (in /48)
seen = set()
while len(seen) < n - len(v4):
    seen.add(rng.getrandbits(64))
lines = [str(ipaddress.IPv4Address(a)) for a in v4]
lines += [str(ipaddress.IPv6Address(base6 | h)) for h in seen]
rng.shuffle(lines)
for a in lines:
    ip = ipaddress.ip_address(a)
    assert ip in ipaddress.ip_network("198.18.0.0/15") or ip in ipaddress.ip_network("2001:2::/48")
with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
EOF
fi
echo "bench_targets: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "file: $(wc -l <"$file") lines, $(du -m "$file" | cut -f1) MB (IPv4 singletons of 198.18.0.0/15, IPv6 singletons of 2001:2::/64)"

eval "$("$lab" up "$name" --ipv6 --owner $$)"
ns=$scanner_ns

# Prints "wall_seconds max_rss_mb exit_status" of a command run in the lab.
measure() {
    local out="$work/time.$1"; shift
    local rc=0
    ip netns exec "$ns" /usr/bin/time -v -o "$out" "$@" >/dev/null 2>"$out.err" || rc=$?
    awk -v rc="$rc" '
        /Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
        /Maximum resident set size/ { rss = $NF / 1024 }
        END { printf "%.2f %.1f %d\n", s, rss, rc }' "$out"
}

read -r s_wall s_rss s_rc < <(measure synsweep "$bin" scan --dry-run --quiet -p 80 --targets-file "$file")
printf '%-34s %8s %9s %5s\n' tool "wall s" "max RSS MB" exit
printf '%-34s %8s %9s %5d\n' "synsweep --dry-run --targets-file" "$s_wall" "$s_rss" "$s_rc"
if ((s_rc != 0)); then sed 's/^/  synsweep: /' "$work/time.synsweep.err" | tail -n 3; fi
if ((have_masscan)); then
    read -r m_wall m_rss m_rc < <(measure masscan masscan --echo -p 80 -iL "$file")
    printf '%-34s %8s %9s %5d\n' "masscan --echo -iL" "$m_wall" "$m_rss" "$m_rc"
    if ((m_rc != 0)); then sed 's/^/  masscan: /' "$work/time.masscan.err" | tail -n 3; fi
fi
