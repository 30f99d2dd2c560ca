#!/bin/sh
# Fuzz for a fixed number of inputs, split between the two targets: the
# reply path (frame -> wire::reply parsers -> correlator) gets 70% of them,
# the identification sessions (sequences of segments and ticks through
# identify::session) 30%. libFuzzer through cargo-fuzz, on stable rustc:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags, and `-s none` builds
# without a sanitizer (Rust is memory safe here; the targets check panics
# and the invariants of the correlator and of the session table).
#
#   scripts/fuzz.sh [RUNS]          default 5000000 inputs in all
#
# Needs cargo-fuzz (cargo install cargo-fuzz --locked). Exit status non-zero
# on a crash; the failing input is left in fuzz/artifacts/<target>/.
set -eu
runs=${1:-5000000}
reply_runs=$((runs * 7 / 10))
session_runs=$((runs - reply_runs))
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null 2>&1 || {
    echo "fuzz.sh: cargo-fuzz not found: cargo install cargo-fuzz --locked" >&2
    exit 1
}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/fuzz/target}"
run() { # target runs max_len
    mkdir -p "fuzz/corpus/$1"
    cargo fuzz run -s none "$1" "fuzz/corpus/$1" "fuzz/seeds/$1" -- \
        -runs="$2" -max_len="$3" -seed=1 -print_final_stats=1
}
run reply_path "$reply_runs" 512
run session "$session_runs" 1024
