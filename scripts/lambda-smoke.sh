#!/usr/bin/env bash
# Builds the three Lambda functions with cargo-lambda (release, host architecture), prints
# each binary's size, then runs them locally without Docker: `cargo lambda watch` serves the
# Lambda runtime API on loopback and `cargo lambda invoke` feeds it files from events/,
# checking each answer. The functions use a SQLite file, the local key provider and the
# GitHub-speaking test server.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/services.sh
ensure_python_tools
export PATH="$venv/bin:$PATH"

step() { printf '\n--- %s\n' "$1"; }

step "cargo lambda build --release (host architecture)"
cargo lambda build --release --locked -p ghsync-webhook -p ghsync-api -p ghsync-reconcile
for f in ghsync-webhook ghsync-api ghsync-reconcile; do
  bin="target/lambda/$f/bootstrap"
  python3 -c 'import os,sys; print(f"{sys.argv[1]:<18} {os.path.getsize(sys.argv[2]) / 1048576:7.2f} MiB  {sys.argv[2]}")' "$f" "$bin"
done

step "local smoke test: cargo lambda watch + invoke"
cargo build -q --locked -p ghsync -p testkit --bins
work=$(mktemp -d /tmp/ghsync-smoke.XXXXXX)
_cleanup+=("rm -rf $work")
gh_port=$(free_port)
target/debug/fake-github --port "$gh_port" --repo acme/widgets --token ghp_smoke_token --issues 3 --prs 1 >"$work/gh.log" 2>&1 &
_cleanup+=("kill $!")
wait_port "$gh_port" "fake-github"

# Quoted: cargo-lambda's env-file parser refuses an unquoted `?` or `=` inside a value.
cat >"$work/env" <<ENV
GHSYNC_DATABASE_URL="sqlite://$work/ghsync.db?mode=rwc"
GHSYNC_LOCAL_KEY="$(printf '3c%.0s' $(seq 32))"
GHSYNC_WEBHOOK_SECRET="ghsync-sample-events-secret"
GHSYNC_API_TOKEN="ghsync-sample-api-token"
GITHUB_API_URL="http://127.0.0.1:$gh_port"
RUST_LOG="warn"
ENV
set -a; . "$work/env"; set +a
project=$(target/debug/ghsync project create --name Smoke | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo -n ghp_smoke_token | target/debug/ghsync config set --project "$project" --repo acme/widgets >/dev/null

port=$(free_port)
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --ignore-changes --timeout 120 \
  --env-file "$work/env" </dev/null >"$work/watch.log" 2>&1 &
_cleanup+=("kill $!")
wait_port "$port" "cargo lambda watch" || { cat "$work/watch.log"; exit 1; }

failures=0
invoke() { # function event expected-check(python expression over `r`)
  local out
  out=$(cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "events/$2" 2>&1) || {
    echo "FAIL $1 $2: invoke failed: $out"; failures=$((failures + 1)); return; }
  if python3 -c "import json,sys; r=json.loads(sys.argv[1]); assert $3, r" "$out" 2>/dev/null; then
    echo "ok   $1 $2"
  else
    echo "FAIL $1 $2: $out"; failures=$((failures + 1))
  fi
}
invoke ghsync-webhook webhook-ping.json 'r["statusCode"] == 200'
invoke ghsync-webhook webhook-issues-opened.json 'r["statusCode"] == 200 and "applied" in r["body"]'
invoke ghsync-webhook webhook-issues-opened-base64.json 'r["statusCode"] == 200'
invoke ghsync-webhook webhook-pull-request.json 'r["statusCode"] == 202'
invoke ghsync-webhook webhook-bad-signature.json 'r["statusCode"] == 401'
invoke ghsync-reconcile reconcile-scheduled.json 'r["configs"][0]["history"]["status"] == "success" and r["configs"][0]["history"]["tasks_created"] == 3'
invoke ghsync-reconcile reconcile-scheduled.json 'r["configs"] == []'
invoke ghsync-reconcile reconcile-queue.json 'r["batchItemFailures"] == []'
tasks=$(target/debug/ghsync tasks --project "$project" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$tasks" = 4 ] && echo "ok   4 tasks: 1 from the webhook event, 3 from the reconcile" || { echo "FAIL expected 4 tasks, found $tasks"; failures=$((failures + 1)); }
if [ "$failures" -ne 0 ]; then
  echo "--- cargo lambda watch log"; tail -40 "$work/watch.log"
  exit 1
fi
echo "lambda smoke test: all invocations answered as expected"
