#!/bin/sh
# Fuzz the reply path (frame -> wire::reply parsers -> correlator) for a
# fixed number of inputs. libFuzzer through cargo-fuzz, on stable rustc:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags, and `-s none` builds
# without a sanitizer (Rust is memory safe here; the target checks panics
# and the correlator's invariants).
#
#   scripts/fuzz.sh [RUNS]          default 5000000 inputs (about 15 s after the build)
#
# Needs cargo-fuzz (cargo install cargo-fuzz --locked). Exit status non-zero
# on a crash; the failing input is left in fuzz/artifacts/reply_path/.
set -eu
runs=${1:-5000000}
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null 2>&1 || {
    echo "fuzz.sh: cargo-fuzz not found: cargo install cargo-fuzz --locked" >&2
    exit 1
}
mkdir -p fuzz/corpus/reply_path
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/fuzz/target}"
exec cargo fuzz run -s none reply_path fuzz/corpus/reply_path fuzz/seeds/reply_path -- \
    -runs="$runs" -max_len=512 -seed=1 -print_final_stats=1
