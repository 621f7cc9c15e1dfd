#!/usr/bin/env bash
# The webhook handler on PostgreSQL as Lambda runs it (one delivery at a time, the function's
# pool of 2 connections, durable commits): statements and round trips per delivery, and the
# handler's p50/p99. A private cluster with PostgreSQL's default durability (fsync and
# synchronous_commit on) is started for it.   DELIVERIES (2000 of each kind)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/services.sh
cargo build --release -q -p testkit --bin bench-pg-webhook
start_postgres durable
PG_LOG="$(dirname "$PG_CTL")/log" target/release/bench-pg-webhook "$PG_URL" "${DELIVERIES:-2000}"
