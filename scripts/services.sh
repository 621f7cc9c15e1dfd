# Sourced by scripts/test.sh and .ci/run: starts the real peers the tests talk to, on
# loopback, and stops them when the calling shell exits.

_cleanup=()
_on_exit() { local i; for ((i=${#_cleanup[@]}-1; i>=0; i--)); do eval "${_cleanup[$i]}" || true; done; }
trap _on_exit EXIT

# rust-toolchain.toml pins the Rust the project is tested with. Where rustup cannot download
# it (an offline machine) but the installed stable toolchain is that very version, the stable
# toolchain is given the pinned name too (`rustup toolchain link` refuses official names,
# so a link in rustup's own folder).
ensure_toolchain() {
  local pinned host toolchains
  pinned=$(sed -n 's/^channel = "\(.*\)"/\1/p' "$root/rust-toolchain.toml")
  (cd / && rustup toolchain list) | grep -q "^$pinned-" && return 0
  if (cd / && rustc +stable --version 2>/dev/null) | grep -q "^rustc $pinned "; then
    host=$(cd / && rustc +stable -vV | sed -n 's/^host: //p')
    toolchains="${RUSTUP_HOME:-$HOME/.rustup}/toolchains"
    ln -s "$toolchains/stable-$host" "$toolchains/$pinned-$host"
    echo "the installed stable toolchain ($pinned) now answers to rust-toolchain.toml's $pinned"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Wait (bounded) until a TCP port on loopback accepts connections.
wait_port() {
  local port=$1 what=$2
  for _ in $(seq 1 200); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$what did not start on port $port" >&2; return 1
}

find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
  return 1
}

# A private PostgreSQL cluster in a temporary folder. Sets PG_URL (an admin URL) and PG_CTL
# (an executable: `$PG_CTL stop` stops the cluster at once, as a crash or an operator would;
# `$PG_CTL start` starts it again on the same port). Tests run it without fsync;
# `start_postgres durable` keeps PostgreSQL's defaults (benchmarks).
start_postgres() {
  local bin dir port as=() durability="-c fsync=off"
  [ "${1:-}" = durable ] && durability=""
  bin=$(find_pg_bin) || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
  dir=$(mktemp -d /tmp/ghsync-pg.XXXXXX)
  port=$(free_port)
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; as=(runuser -u postgres --); fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
  cat > "$dir/ctl" <<CTL
#!/bin/sh
# Usage: ctl start|stop — this cluster only.
exec ${as[*]} "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -m fast \\
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir $durability -c max_connections=300" "\$1" >/dev/null
CTL
  chmod 755 "$dir/ctl"
  "$dir/ctl" start
  _cleanup+=("${as[*]} $bin/pg_ctl -D $dir/data -m immediate stop >/dev/null 2>&1; rm -rf $dir")
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  PG_CTL="$dir/ctl"
  echo "PostgreSQL on 127.0.0.1:$port ($dir)"
}

# For the benchmarks: `ghsync serve` (release build) working in $out, with the API token
# $API, its GitHub at 127.0.0.1:$1 and its database $2 (default: SQLite in $out). Sets
# `base`, the API's URL; `call` sends a request to it with the token.
start_serve() {
  local gh_port=$1 database=${2:-sqlite://ghsync.db?mode=rwc} port
  port=$(free_port)
  (cd "$out" && GHSYNC_API_TOKEN=$API GHSYNC_WEBHOOK_SECRET=s GHSYNC_LOCAL_KEY=$(printf '22%.0s' $(seq 32)) \
    GHSYNC_DATABASE_URL=$database GITHUB_API_URL=http://127.0.0.1:$gh_port GHSYNC_LISTEN=127.0.0.1:$port \
    RUST_LOG=warn "$root/target/release/ghsync" serve >"$out/serve.log" 2>&1) &
  _cleanup+=("kill $!")
  wait_port "$port" "ghsync serve"
  base=http://127.0.0.1:$port/api
}
call() { curl -sf -H "authorization: Bearer $API" -H 'content-type: application/json' "$@"; }

# A new project following acme/$1 with the token $TOKEN, its first sync queued. Sets `project`.
follow_repo() {
  project=$(call -X POST "$base/projects" -d "{\"name\":\"$1\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  call -X PUT "$base/projects/$project/github-sync" \
    -d "{\"repo_owner\":\"acme\",\"repo_name\":\"$1\",\"pat\":\"$TOKEN\"}" >/dev/null
  call -X POST "$base/projects/$project/github-sync/run" >/dev/null
}

venv=${GHSYNC_VENV:-$root/.venv}

# The Python tools the tests and checks use, in .venv: moto's KMS-compatible server, an
# OpenAPI validator, cfn-lint (below 1.54, which stopped checking SAM functions), and
# cargo-lambda with Zig for the Lambda builds.
ensure_python_tools() {
  local tool missing=
  for tool in moto_server openapi-spec-validator cfn-lint cargo-lambda python-zig; do
    [ -x "$venv/bin/$tool" ] || missing=1
  done
  if [ -n "$missing" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      'moto[server]==5.2.1' 'openapi-spec-validator==0.9.0' 'cfn-lint>=1.52,<1.54' \
      'cargo-lambda==1.9.2' 'ziglang==0.17.0'
  fi
}

# moto's KMS-compatible server; sets GHSYNC_TEST_KMS_URL.
start_kms() {
  local port
  ensure_python_tools
  port=$(free_port)
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/tmp/ghsync-moto.log 2>&1 &
  local pid=$!
  _cleanup+=("kill $pid")
  wait_port "$port" "moto_server"
  GHSYNC_TEST_KMS_URL="http://127.0.0.1:$port"
  echo "KMS-compatible server (moto) on 127.0.0.1:$port"
}
