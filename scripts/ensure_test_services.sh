#!/usr/bin/env bash
# Make sure everything the test suite needs is installed and running: PostgreSQL and Redis on
# 127.0.0.1, nginx and openssl for the deployment tests, Chromium and its driver for the console's
# browser tests. Idempotent: a service that already answers is left alone, a tool that is on PATH
# is not reinstalled.
#
# Each need is one `ensure_*` function listed in NEEDS; add a new one there.
# KNEO_ENSURE_DRY_RUN=1 only reports what would be installed or started.
set -euo pipefail

PG_HOST=${KNEO_ENSURE_PG_HOST:-127.0.0.1}
PG_PORT=${KNEO_ENSURE_PG_PORT:-5432}
REDIS_HOST=${KNEO_ENSURE_REDIS_HOST:-127.0.0.1}
REDIS_PORT=${KNEO_ENSURE_REDIS_PORT:-6379}
DRY_RUN=${KNEO_ENSURE_DRY_RUN:-}
# Administration tools live in sbin, which a non-root PATH often lacks.
PATH="$PATH:${KNEO_ENSURE_EXTRA_PATH-/usr/local/sbin:/usr/sbin:/sbin}"
APT_UPDATED=

say() { echo "ensure: $*" >&2; }
fail() { say "$*"; exit 1; }

# `act DESCRIPTION COMMAND...`: run COMMAND, or only report it in a dry run.
act() {
  local what=$1
  shift
  if [ -n "$DRY_RUN" ]; then say "would $what"; return 0; fi
  say "$what"
  "$@"
}

wait_for() {
  local what=$1
  shift
  [ -n "$DRY_RUN" ] && return 0
  for _ in $(seq 1 30); do "$@" && return 0; sleep 1; done
  fail "$what did not come up"
}

apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# `ensure_packages COMMAND PACKAGE...`: install PACKAGEs with apt-get unless COMMAND is found.
ensure_packages() {
  local binary=$1
  shift
  command -v "$binary" >/dev/null && return 0
  command -v apt-get >/dev/null || fail "$binary is missing and apt-get is not available to install $*"
  act "install $* (apt-get)" apt_install "$@"
}

postgres_up() { pg_isready -h "$PG_HOST" -p "$PG_PORT" -q; }
redis_up() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_postgres() {
  local fresh=
  command -v pg_isready >/dev/null || fresh=1
  ensure_packages pg_isready postgresql postgresql-client
  local cluster
  cluster=$(ls /etc/postgresql 2>/dev/null | head -n 1 || true)
  # The tests connect as postgres over loopback without a password; a cluster this script just
  # installed gets that (trust on 127.0.0.1 and ::1 only), an existing one is left as it is.
  if [ -n "$fresh" ]; then
    act "trust loopback connections in PostgreSQL ${cluster:-?}/main" trust_loopback "$cluster"
    [ -z "$DRY_RUN" ] && pg_ctlcluster --skip-systemctl-redirect "$cluster" main reload 2>/dev/null || true
  fi
  postgres_up && return 0
  if [ -z "$cluster" ] && [ -z "$DRY_RUN" ]; then fail "PostgreSQL is down and no cluster is configured in /etc/postgresql"; fi
  act "start PostgreSQL ${cluster:-?}/main on $PG_HOST:$PG_PORT" \
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
  wait_for "PostgreSQL on $PG_HOST:$PG_PORT" postgres_up
}

trust_loopback() {
  local hba="/etc/postgresql/$1/main/pg_hba.conf"
  [ -f "$hba" ] || fail "no $hba to configure"
  printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n%s\n' "$(cat "$hba")" >"$hba"
}

ensure_redis() {
  ensure_packages redis-server redis-server
  redis_up && return 0
  act "start Redis on $REDIS_HOST:$REDIS_PORT" start_redis
  wait_for "Redis on $REDIS_HOST:$REDIS_PORT" redis_up
}

start_redis() {
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/kneo-tests.log
}

# The deployment tests put nginx in front of the topology, check deploy/nginx.conf with
# `nginx -t`, and make a throwaway TLS certificate with openssl.
ensure_nginx() {
  ensure_packages nginx nginx
  ensure_packages openssl openssl
}

# The console's browser tests drive Debian's Chromium through its matching driver.
ensure_chromium() {
  ensure_packages chromium chromium
  ensure_packages chromedriver chromium-driver
}

ensure_postgres_login() {
  [ -n "$DRY_RUN" ] && return 0
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "select 1" >/dev/null \
    || fail "cannot connect to PostgreSQL on $PG_HOST:$PG_PORT as postgres (trust auth expected)"
}

NEEDS=(ensure_postgres ensure_postgres_login ensure_redis ensure_nginx ensure_chromium)

for need in "${NEEDS[@]}"; do
  "$need"
done
