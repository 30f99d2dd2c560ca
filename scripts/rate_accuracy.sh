#!/usr/bin/env bash
# How close synsweep's send rate comes to --rate, from 100 pps to the machine's
# limit. Runs in a sink lab (scripts/lab.sh --sink: the target drops every frame),
# stops each run with SIGINT after a few seconds, and reads the probes sent and
# the sending time from the summary line. Prints requested, achieved, error.
#
#   scripts/rate_accuracy.sh [SECONDS_PER_RATE] [RATES...]
#   default: 5 s each at 100 1000 10000 100000 500000 max
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}; shift || true
rates=("$@"); ((${#rates[@]})) || rates=(100 1000 10000 100000 500000 max)
cargo build --release --quiet
bin=$PWD/target/release/synsweep
name=rate$$; name=${name:0:13}
work=$(mktemp -d)
trap 'scripts/lab.sh down "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$(scripts/lab.sh up "$name" --sink)"
printf '%-10s %12s %12s %8s\n' requested achieved probes error
for r in "${rates[@]}"; do
    line=$(cd "$work" && timeout -k 10 -s INT "$secs" ip netns exec "$scanner_ns" "$bin" scan 198.19.0.0/16 -p 1-65535 \
        --rate "$r" --wait 0 --seed 1 -i "$scanner_iface" --router-mac "$router_mac" -o /dev/null 2>&1 | tail -1 || true)
    probes=$(sed -n 's/^synsweep: \([0-9]*\) probes.*/\1/p' <<<"$line")
    secs_sent=$(sed -n 's/.* in \([0-9.]*\)s .*/\1/p' <<<"$line")
    achieved=$(sed -n 's/.*(\([0-9.]* [kM]*pps\) while sending).*/\1/p' <<<"$line")
    if [[ -z $probes ]]; then echo "$r: no summary line: $line" >&2; continue; fi
    err=$(python3 -c "
import sys
r='$r'; a='$achieved'.split()
v=float(a[0])*{'pps':1,'kpps':1e3,'Mpps':1e6}[a[1]]
print('-' if r=='max' else '%+.2f%%' % ((v-float(r))/float(r)*100))")
    printf '%-10s %12s %12s %8s\n' "$r" "$achieved" "$probes" "$err"
    rm -f "$work/paused.json"
done
