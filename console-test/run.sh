#!/usr/bin/env bash
# Runs the console's end-to-end browser test. Needs the already built binaries
# (target/debug/ghsync and target/debug/fake-github); it never runs cargo.
# CONSOLE_DIR=<folder> tests the console files in that folder instead of the embedded copy.
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd .. && pwd)"

for bin in "${GHSYNC_BIN:-$repo/target/debug/ghsync}" "${FAKE_GITHUB_BIN:-$repo/target/debug/fake-github}"; do
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is missing; build it first (cargo build --bin ghsync --bin fake-github)" >&2
    exit 2
  fi
done

if [ ! -x /usr/bin/chromium ]; then
  echo "run.sh: installing chromium (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi

set +e
node --test e2e.mjs
status=$?
set -e
echo "screenshots: $(pwd)/artifacts/"
exit "$status"
