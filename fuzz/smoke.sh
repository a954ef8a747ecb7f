#!/usr/bin/env bash
# Runs every cargo-fuzz target for N seconds each (default 20), on stable
# (no sanitizer). Usage: fuzz/smoke.sh [SECONDS]
# Needs cargo-fuzz: cargo install cargo-fuzz --locked
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"
if ! command -v cargo-fuzz >/dev/null; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 1
fi
for target in $(cargo fuzz list); do
    echo "== fuzz $target for ${secs}s"
    mkdir -p "corpus/$target"
    # An input that runs past two minutes is a hang: fail now, not after
    # libFuzzer's default twenty.
    cargo fuzz run -s none "$target" "corpus/$target" -- -max_total_time="$secs" -timeout=120
done
