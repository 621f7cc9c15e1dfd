#!/usr/bin/env bash
# Reconcile: an initial import of ISSUES issues (+ PRS pull requests) from the local
# GitHub-speaking server, then an unchanged pass, then a pass after 1% of the issues changed —
# `ghsync reconcile --once --project` (SQLite) beside the Node.js peer of ../shared/peers
# (@octokit/rest paginate + better-sqlite3), against the same server in the same run.
# Wall time and peak RSS come from GNU time; request counts from each tool's own report.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
ISSUES=${ISSUES:-10000}; PRS=${PRS:-100}; PORT=${PORT:-7100}; TOKEN=bench-token
out=$(mktemp -d /tmp/ghsync-rbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT

cargo build --release -q -p ghsync
cargo build --release -q -p testkit --bin fake-github
target/release/fake-github --port "$PORT" --repo acme/big --token $TOKEN --issues "$ISSUES" --prs "$PRS" >"$out/gh.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 1200); do grep -q listening "$out/gh.log" 2>/dev/null && break; sleep 0.1; done

export GHSYNC_DATABASE_URL="sqlite://$out/ghsync.db?mode=rwc" GITHUB_API_URL="http://127.0.0.1:$PORT"
export GHSYNC_LOCAL_KEY=$(printf '22%.0s' $(seq 32)) RUST_LOG=warn
project=$(target/release/ghsync project create --name bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo -n $TOKEN | target/release/ghsync config set --project "$project" --repo acme/big >/dev/null

measure() { # label command...
  /usr/bin/time -f '%e %M' -o "$out/time" "${@:2}" >"$out/stdout"
  read -r wall rss <"$out/time"
  printf '%-34s wall_s=%-6s peak_rss_mb=%-5s %s\n' "$1" "$wall" "$((rss / 1024))" "$(python3 "$root/bench/summarize.py" <"$out/stdout")"
}

change_one_percent() { # updated_at
  python3 - "$PORT" "$ISSUES" "$1" <<'PY'
import json, sys, urllib.request
port, issues, at = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
numbers = list(range(1, issues + 1, 100))  # 1%
req = urllib.request.Request(f"http://127.0.0.1:{port}/_fake/touch", method="POST",
    data=json.dumps({"repo": "acme/big", "numbers": numbers, "updated_at": at}).encode(),
    headers={"content-type": "application/json"})
urllib.request.urlopen(req).read()
PY
}

echo "initial import of $ISSUES issues + $PRS pull requests, $(nproc) cores"
measure "ghsync initial import" target/release/ghsync reconcile --once --project "$project"
measure "ghsync unchanged pass" target/release/ghsync reconcile --once --project "$project"
measure "ghsync second unchanged pass" target/release/ghsync reconcile --once --project "$project"
change_one_percent 2026-02-01T00:00:00Z
measure "ghsync pass after 1% changed" target/release/ghsync reconcile --once --project "$project"

peer="$root/../shared/peers/node-reconcile"
if [ -d "$peer" ] && command -v node >/dev/null; then
  export REPO=acme/big GITHUB_TOKEN=$TOKEN DB="$out/peer.db"
  measure "node peer initial import" bash -c "cd '$peer' && exec ./run.sh"
  measure "node peer unchanged pass" bash -c "cd '$peer' && exec ./run.sh"
  change_one_percent 2026-02-02T00:00:00Z
  measure "node peer pass after 1% changed" bash -c "cd '$peer' && exec ./run.sh"
fi
