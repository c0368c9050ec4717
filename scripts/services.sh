#!/usr/bin/env bash
# Start or stop the services the cloud tests talk to, without docker: PostgreSQL 15 (Debian's
# binaries) and moto's S3-compatible server, both on free ports of 127.0.0.1.
# Usage: scripts/services.sh start|stop
# `start` writes $STUDYLENS_SERVICES_DIR/env (default .services/env) for the tests to source:
#   STUDYLENS_TEST_DATABASE_URL, STUDYLENS_TEST_S3_ENDPOINT
# Every start begins from an empty database, so no run sees an earlier run's rows.
# `stop` may be called any number of times, also when nothing runs.
# One test run per state dir: give parallel runs their own STUDYLENS_SERVICES_DIR.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${STUDYLENS_SERVICES_DIR:-$root/.services}"
# Absolute, since PostgreSQL reads relative paths against its data dir.
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
pgbin="${STUDYLENS_PG_BIN:-/usr/lib/postgresql/15/bin}"
venv="${STUDYLENS_VENV:-$root/.venv}"
# One directory the postgres user owns: data dir, log and unix socket (keeps the socket
# path short and off /tmp, and out of the way of other clusters).
pg="$dir/pg"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
  # A parent of the state dir is closed to postgres (`mktemp -d` makes 0700 dirs, and CI
  # clones into one): keep the cluster in a directory of its own, named after the state dir
  # so that `stop` finds it again.
  pg="/tmp/studylens-pg-$(printf %s "$dir" | sha256sum | cut -c1-12)"
fi
moto_pid_file="$dir/moto.pid"

say() { echo "services: $*" >&2; }
die() { say "$*"; exit 1; }

# initdb and the server refuse to run as root, so as root they run as Debian's postgres user.
as_pg() {
  # From /: the postgres user may not be allowed into the current directory.
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@")
  else "$@"
  fi
}

# The kernel picks ports nobody listens on (both sockets open at once, so two different ones);
# the short window before the servers bind them is acceptable for tests.
free_ports() {
  "$venv/bin/python" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))' "$1"
}

# Any HTTP answer, even an error status, means the server is up.
http_answers() {
  "$venv/bin/python" - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1).close()
except urllib.error.HTTPError:
    pass
except OSError:
    sys.exit(1)
EOF
}

# True if the pid file names a live moto server: not a recycled pid of something else, and
# not a zombie (an exited server's pid lives on until init reaps it; kill -0 still succeeds
# then, but its cmdline is empty).
moto_running() {
  local pid
  pid="$(cat "$moto_pid_file" 2>/dev/null)" || return 1
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q moto_server
}

stop_moto() {
  if moto_running; then
    local pid
    pid="$(cat "$moto_pid_file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do moto_running || break; sleep 0.1; done
    if moto_running; then
      say "moto server $pid ignored SIGTERM for 5 s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$moto_pid_file"
}

stop_postgres() {
  # pg_ctl status: 0 running, 3 not running, 4 no data dir.
  if [ -f "$pg/data/PG_VERSION" ] && as_pg "$pgbin/pg_ctl" status -D "$pg/data" >/dev/null 2>&1; then
    as_pg "$pgbin/pg_ctl" stop -D "$pg/data" -m fast -w -t 30 >/dev/null
  fi
}

stop() {
  stop_moto
  stop_postgres
  rm -f "$dir/env"
}

# EXIT trap of a start: a failed start leaves nothing running.
stop_if_failed() {
  local status=$?
  if [ "$status" -ne 0 ]; then say "start failed; stopping what did start"; stop; fi
}

start_postgres() {
  local port="$1"
  # A unix socket path has at most 107 bytes.
  [ "${#pg}" -le 85 ] || die "$pg is too long for a unix socket path; set STUDYLENS_SERVICES_DIR shorter"
  [ -x "$pgbin/initdb" ] || die "no PostgreSQL in $pgbin; install Debian's postgresql-15 (scripts/setup.sh does, via scripts/test.sh)"
  rm -rf "$pg"
  mkdir -p "$pg"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$pg"
    chmod go+x "$dir"
  fi
  chmod 700 "$pg"
  as_pg test -w "$pg" || die "the postgres user cannot write $pg (a parent dir closed to it?); set STUDYLENS_SERVICES_DIR"

  # Local (socket) connections are trusted, for the setup below; TCP needs the password,
  # as in production.
  as_pg "$pgbin/initdb" -D "$pg/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # Throwaway test data: trade durability for speed. Many connections: each test may open a pool.
  as_pg tee -a "$pg/data/postgresql.conf" >/dev/null <<EOF

# scripts/services.sh (tests only)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$pg'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  as_pg "$pgbin/pg_ctl" start -D "$pg/data" -l "$pg/postgres.log" -w -t 60 >/dev/null \
    || { tail -n 20 "$pg/postgres.log" >&2; die "PostgreSQL did not start"; }
  "$pgbin/psql" -h "$pg" -p "$port" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE studylens LOGIN CREATEDB CREATEROLE PASSWORD 'studylens'" \
    -c "CREATE DATABASE studylens OWNER studylens" >/dev/null
}

start_moto() {
  local port="$1"
  [ -x "$venv/bin/moto_server" ] || die "no $venv/bin/moto_server; run scripts/setup.sh edge,cloud,dev"
  # No job control in a script: the server stays in our process group, so Ctrl-C reaches it too.
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$moto_pid_file"
  # Until the forked shell has exec'd the server, moto_running (and so stop) would not know it.
  for _ in $(seq 100); do moto_running && return 0; sleep 0.01; done
  die "moto server did not start"
}

wait_moto() {
  local url="$1"
  for _ in $(seq 300); do
    moto_running || { tail -n 20 "$dir/moto.log" >&2; die "moto server exited"; }
    http_answers "$url" && return 0
    sleep 0.1
  done
  tail -n 20 "$dir/moto.log" >&2
  die "moto server did not answer on $url within 30 s"
}

start() {
  # Leftovers of a run that was killed before its own stop.
  stop
  trap stop_if_failed EXIT

  local pg_port s3_port
  read -r pg_port s3_port <<<"$(free_ports 2)"
  # moto needs a second or two to import; it starts while PostgreSQL is set up.
  start_moto "$s3_port"
  start_postgres "$pg_port"
  wait_moto "http://127.0.0.1:$s3_port/"

  cat >"$dir/env.tmp" <<EOF
export STUDYLENS_TEST_DATABASE_URL=postgresql+asyncpg://studylens:studylens@127.0.0.1:$pg_port/studylens
export STUDYLENS_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
EOF
  mv "$dir/env.tmp" "$dir/env"
  cat "$dir/env"
  trap - EXIT
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: scripts/services.sh start|stop" ;;
esac
