#!/usr/bin/env bash
# What a local edit costs the person who makes it: `PATCH /api/tasks/{id}` against
# `ghsync serve` (SQLite) and the GitHub stand-in answering every request after LATENCY_MS
# (GitHub-like), one-way (nothing pushed) and two-way (the edit is on GitHub when the API
# answers: one read and one write). Prints p50/p90/max of EDITS sequential edits each.
#   LATENCY_MS (300)  EDITS (40)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
LATENCY=${LATENCY_MS:-300}; EDITS=${EDITS:-40}
TOKEN=ghp_bench_push; API=bench
. scripts/services.sh
out=$(mktemp -d /tmp/ghsync-bench.XXXXXX)
_cleanup+=("rm -rf $out")

cargo build --release -q -p ghsync -p testkit --bin ghsync --bin fake-github
gh_port=$(free_port)
target/release/fake-github --port "$gh_port" --repo acme/widgets --token $TOKEN --issues 20 --prs 0 \
  --latency-ms "$LATENCY" >"$out/gh.log" 2>&1 &
_cleanup+=("kill $!")
wait_port "$gh_port" fake-github
start_serve "$gh_port"
follow_repo widgets
for _ in $(seq 1 100); do
  n=$(call "$base/projects/$project/tasks" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
  [ "$n" = 20 ] && break; sleep 0.2
done
task=$(call "$base/projects/$project/tasks?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

edits() { # label
  for i in $(seq 1 "$EDITS"); do
    call -o /dev/null -w '%{time_total}\n' -X PATCH "$base/tasks/$task" -d "{\"title\":\"$1 edit $i\"}"
  done | python3 -c '
import sys
t = sorted(float(x) * 1000 for x in sys.stdin)
pick = lambda q: t[min(len(t) - 1, int(q * len(t)))]
print(f"{sys.argv[1]:<9} edits={len(t)} p50_ms={pick(0.5):.1f} p90_ms={pick(0.9):.1f} max_ms={t[-1]:.1f}")' "$1"
}
echo "GitHub latency: ${LATENCY} ms per request"
edits one-way
call -X PUT "$base/projects/$project/github-sync" -d '{"repo_owner":"acme","repo_name":"widgets","two_way":true}' >/dev/null
edits two-way
curl -sf -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$gh_port/repos/acme/widgets/issues/1" \
  | python3 -c 'import json,sys; print("on GitHub:", json.load(sys.stdin)["title"])'
