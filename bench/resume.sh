#!/usr/bin/env bash
# A large import cut into Lambda-sized runs, at real GitHub latency: ISSUES issues (and
# COMMENTS comments spread over them) from the local GitHub-speaking server answering every
# request after LATENCY_MS, synced by
# `ghsync reconcile --once --project P --time-limit RUN_S` (SQLite, release build) until a
# run reports "complete": true. Prints the runs needed, the GitHub requests in all (from the
# runs' own reports), the wall time, and then the size of the management API's task pages
# over the imported board (`ghsync serve` on the same database).
set -euo pipefail
cd "$(dirname "$0")/.."
ISSUES=${ISSUES:-100000}; COMMENTS=${COMMENTS:-0}; LATENCY_MS=${LATENCY_MS:-300}; RUN_S=${RUN_S:-60}; PORT=${PORT:-7110}; TOKEN=bench-token
out=$(mktemp -d /tmp/ghsync-resume.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT

cargo build --release -q -p ghsync -p testkit --bins
target/release/fake-github --port "$PORT" --repo acme/big --token $TOKEN --issues "$ISSUES" --prs 0 --comments "$COMMENTS" \
  --latency-ms "$LATENCY_MS" >"$out/gh.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 3000); do grep -q listening "$out/gh.log" 2>/dev/null && break; sleep 0.1; done

export GHSYNC_DATABASE_URL="sqlite://$out/ghsync.db?mode=rwc" GITHUB_API_URL="http://127.0.0.1:$PORT"
export GHSYNC_LOCAL_KEY=$(printf '22%.0s' $(seq 32)) RUST_LOG=warn
project=$(target/release/ghsync project create --name bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo -n $TOKEN | target/release/ghsync config set --project "$project" --repo acme/big >/dev/null

echo "import of $ISSUES issues and $COMMENTS comments at ${LATENCY_MS} ms per request, runs of ${RUN_S} s, $(nproc) cores"
started=$(date +%s.%N); runs=0; requests=0
while :; do
  runs=$((runs + 1))
  target/release/ghsync reconcile --once --project "$project" --time-limit "$RUN_S" >"$out/run.json"
  read -r complete n pages created comments <<<"$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); h=r["history"]; print(str(r["complete"]).lower(), r["requests"], h["pages_fetched"], h["tasks_created"], h["comments"]["created"])' "$out/run.json")"
  requests=$((requests + n))
  echo "run $runs: complete=$complete requests=$n pages=$pages tasks_created=$created comments_created=$comments"
  [ "$complete" = true ] && break
  [ "$runs" -ge 200 ] && { echo "no end after 200 runs" >&2; exit 1; }
done
wall=$(python3 -c "import time,sys; print(round(time.time() - float(sys.argv[1]), 1))" "$started")
tasks=$(target/release/ghsync tasks --project "$project" --limit 1 | python3 -c 'import json,sys; json.load(sys.stdin)' && \
  python3 - "$out/ghsync.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
PY
)
stored_comments=$(python3 - "$out/ghsync.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM task_comments").fetchone()[0])
PY
)
pages=$(( (ISSUES + 99) / 100 + (COMMENTS + 99) / 100 ))
echo "runs=$runs requests=$requests wall_s=$wall tasks=$tasks comments=$stored_comments (one uninterrupted pass: $pages list requests; bound 1.05 x $pages + runs = $(python3 -c "print(int(1.05 * $pages) + $runs)"))"

# The API's task pages over that board.
listen_port=$((PORT + 1))
GHSYNC_LISTEN=127.0.0.1:$listen_port GHSYNC_API_TOKEN=bench-api-token GHSYNC_WEBHOOK_SECRET=s \
  target/release/ghsync serve >"$out/serve.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$listen_port/healthz" >/dev/null && break; sleep 0.1; done
for limit in 100 500; do
  bytes=$(curl -sf -H 'authorization: Bearer bench-api-token' \
    "http://127.0.0.1:$listen_port/api/projects/$project/tasks?limit=$limit" | wc -c)
  echo "GET /api/projects/{id}/tasks?limit=$limit: $bytes bytes"
done
