#!/usr/bin/env bash
# Lints the SAM template, then proves the linter really checks it: deliberately
# broken copies must be refused, or a clean result means nothing.
#
# cfn-lint 1.54.0 and later no longer run the SAM transform and do not check
# the Runtime of AWS::Serverless::Function; like SAM CLI, use cfn-lint below
# 1.54:  python3 -m venv .venv && .venv/bin/pip install 'cfn-lint>=1.52,<1.54'
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [ -x .venv/bin/cfn-lint ]; then
  cfn_lint=.venv/bin/cfn-lint
elif command -v cfn-lint >/dev/null; then
  cfn_lint=cfn-lint
else
  echo "FAIL cfn-lint not found: python3 -m venv .venv && .venv/bin/pip install 'cfn-lint>=1.52,<1.54'" >&2
  exit 1
fi
echo "using $cfn_lint ($("$cfn_lint" --version))"

tmp=$(mktemp -d /tmp/ghsync-lint.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# 1. The real template must lint clean: no errors, warnings or notes.
if "$cfn_lint" template.yaml; then
  echo "ok   template.yaml lints clean"
else
  echo "FAIL template.yaml has cfn-lint findings (above)" >&2
  exit 1
fi

# 2. Each broken copy must be refused. The copy keeps the .yaml name so
#    cfn-lint reads it the same way.
failures=0
expect_refused() {
  local name=$1 file=$2 hint=${3:-}
  if cmp -s template.yaml "$file"; then
    echo "FAIL canary '$name': the edit did not apply (template.yaml changed?); fix this script" >&2
    failures=$((failures + 1))
  elif "$cfn_lint" "$file" >"$tmp/$name.out" 2>&1; then
    echo "FAIL canary '$name': cfn-lint accepted a broken template${hint:+; $hint}" >&2
    failures=$((failures + 1))
  else
    echo "ok   canary '$name' refused: $(grep -m1 -E '^[EW][0-9]+' "$tmp/$name.out" | cut -c1-100)"
  fi
}

sed 's/provided\.al2023/provided.al2099/' template.yaml >"$tmp/bad-runtime.yaml"
expect_refused bad-runtime "$tmp/bad-runtime.yaml" \
  "cfn-lint >= 1.54 does not check SAM function runtimes; install 'cfn-lint>=1.52,<1.54'"

sed 's/TargetKeyId: !Ref PatKey$/TargetKeyId: !Ref NoSuchResource/' template.yaml >"$tmp/missing-ref.yaml"
expect_refused missing-ref "$tmp/missing-ref.yaml"

# 3. What the template promises an operator (scripts/template_test.py): no secret in an
#    environment, alarms, tracing, access logs, throttling, least-privilege roles. It too
#    must refuse copies that break a promise.
python=.venv/bin/python
[ -x "$python" ] || python=python3
if "$python" scripts/template_test.py template.yaml; then :; else
  echo "FAIL template.yaml breaks a promise (above)" >&2
  exit 1
fi
promise_refused() {
  local name=$1 file=$2
  if cmp -s template.yaml "$file"; then
    echo "FAIL promise canary '$name': the edit did not apply; fix this script" >&2
    failures=$((failures + 1))
  elif "$python" scripts/template_test.py "$file" >"$tmp/$name.out" 2>&1; then
    echo "FAIL promise canary '$name': the template test accepted it" >&2
    failures=$((failures + 1))
  else
    if grep -q '^Traceback' "$tmp/$name.out"; then
      echo "FAIL promise canary '$name': the template test crashed instead of naming the broken promise:" >&2
      cat "$tmp/$name.out" >&2
      failures=$((failures + 1))
    else
      echo "ok   promise canary '$name' refused: $(head -1 "$tmp/$name.out" | cut -c1-100)"
    fi
  fi
}
sed 's|GHSYNC_API_TOKEN: ""|GHSYNC_API_TOKEN: !Sub "{{resolve:secretsmanager:${SecretsArn}:SecretString:api_token}}"|' \
  template.yaml >"$tmp/secret-in-env.yaml"
promise_refused secret-in-env "$tmp/secret-in-env.yaml"
sed 's/^    Tracing: Active$/    Tracing: PassThrough/' template.yaml >"$tmp/no-tracing.yaml"
promise_refused no-tracing "$tmp/no-tracing.yaml"
sed 's/Action: sqs:SendMessage, Resource: !GetAtt ReconcileQueue.Arn}/Action: sqs:SendMessage, Resource: "*"}/' \
  template.yaml >"$tmp/wide-role.yaml"
promise_refused wide-role "$tmp/wide-role.yaml"
sed '/^  FailureQueueAlarm:$/,/^$/d' template.yaml >"$tmp/no-queue-alarm.yaml"
promise_refused no-queue-alarm "$tmp/no-queue-alarm.yaml"
sed '/ThrottlingBurstLimit/d' template.yaml >"$tmp/no-throttling.yaml"
promise_refused no-throttling "$tmp/no-throttling.yaml"
sed '/^  WebhookRole:$/,/^  # ---/ s/Action: kms:Decrypt/Action: [kms:Decrypt, kms:GenerateDataKey]/' \
  template.yaml >"$tmp/webhook-seals.yaml"
promise_refused webhook-seals "$tmp/webhook-seals.yaml"

if [ "$failures" -ne 0 ]; then
  echo "FAIL $failures canary check(s) failed" >&2
  exit 1
fi
echo "ok   all template checks passed"
