#!/usr/bin/env bash
# Webhook throughput and latency over loopback HTTP: `ghsync serve` on SQLite and on
# PostgreSQL (see below) beside the Node.js peer of ../shared/peers,
# with the same signed ~12 KB `issues` deliveries (fresh X-GitHub-Delivery per request), the
# same tool (wrk) and the same settings, one after the other in one run.
#   CONNECTIONS (32)  THREADS (2)  DURATION (10s)  PAYLOADS (2000 distinct issues)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
C=${CONNECTIONS:-32}; T=${THREADS:-2}; D=${DURATION:-10s}; N=${PAYLOADS:-2000}
SECRET=bench-secret
. scripts/services.sh
out=$(mktemp -d /tmp/ghsync-bench.XXXXXX)
_cleanup+=("rm -rf $out")

cargo build --release -q -p ghsync
cargo build --release -q -p testkit --bin bench-payloads
target/release/bench-payloads "$N" "$SECRET" acme/widgets > "$out/deliveries.lua"

wait_http() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

load() { # name url
  wrk -t"$T" -c"$C" -d2s -s "$out/deliveries.lua" "$2" >/dev/null   # warm-up
  local line
  line=$(wrk -t"$T" -c"$C" -d"$D" --latency -s "$out/deliveries.lua" "$2" | grep '^p50_ms')
  printf '%-22s %s\n' "$1" "$line"
}

# One project following acme/widgets (the PAT blob is never opened by the webhook path).
seed_sql() { # project-id pat-literal
  local now="2026-01-05T10:00:00.000Z"
  echo "INSERT INTO projects (id, name, created_at, updated_at) VALUES ('$1', 'bench', '$now', '$now');
INSERT INTO github_sync_config (id, project_id, repo_owner, repo_name, encrypted_pat, created_at, updated_at)
VALUES ('$(python3 -c 'import uuid; print(uuid.uuid4())')', '$1', 'acme', 'widgets', $2, '$now', '$now');"
}
project_id=$(python3 -c 'import uuid; print(uuid.uuid4())')
seed_sqlite() { # db
  python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.executescript(sys.stdin.read())' "$1" \
    < <(seed_sql "$project_id" "x'020000'")
}
seed_postgres() { # url
  "$(find_pg_bin)/psql" -q "$1" -c "$(seed_sql "$project_id" "decode('020000', 'hex')")"
}

run_ghsync() { # name database-url
  local port=7091
  GHSYNC_DATABASE_URL="$2" target/release/ghsync migrate >/dev/null 2>&1
  GHSYNC_DATABASE_URL="$2" GHSYNC_WEBHOOK_SECRET=$SECRET GHSYNC_API_TOKEN=bench GHSYNC_LOCAL_KEY=$(printf '11%.0s' $(seq 32)) \
    GHSYNC_LISTEN=127.0.0.1:$port RUST_LOG=warn target/release/ghsync serve >"$out/$1.log" 2>&1 &
  local pid=$!; _cleanup+=("kill $pid 2>/dev/null")
  wait_http "http://127.0.0.1:$port/healthz"
  load "$1" "http://127.0.0.1:$port/webhooks/github"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "wrk -t$T -c$C -d$D, $N distinct ~$(( $(sed -n 4p "$out/deliveries.lua" | wc -c) / 1024 )) KB deliveries, $(nproc) cores"
db="$out/ghsync.db"
GHSYNC_DATABASE_URL="sqlite://$db?mode=rwc" target/release/ghsync migrate >/dev/null 2>&1
seed_sqlite "$db"
run_ghsync "ghsync (SQLite)" "sqlite://$db?mode=rwc"

# PostgreSQL: BENCH_POSTGRES_URL (an empty database), else a private cluster with PostgreSQL's
# default durability (fsync and synchronous commit on), when PostgreSQL is installed.
if [ -z "${BENCH_POSTGRES_URL:-}" ] && find_pg_bin >/dev/null; then
  start_postgres durable >/dev/null
  BENCH_POSTGRES_URL=$PG_URL
fi
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  GHSYNC_DATABASE_URL="$BENCH_POSTGRES_URL" target/release/ghsync migrate >/dev/null 2>&1
  seed_postgres "$BENCH_POSTGRES_URL"
  run_ghsync "ghsync (PostgreSQL)" "$BENCH_POSTGRES_URL"
fi

peer="$root/../shared/peers/node-webhook"
if [ -d "$peer" ] && command -v node >/dev/null; then
  DB="$out/node-peer.db" SEED_REPO=acme/widgets PORT=7090 SECRET=$SECRET \
    bash -c "cd '$peer' && exec ./run.sh" >"$out/node.log" 2>&1 &
  _cleanup+=("kill $! 2>/dev/null")
  for _ in $(seq 1 600); do grep -q "node peer on" "$out/node.log" 2>/dev/null && break; sleep 0.1; done
  load "node peer (SQLite)" "http://127.0.0.1:7090/webhooks/github"
fi
