#!/usr/bin/env bash
# Runs ghsync's whole test suite. Real peers, started here when not given:
#   GHSYNC_TEST_POSTGRES_URL  an admin URL of a PostgreSQL server (else a private cluster is
#                             started on a free loopback port and removed afterwards)
#   GHSYNC_TEST_KMS_URL       a KMS-compatible endpoint (else moto's server is started from
#                             .venv, which `pip install moto[server]` creates on first use)
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/services.sh

if [ -z "${GHSYNC_TEST_POSTGRES_URL:-}" ]; then
  start_postgres
fi
if [ -z "${GHSYNC_TEST_KMS_URL:-}" ]; then
  start_kms
fi
export GHSYNC_TEST_POSTGRES_URL GHSYNC_TEST_KMS_URL
# The API test writes the OpenAPI document here; it is validated after the tests.
export GHSYNC_OPENAPI_OUT=$(mktemp /tmp/ghsync-openapi.XXXXXX.json)

cargo test --workspace --locked "$@"

if [ -s "$GHSYNC_OPENAPI_OUT" ]; then
  ensure_python_tools
  "$venv/bin/openapi-spec-validator" "$GHSYNC_OPENAPI_OUT"
fi
rm -f "$GHSYNC_OPENAPI_OUT"
