#!/usr/bin/env bash
# test.sh — the whole gluster-rs test suite, as root on Debian 12: installs what the tests need,
# starts glusterd, checks formatting and lints, then runs every test (unit, property, and the
# integration tests against real glusterd, bricks, kernel FUSE mounts and the C client).
#
# Usage: sudo scripts/test.sh        (the README's test command; .ci/run runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== build the release mount helper (mount -t gluster-rs in the tests)"
cargo build --release -p mount-gluster-rs
bash scripts/install-mount-helper.sh --no-build
echo "== cargo test"
# Integration tests create and destroy their own volumes and mounts; two at a time keep the
# 2-core machine responsive. The replicate tests stop and kill bricks and time a stopped brick,
# so they run one at a time.
cargo test --workspace --exclude afr --no-fail-fast -- --test-threads=2
cargo test -p afr --no-fail-fast -- --test-threads=1
