#!/usr/bin/env bash
# The board at 5,000 tasks: what a column's page and each filter cost through
# `GET /api/projects/{id}/tasks` against `ghsync serve` (release build), on SQLite or on a
# private PostgreSQL cluster (DB=postgres). The GitHub stand-in holds ISSUES open issues, all
# labelled `bug`; RARE of them also carry the label `rare`, the assignee `ana` and the
# milestone `v1.0`. Prints p50/p90 of REPEAT requests for each query. On SQLite it then asks
# the database itself what a label filter costs through the side table `task_facets` and
# through a scan of the labels' JSON (what the list did before docs/board.md); on
# PostgreSQL it measures the filters again once the tables are analyzed.
#   ISSUES (5000)  RARE (50)  REPEAT (40)  DB (sqlite)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
ISSUES=${ISSUES:-5000}; RARE=${RARE:-50}; REPEAT=${REPEAT:-40}; DB=${DB:-sqlite}
TOKEN=ghp_bench_board; API=bench
. scripts/services.sh
out=$(mktemp -d /tmp/ghsync-bench.XXXXXX)
_cleanup+=("rm -rf $out")

cargo build --release -q -p ghsync -p testkit --bin ghsync --bin fake-github
database=""  # start_serve's SQLite
if [ "$DB" = postgres ]; then start_postgres durable; database=$PG_URL; fi
gh_port=$(free_port)
target/release/fake-github --port "$gh_port" --repo acme/board --token $TOKEN --issues "$ISSUES" --prs 0 \
  >"$out/gh.log" 2>&1 &
_cleanup+=("kill $!")
wait_port "$gh_port" fake-github
start_serve "$gh_port" "$database"

for n in $(seq 1 "$RARE"); do
  curl -sf -X POST "http://127.0.0.1:$gh_port/_fake/fields" -H 'content-type: application/json' \
    -d "{\"repo\":\"acme/board\",\"number\":$((n * ISSUES / RARE)),\"updated_at\":\"2026-02-01T00:00:00Z\",\"labels\":[\"bug\",\"rare\"],\"assignees\":[\"ana\"],\"milestone\":\"v1.0\"}"
done
follow_repo board
for _ in $(seq 1 600); do
  n=$(call "$base/projects/$project/sync-history/runs?limit=1" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["items"]; print(r[0]["status"] if r else "none")')
  [ "$n" = success ] && break; sleep 0.5
done
[ "$n" = success ] || { echo "the import did not finish" >&2; exit 1; }

# The To do column's last page: walk it once for the cursor.
cursor=""
while :; do
  next=$(call "$base/projects/$project/tasks?status=todo&sort=updated&limit=50&cursor=$cursor" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
  [ -z "$next" ] && break
  last=$cursor; cursor=$next
done

column="status=todo&sort=updated&limit=50"
measure() { # label query
  local i times=()
  for i in $(seq 1 "$REPEAT"); do
    times+=("$(curl -sf -o /dev/null -w '%{time_total}' -H "authorization: Bearer $API" "$base/projects/$project/tasks?$2")")
  done
  printf '%s\n' "${times[@]}" | python3 -c '
import sys
t = sorted(float(x) * 1000 for x in sys.stdin)
print(f"| {sys.argv[1]} | {t[len(t) // 2]:.1f} | {t[int(len(t) * 0.9)]:.1f} |")' "$1"
}
echo "$ISSUES tasks ($DB), $REPEAT requests each: p50 / p90 in ms"
echo "| query | p50 | p90 |"
echo "|---|---|---|"
measure "a column's first page (To do, 50 cards)" "$column"
measure "an empty column (Done)" "status=done&sort=updated&limit=50"
measure "the To do column's last page (cursor)" "$column&cursor=$last"
measure "label=bug (every task)" "$column&label=bug"
measure "label=rare ($RARE tasks)" "$column&label=rare"
measure "assignee=ana ($RARE tasks)" "$column&assignee=ana"
measure "milestone=v1.0 ($RARE tasks)" "$column&milestone=v1.0"
measure "label=nope (no task)" "$column&label=nope"
measure "q=number 4999 (title search)" "$column&q=number%204999"

if [ "$DB" = sqlite ] && command -v sqlite3 >/dev/null; then
  echo
  echo "SQLite itself: the project's tasks labelled rare, counted 3 times each way (.timer):"
  facets="SELECT count(*) FROM tasks t WHERE t.project_id = '$project' AND EXISTS (SELECT 1 FROM task_facets f WHERE f.task_id = t.id AND f.kind = 'label' AND f.value = 'rare');"
  json="SELECT count(*) FROM tasks t JOIN task_github_metadata m ON m.task_id = t.id WHERE t.project_id = '$project' AND lower(m.labels) LIKE '%{\"name\":\"rare\",\"color\":%';"
  for way in facets json; do
    printf '  %-7s' "$way:"
    printf '.timer on\n%s\n%s\n%s\n' "${!way}" "${!way}" "${!way}" | sqlite3 "$out/ghsync.db" 2>&1 \
      | grep -o 'real [0-9.]*' | tr '\n' ' '
    echo
  done
fi
if [ "$DB" = postgres ]; then
  # Right after the import PostgreSQL has no statistics of the new rows; autovacuum analyzes
  # a table within a minute of a change of 10 % of it. The same filters once it has.
  psql -q "$PG_URL" -c "ANALYZE tasks, task_facets"
  echo
  echo "after ANALYZE (what autovacuum does within a minute of the import):"
  measure "label=rare ($RARE tasks)" "$column&label=rare"
  measure "assignee=ana ($RARE tasks)" "$column&assignee=ana"
  measure "label=nope (no task)" "$column&label=nope"
  measure "label=bug (every task)" "$column&label=bug"
fi
