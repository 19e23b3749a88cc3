#!/usr/bin/env bash
# Fuzzes the listener's decoders with cargo-fuzz (libFuzzer): notification
# payloads (anyone who may pg_notify can send them) and attachment rows.
# Usage: scripts/fuzz.sh [seconds per target, default 300]
# The corpus (seeded with real messages) grows in protocol/fuzz/corpus/<target>;
# an input that panics is saved in protocol/fuzz/artifacts/<target>/ and the
# run stops with its backtrace.
set -euo pipefail
cd "$(dirname "$0")/../protocol"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# The machine's toolchain is stable; libFuzzer's instrumentation flags are
# nightly-only, and RUSTC_BOOTSTRAP lets this rustc accept them.
export RUSTC_BOOTSTRAP=1
seconds=${1:-300}
for target in notification attachment; do
    cargo fuzz run -O "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1
done
