#!/usr/bin/env bash
# Runs one fuzz target for a while on one core, at the lowest priority.
#
#   fuzz/run.sh TARGET [SECONDS]        (default 240 s)
#
# Seeds fuzz/corpus/TARGET first (fuzz/seed_corpus.py) when it is empty. cargo-fuzz needs
# nightly features; on a stable toolchain RUSTC_BOOTSTRAP=1 allows them. One fuzzing process
# at a time (-fork=1) that goes on after a crash, a timeout or an out-of-memory (each is saved
# under fuzz/artifacts/TARGET/), so one run collects every finding instead of the first.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET [SECONDS]}
secs=${2:-240}

case $target in
  pgdump_scrub) extra=(-max_len=16384 -dict=dict/pgdump.dict) ;;
  mysqldump_scrub) extra=(-max_len=16384 -dict=dict/mysqldump.dict) ;;
  csv_scrub) extra=(-max_len=65536 -dict=dict/csv.dict) ;;
  jsonl_scrub) extra=(-max_len=65536 -dict=dict/jsonl.dict) ;;
  # Mutations must not cut the seeds (small valid files) down to the growing length limit.
  parquet_scrub) extra=(-max_len=65536 -len_control=0 -dict=dict/parquet.dict) ;;
  pg_copy_roundtrip | codec_roundtrip) extra=(-max_len=4096) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac

if [ -z "$(ls -A "corpus/$target" 2>/dev/null)" ]; then
  python3 seed_corpus.py
fi

# Built by cargo-fuzz, then run directly: after a crash `cargo fuzz run` re-runs the input
# through `cargo run` with another profile setting, which rebuilds the whole crate graph.
RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz build "$target"
mkdir -p "artifacts/$target"
# Notes of the harness (races, caught upstream panics): see fuzz_targets/common/mod.rs.
export PHISCRUB_FUZZ_NOTES=${PHISCRUB_FUZZ_NOTES:-$PWD/artifacts/$target/notes.log}
nice -n 19 "target/x86_64-unknown-linux-gnu/release/$target" \
  -artifact_prefix="artifacts/$target/" -timeout=10 -max_total_time="$secs" -fork=1 \
  -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -print_final_stats=1 "${extra[@]}" \
  "corpus/$target"
