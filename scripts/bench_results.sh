#!/usr/bin/env bash
# Memory and time of synsweep's outputs at 1.3M findings: peak RSS
# (/usr/bin/time -v) and wall time of `report` to HTML, JSON, nmap XML and CSV,
# and of `merge` of three overlapping files; and of the scan side's document
# writers (spill, sort, render) fed the same number of findings.
#
#   scripts/bench_results.sh [--skip-build] [--keep DIR]
#
# The findings are synthetic (no packets are sent): every host of
# 198.19.0.0/16 open on ports 1-20, 1,310,720 records, as the all-answering lab
# of the issue produces them. They are written as minimal records and turned
# into full ones (service, category, advice) by `synsweep report`, which is
# measured too. The three merge inputs overlap: A holds the first two thirds,
# B the last two thirds, C every third record (with a later time, so merge
# must keep the earlier copies).
#
# Targets: every step at most 128 MiB peak; the HTML report at most 5 MB.
# Disk: about 2 GB in the work directory (a temp dir beside the repo unless --keep).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=1 keep=""
while (($#)); do
    case "$1" in
        --skip-build) build=0; shift ;;
        --keep) keep=${2:?}; shift 2 ;;
        *) echo "usage: $0 [--skip-build] [--keep DIR]" >&2; exit 2 ;;
    esac
done
for t in python3 /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "bench_results.sh: $t not found (apt-get install time python3)" >&2; exit 1; }
done
if ((build)); then
    (cd "$root" && cargo build --release --quiet && cargo build --release --quiet --example document_writer)
fi
bin="$root/target/release/synsweep"
if [[ -n $keep ]]; then
    work=$keep; mkdir -p "$work"
else
    work=$(mktemp -d "$root/target/bench-results.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
cd "$work"

echo "generating 198.19.0.0/16 x ports 1-20 (1,310,720 findings) in $work" >&2
python3 - <<'EOF'
import sys
out = open("raw.ndjson", "w", buffering=1 << 20)
ms = 0
for a in range(256):
    for b in range(256):
        for p in range(1, 21):
            ms += 1
            s, m = divmod(ms, 1000)
            out.write('{"ip":"198.19.%d.%d","port":%d,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"ts":"2026-11-22T02:%02d:%02d.%03dZ"}\n'
                      % (a, b, p, (s // 60) % 60, s % 60, m))
out.close()
EOF

# measure NAME OUTPUT CMD...: one row of the table.
printf '%-34s %12s %10s %14s\n' step "peak RSS" "wall" "output" > results.txt
measure() {
    local name=$1 out=$2; shift 2
    /usr/bin/time -v -o time.txt "$@" 2> stderr.txt || { cat stderr.txt time.txt >&2; exit 1; }
    local rss wall size
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f MiB", $2/1024}' time.txt)
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' time.txt)
    size=$(stat -c %s "$out" | awk '{printf "%.1f MB", $1/1e6}')
    printf '%-34s %12s %10s %14s\n' "$name" "$rss" "$wall" "$size" | tee -a results.txt >&2
}

measure "report -> NDJSON (annotate)" all.ndjson "$bin" report raw.ndjson -o all.ndjson
measure "report -> HTML" r.html "$bin" report all.ndjson -o r.html
measure "report -> JSON" r.json "$bin" report all.ndjson -o r.json
measure "report -> nmap XML" r.xml "$bin" report all.ndjson -o r.xml
measure "report -> CSV" r.csv "$bin" report all.ndjson -o r.csv

n=$(wc -l < all.ndjson)
head -n $((n * 2 / 3)) all.ndjson > A.ndjson
tail -n $((n * 2 / 3)) all.ndjson > B.ndjson
awk 'NR % 3 == 0 { sub(/"ts":"2026-11-22T02:/, "\"ts\":\"2026-11-22T03:"); print }' all.ndjson > C.ndjson
measure "merge A B C (overlapping)" m.ndjson "$bin" merge A.ndjson B.ndjson C.ndjson -o m.ndjson
# The scan side: a document writer fed one finding at a time (spill, then
# sort and render at finish), as a scan feeds it (examples/document_writer.rs).
for ext in html json xml; do
    measure "scan-side writer -> .$ext" "d.$ext" "$root/target/release/examples/document_writer" "$n" "d.$ext"
done
[[ $(wc -l < m.ndjson) -eq $n ]] || { echo "merge kept $(wc -l < m.ndjson) records, expected $n" >&2; exit 1; }
cmp -s m.ndjson all.ndjson || { echo "merge output differs from the deduplicated input" >&2; exit 1; }

echo >&2
echo "command: $0; $n findings; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)" >&2
cat results.txt
html=$(stat -c %s r.html)
((html <= 5 * 1024 * 1024)) || { echo "HTML report is $html bytes (> 5 MiB)" >&2; exit 1; }
