#!/usr/bin/env bash
# The binaries that deploy are the binaries that are tested: builds the four Lambda functions
# as the template deploys them (cargo-lambda, release, arm64), prints each binary's size, then
# runs those binaries (under qemu-aarch64 on an x86_64 machine) against cargo-lambda's local
# Lambda runtime API and feeds them the files of events/, checking each answer: the migrate
# function migrates a fresh database first (by hand, then as the Migration custom resource
# answering a stand-in response URL), then the webhook, reconcile and API functions, which
# only check the schema, serve. A SQLite file, the local key provider, the secret and token
# of events/env.json, and the GitHub-speaking test server stand in for AWS and GitHub.
#
# The arm64 standard library: rustup's aarch64-unknown-linux-gnu target when installed, else
# Debian's rustc-web with libstd-rust-web-dev:arm64 (.ci/run installs them, and qemu-user).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/services.sh
ensure_toolchain
ensure_python_tools
export PATH="$venv/bin:$PATH"

step() { printf '\n--- %s\n' "$1"; }
functions=(ghsync-webhook ghsync-api ghsync-reconcile ghsync-migrate)

step "cargo lambda build --release --arm64"
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "rustc: rustup's $(rustc --version), aarch64 target installed"
elif [ -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ] && [ -x /usr/bin/rustc ]; then
  export RUSTC=/usr/bin/rustc
  echo "rustc: Debian's $($RUSTC --version) (rustup has no aarch64 standard library here)"
else
  echo "FAIL no aarch64 standard library: rustup target add aarch64-unknown-linux-gnu, or apt-get install rustc-web libstd-rust-web-dev:arm64" >&2
  exit 1
fi
# A target folder of its own: another compiler must not invalidate the host builds.
arm64_target=$root/target/arm64
CARGO_TARGET_DIR=$arm64_target cargo lambda build --release --arm64 --locked $(printf -- '-p %s ' "${functions[@]}")
for f in "${functions[@]}"; do
  bin="$arm64_target/lambda/$f/bootstrap"
  file "$bin" | grep -q 'ARM aarch64' || { echo "FAIL $bin is not an arm64 binary" >&2; exit 1; }
  python3 -c 'import os,sys; print(f"{sys.argv[1]:<18} {os.path.getsize(sys.argv[2]) / 1048576:7.2f} MiB  arm64  {sys.argv[2]}")' "$f" "$bin"
done
unset RUSTC
run_arm64=()
[ "$(uname -m)" = aarch64 ] || run_arm64=(qemu-aarch64)
command -v "${run_arm64[@]:-true}" >/dev/null || { echo "FAIL qemu-aarch64 not found: apt-get install qemu-user" >&2; exit 1; }

step "the arm64 binaries on cargo lambda's runtime API"
cargo build -q --locked -p ghsync -p testkit --bins
host_bin=${CARGO_TARGET_DIR:-$root/target}/debug
work=$(mktemp -d /tmp/ghsync-smoke.XXXXXX)
_cleanup+=("rm -rf $work")
gh_port=$(free_port)
"$host_bin/fake-github" --port "$gh_port" --repo acme/widgets --token ghp_smoke_token --issues 3 --prs 1 >"$work/gh.log" 2>&1 &
_cleanup+=("kill $!")
wait_port "$gh_port" "fake-github"

# What `sam local invoke` would give the functions (events/env.json), with a SQLite file for
# the database and the test server for GitHub.
env_json() { python3 -c 'import json,sys; print(json.load(open("events/env.json"))["Parameters"][sys.argv[1]])' "$1"; }
export GHSYNC_DATABASE_URL="sqlite://$work/ghsync.db?mode=rwc"
export GHSYNC_LOCAL_KEY=$(env_json GHSYNC_LOCAL_KEY)
export GHSYNC_WEBHOOK_SECRET=$(env_json GHSYNC_WEBHOOK_SECRET)
export GHSYNC_API_TOKEN=$(env_json GHSYNC_API_TOKEN)
export GITHUB_API_URL="http://127.0.0.1:$gh_port"
export RUST_LOG=warn

port=$(free_port)
cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$port" </dev/null >"$work/watch.log" 2>&1 &
_cleanup+=("kill $!")
wait_port "$port" "cargo lambda watch" || { cat "$work/watch.log"; exit 1; }

start() { # function: runs its arm64 binary against the runtime API
  AWS_LAMBDA_FUNCTION_NAME="$1" AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt/$1" \
    "${run_arm64[@]}" "$arm64_target/lambda/$1/bootstrap" >"$work/$1.log" 2>&1 &
  _cleanup+=("kill $!")
}

failures=0
invoke() { # function event-file expected-check(python expression over `r`)
  local out
  out=$(cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "$2" 2>&1) || {
    echo "FAIL $1 $2: invoke failed: $out"; failures=$((failures + 1)); return; }
  if python3 -c "import json,sys; r=json.loads(sys.argv[1]); assert $3, r" "$out" 2>/dev/null; then
    echo "ok   $1 $(basename "$2")"
  else
    echo "FAIL $1 $2: $out"; failures=$((failures + 1))
  fi
}

# 1. The deploy's migration step, on an empty database: by hand, then as CloudFormation's
#    custom resource (its answer PUT to a stand-in for the presigned S3 URL).
start ghsync-migrate
invoke ghsync-migrate events/migrate.json 'r["schema_version"] > 0'
cfn_port=$(free_port)
python3 - "$cfn_port" "$work/cfn-answer.json" <<'PY' &
import http.server, sys
class Answer(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        open(sys.argv[2], "wb").write(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Answer).serve_forever()
PY
_cleanup+=("kill $!")
wait_port "$cfn_port" "the stand-in response URL"
python3 -c 'import json,sys; e=json.load(open("events/migrate-custom-resource-create.json")); e["ResponseURL"]=sys.argv[1]; json.dump(e, open(sys.argv[2], "w"))' \
  "http://127.0.0.1:$cfn_port/answer?X-Amz-Signature=smoke" "$work/cfn-create.json"
invoke ghsync-migrate "$work/cfn-create.json" 'r["status"] == "SUCCESS"'
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert a["Status"]=="SUCCESS" and a["PhysicalResourceId"]=="ghsync-schema", a' "$work/cfn-answer.json" \
  && echo "ok   CloudFormation heard SUCCESS" || { echo "FAIL the custom resource's answer: $(cat "$work/cfn-answer.json" 2>/dev/null)"; failures=$((failures + 1)); }

# 2. A project and its config (the CLI finds the schema in place), then the other functions.
project=$("$host_bin/ghsync" project create --name Smoke | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo -n ghp_smoke_token | "$host_bin/ghsync" config set --project "$project" --repo acme/widgets >/dev/null
for f in ghsync-webhook ghsync-reconcile ghsync-api; do start "$f"; done
invoke ghsync-webhook events/webhook-ping.json 'r["statusCode"] == 200'
invoke ghsync-webhook events/webhook-issues-opened.json 'r["statusCode"] == 200 and "applied" in r["body"]'
invoke ghsync-webhook events/webhook-issues-opened-base64.json 'r["statusCode"] == 200'
invoke ghsync-webhook events/webhook-issue-comment-created.json 'r["statusCode"] == 200 and "comment" in r["body"]'
invoke ghsync-webhook events/webhook-pull-request.json 'r["statusCode"] == 202'
invoke ghsync-webhook events/webhook-bad-signature.json 'r["statusCode"] == 401'
invoke ghsync-reconcile events/reconcile-scheduled.json 'r["configs"][0]["history"]["status"] == "success" and r["configs"][0]["history"]["tasks_created"] == 3'
invoke ghsync-reconcile events/reconcile-scheduled.json 'r["configs"] == []'
invoke ghsync-reconcile events/reconcile-queue.json 'r["batchItemFailures"] == []'
invoke ghsync-api events/api-list-tasks.json 'r["statusCode"] in (200, 404)'
tasks=$("$host_bin/ghsync" tasks --project "$project" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
# #42 from the issues event, #46 from the comment event's issue snapshot, 3 from the reconcile.
[ "$tasks" = 5 ] && echo "ok   5 tasks: 2 from the webhook events, 3 from the reconcile" || { echo "FAIL expected 5 tasks, found $tasks"; failures=$((failures + 1)); }
grep -q '"_aws"' "$work/ghsync-webhook.log" && echo "ok   the webhook wrote EMF metric lines" || { echo "FAIL no EMF line from the webhook"; failures=$((failures + 1)); }
if [ "$failures" -ne 0 ]; then
  for f in "${functions[@]}"; do echo "--- $f log"; tail -20 "$work/$f.log"; done
  echo "--- cargo lambda watch log"; tail -20 "$work/watch.log"
  exit 1
fi
echo "lambda smoke test: the arm64 release binaries answered every invocation as expected"
