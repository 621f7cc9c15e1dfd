#!/usr/bin/env bash
# Runs ghsync's whole test suite. Real peers, started here when not given:
#   GHSYNC_TEST_POSTGRES_URL  an admin URL of a PostgreSQL server (else a private cluster is
#                             started on a free loopback port and removed afterwards)
#   GHSYNC_TEST_KMS_URL       a KMS-compatible endpoint (else moto's server is started from
#                             .venv, which `pip install moto[server]` creates on first use)
#   GHSYNC_TEST_FAULT_PG_URL, GHSYNC_TEST_FAULT_PG_CTL
#                             a PostgreSQL server the fault tests may stop and start, and the
#                             command that does it (`… stop`, `… start`); else a second
#                             private cluster is started for them
# First the library's module shape is checked (scripts/check-modules.py). Then the OpenAPI
# document is validated, the SAM template is linted and its promises checked
# (scripts/lint-template.sh), and the web console's browser test runs (it
# installs Debian's chromium and playwright-core from npm on first use;
# GHSYNC_SKIP_BROWSER=1 skips it). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/services.sh
ensure_toolchain

if [ -z "${GHSYNC_TEST_POSTGRES_URL:-}" ]; then
  start_postgres
  GHSYNC_TEST_POSTGRES_URL=$PG_URL
fi
if [ -z "${GHSYNC_TEST_FAULT_PG_URL:-}" ]; then
  start_postgres
  GHSYNC_TEST_FAULT_PG_URL=$PG_URL GHSYNC_TEST_FAULT_PG_CTL=$PG_CTL
fi
if [ -z "${GHSYNC_TEST_KMS_URL:-}" ]; then
  start_kms
fi
export GHSYNC_TEST_POSTGRES_URL GHSYNC_TEST_KMS_URL GHSYNC_TEST_FAULT_PG_URL GHSYNC_TEST_FAULT_PG_CTL
# The API test writes the OpenAPI document here; it is validated after the tests.
export GHSYNC_OPENAPI_OUT=$(mktemp /tmp/ghsync-openapi.XXXXXX.json)

# The library's shape: no import circle between its modules, no file over 700 lines before
# its tests (docs/README.md).
python3 scripts/check-modules.py

cargo test --workspace --locked "$@"

if [ -s "$GHSYNC_OPENAPI_OUT" ]; then
  ensure_python_tools
  "$venv/bin/openapi-spec-validator" "$GHSYNC_OPENAPI_OUT"
fi
rm -f "$GHSYNC_OPENAPI_OUT"

ensure_python_tools
scripts/lint-template.sh

# The console's modules type-checked against the API's generated types (tsc --checkJs) and
# their pure parts unit-tested (node --test).
scripts/check-console.sh

# The web console in a real headless browser (Debian's chromium, driven by playwright-core)
# against `ghsync serve` and the GitHub-speaking test server. GHSYNC_SKIP_BROWSER=1 skips it.
if [ -z "${GHSYNC_SKIP_BROWSER:-}" ]; then
  cargo build --locked -q -p ghsync -p testkit --bins
  console-test/run.sh
fi
