#!/usr/bin/env bash
# Makes rust-toolchain.toml's pinned Rust available where rustup cannot download it but the
# installed stable toolchain is that version (see ensure_toolchain in scripts/services.sh).
# scripts/test.sh and .ci/run do this themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/services.sh
ensure_toolchain
