"""Checks what template.yaml promises an operator, on the template as CloudFormation will see
it (decoded and put through the SAM transform by cfn-lint's own code):

- no function's environment holds a secret value (only the secret's ARN);
- the alarms exist: each function's errors, the failure queue's depth, a config failing for
  an hour, the webhook's 5xx rate; tracing, JSON access logs, webhook throttling and
  reserved concurrency are on;
- each role names only the resources its function needs;
- events/env.json sets only variables the template declares (the only ones `sam local
  invoke` overrides), with the secret and token the sample events are signed with, and
  samconfig.toml turns on the beta feature `sam build` needs.

Usage: .venv/bin/python scripts/template_test.py [template.yaml]; exits 1 naming each
broken promise. scripts/lint-template.sh runs it, and proves it can fail.
"""

import base64
import copy
import hashlib
import hmac
import json
import os
import sys
import tomllib

from cfnlint.decode import decode
from cfnlint.template.transforms._sam import Transform

# Variables that hold a secret when set. Declared empty so that events/env.json can fill them
# for `sam local invoke`; in AWS the values come from the secret.
SECRET_VARIABLES = {
    "GHSYNC_DATABASE_URL",
    "GHSYNC_MIGRATE_DATABASE_URL",
    "GHSYNC_WEBHOOK_SECRET",
    "GHSYNC_API_TOKEN",
    "GHSYNC_LOCAL_KEY",
}

# The resources each function's role may name, and nothing else ("*" only for X-Ray, which
# has no resource-level permissions).
ROLE_RESOURCES = {
    "WebhookFunction": {"SecretsArn", "WebhookLogGroup", "PatKey"},
    "ApiFunction": {"SecretsArn", "ApiLogGroup", "ReconcileQueue", "PatKey"},
    "ReconcileFunction": {"SecretsArn", "ReconcileLogGroup", "ReconcileQueue", "ReconcileFailureQueue", "PatKey"},
    "MigrateFunction": {"SecretsArn", "MigrateLogGroup"},
}

problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


def references(value):
    """The logical ids and parameters a value refers to (Ref, GetAtt, Sub)."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def is_dynamic_secret(value):
    text = str(value)
    return "resolve:secretsmanager" in text or "resolve:ssm-secure" in text


def main(path):
    template, matches = decode(path)
    check(not matches, f"{path} does not parse: {matches}")
    resources = template["Resources"]
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    globals_fn = template.get("Globals", {}).get("Function", {})

    # --- environment: no secret values
    environments = {"Globals": globals_fn.get("Environment", {}).get("Variables", {})}
    for name, fn in functions.items():
        environments[name] = fn["Properties"].get("Environment", {}).get("Variables", {})
    for owner, variables in environments.items():
        for variable, value in variables.items():
            check(not is_dynamic_secret(value), f"{owner}: {variable} resolves a secret into the environment")
            if variable in SECRET_VARIABLES:
                check(value == "", f"{owner}: {variable} holds a value; secrets come from GHSYNC_SECRETS_ARN")
    check(
        references(environments["Globals"].get("GHSYNC_SECRETS_ARN")) == {"SecretsArn"},
        "every function gets GHSYNC_SECRETS_ARN from the SecretsArn parameter",
    )

    # --- tracing, logs, throttling, concurrency
    check(globals_fn.get("Tracing") == "Active", "Globals.Function.Tracing is Active")
    logging = globals_fn.get("LoggingConfig", {})
    check(logging.get("LogFormat") == "JSON", "functions log JSON")
    check("ApplicationLogLevel" in logging, "Lambda's log-level control is set")
    api = resources["HttpApi"]["Properties"]
    access = api.get("AccessLogSettings", {})
    check(references(access.get("DestinationArn")) == {"HttpApiAccessLogGroup"}, "HTTP API access logs go to their log group")
    check(str(access.get("Format", "")).lstrip().startswith("{"), "HTTP API access logs are JSON")
    routes = api.get("RouteSettings", {})
    for route in ["POST /webhooks/github", "POST /webhooks/github/{config_id}"]:
        settings = routes.get(route, {})
        check(
            "ThrottlingRateLimit" in settings and "ThrottlingBurstLimit" in settings,
            f"route {route!r} is throttled",
        )
    check("ReservedConcurrentExecutions" in functions["WebhookFunction"]["Properties"], "the webhook has reserved concurrency")

    # --- migrations once per deploy
    check(resources.get("Migration", {}).get("Type") == "AWS::CloudFormation::CustomResource", "a Migration custom resource")
    for name in ["WebhookFunction", "ApiFunction", "ReconcileFunction"]:
        depends = functions[name].get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        check("Migration" in depends, f"{name} is updated after the migrations (DependsOn: Migration)")

    # --- alarms
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]

    def alarm_on(metric, refers_to):
        for alarm in alarms:
            stats = [alarm] + [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
            for stat in stats:
                if stat.get("MetricName") == metric and refers_to <= references(stat.get("Dimensions")):
                    return alarm
        return None

    for name in ["WebhookFunction", "ApiFunction", "ReconcileFunction"]:
        check(alarm_on("Errors", {name}) is not None, f"an alarm on {name}'s errors")
    check(alarm_on("ApproximateNumberOfMessagesVisible", {"ReconcileFailureQueue"}) is not None, "an alarm on the failure queue's depth")
    check(alarm_on("ConfigsFailing", {"ReconcileFunction"}) is not None, "an alarm on a config failing for an hour")
    check(alarm_on("AppSecretUnopenable", {"WebhookFunction"}) is not None, "an alarm on the App's secret not opening")
    rate = alarm_on("5xx", {"HttpApi"})
    check(rate is not None and any("Expression" in m for m in rate.get("Metrics", [])), "an alarm on the webhook's 5xx rate")
    for alarm in alarms:
        check(references(alarm.get("AlarmActions")) == {"AlarmTopic"}, f"alarm {alarm.get('AlarmDescription', '')[:40]!r} notifies the topic")

    # --- least privilege, on the transformed template
    transform = Transform(path, copy.deepcopy(template), "us-east-1")
    errors = transform.transform_template()
    check(not errors, f"the SAM transform fails: {errors}")
    out = transform.template()["Resources"]
    roles = {k: r for k, r in out.items() if r["Type"] == "AWS::IAM::Role"}
    for name, allowed in ROLE_RESOURCES.items():
        check(name in out, f"a function {name}")
        role = references(out.get(name, {}).get("Properties", {}).get("Role"))
        check(len(role) == 1 and role <= roles.keys(), f"{name} runs with a role of its own from the template")
        if not role <= roles.keys() or len(role) != 1:
            continue
        (role_name,) = role
        properties = roles[role_name]["Properties"]
        managed = properties.get("ManagedPolicyArns")
        check(
            managed is None or (isinstance(managed, dict) and managed.get("Fn::If", [None])[0] == "UseVpc"),
            f"{role_name}: managed policies only for the VPC, only with a VPC",
        )
        named = set()
        for policy in properties.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                check(all("*" not in a for a in actions), f"{role_name}: no wildcard actions ({actions})")
                if statement["Resource"] == "*":
                    check(all(a.startswith("xray:") for a in actions), f"{role_name}: '*' resource for {actions}")
                else:
                    named |= references(statement["Resource"])
                kms = [a for a in actions if a.startswith("kms:")]
                if kms:
                    # Every use of the key is bound to one encryption context: a project's
                    # PAT, or one of the GitHub App's secrets. The webhook may only open the
                    # App's webhook secret and its key (for the JWT that confirms
                    # installation events), never a PAT.
                    condition = statement.get("Condition", {})
                    contexts = json.dumps(condition)
                    check("kms:EncryptionContextKeys" in contexts, f"{role_name}: {kms} bound to a context")
                    if name == "WebhookFunction":
                        check(
                            kms == ["kms:Decrypt"]
                            and sorted(condition.get("StringEquals", {}).get("kms:EncryptionContext:purpose", []))
                            == ["github_app_key", "github_app_webhook_secret"],
                            f"{role_name}: only Decrypt, only of the GitHub App's webhook secret and key",
                        )
        check(named == allowed, f"{role_name} names {sorted(named)}, expected {sorted(allowed)}")
    for name in roles:
        check(name in {"WebhookRole", "ApiRole", "ReconcileRole", "MigrateRole"}, f"an unexpected role {name}")

    # --- sam local invoke and sam build, as they are
    # The repository's own files (a broken copy of the template may sit elsewhere).
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    events = os.path.join(root, "events")
    with open(os.path.join(events, "env.json")) as f:
        env = json.load(f)
    for section, variables in env.items():
        check(section == "Parameters" or section in functions, f"events/env.json: {section} is not a function")
        declared = set(environments["Globals"]) | set(environments.get(section, {}))
        if section == "Parameters":
            declared = set(environments["Globals"])
        for variable in variables:
            check(variable in declared, f"events/env.json: {section}.{variable} is not declared in the template, so sam local ignores it")
    params = env.get("Parameters", {})
    with open(os.path.join(events, "webhook-issues-opened.json")) as f:
        opened = json.load(f)
    body = base64.b64decode(opened["body"]) if opened.get("isBase64Encoded") else opened["body"].encode()
    mac = "sha256=" + hmac.new(params.get("GHSYNC_WEBHOOK_SECRET", "").encode(), body, hashlib.sha256).hexdigest()
    check(opened["headers"].get("x-hub-signature-256") == mac, "events/env.json's webhook secret signs the sample deliveries")
    with open(os.path.join(events, "api-list-tasks.json")) as f:
        bearer = json.load(f)["headers"].get("authorization")
    check(bearer == f"Bearer {params.get('GHSYNC_API_TOKEN')}", "events/env.json's API token is the sample requests'")
    with open(os.path.join(root, "samconfig.toml"), "rb") as f:
        samconfig = tomllib.load(f)
    check(samconfig["default"]["build"]["parameters"].get("beta_features") is True, "samconfig.toml: sam build's beta features are on")
    check("CAPABILITY_IAM" in samconfig["default"]["deploy"]["parameters"].get("capabilities", ""), "samconfig.toml: the deploy may create the roles")

    if problems:
        for problem in problems:
            print(f"FAIL {problem}", file=sys.stderr)
        return 1
    print(f"ok   template promises: {len(alarms)} alarms, {len(roles)} least-privilege roles, no secret in any environment")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
