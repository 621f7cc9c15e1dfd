"""Reduces a reconcile report (ghsync's JSON or the Node.js peer's line) to one line."""
import json
import sys

text = sys.stdin.read().strip()
try:
    data = json.loads(text.splitlines()[-1] if text.startswith("{\"fetched") else text)
except (ValueError, IndexError):
    print(text[:200])
    sys.exit(0)
if "history" in data:
    h = data["history"] or {}
    print(f"requests={data['requests']} not_modified={data['not_modified']} "
          f"fetched={h.get('issues_fetched')} created={h.get('tasks_created')} updated={h.get('tasks_updated')} "
          f"status={h.get('status')}")
else:
    print(f"requests={data['requests']} fetched={data['fetched']} created={data['created']} "
          f"updated={data['updated']} (own wall_ms={data['wall_ms']} rss_mb={data['peak_rss_mb']})")
