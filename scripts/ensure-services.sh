#!/usr/bin/env bash
# Make sure the services the tests and the demo need are reachable on loopback:
# Redis (127.0.0.1:6379), PostgreSQL (127.0.0.1:5432, trust auth for the
# current OS user or `postgres`) and RabbitMQ (127.0.0.1:5672, user guest; the
# RabbitMQ end-to-end tests make their own vhost with rabbitmqctl). Starts a stopped local server where one is
# installed, installs one from Debian's packages when running as root, and
# otherwise says exactly what is missing. Idempotent; safe to run every time.
#
# Usage: scripts/ensure-services.sh [redis] [postgres] [rabbitmq]   (default: all three)
set -u

REDIS_HOST=${RCSYNC_REDIS_HOST:-127.0.0.1}
REDIS_PORT=${RCSYNC_REDIS_PORT:-6379}
PG_HOST=${RCSYNC_PG_HOST:-127.0.0.1}
PG_PORT=${RCSYNC_PG_PORT:-5432}
AMQP_HOST=${RCSYNC_AMQP_HOST:-127.0.0.1}
AMQP_PORT=${RCSYNC_AMQP_PORT:-5672}

say() { echo "[services] $*" >&2; }

port_open() {  # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && { exec 3>&- 3<&-; return 0; }
  return 1
}

wait_port() {  # host port seconds
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do port_open "$1" "$2" && return 0; sleep 0.2; done
  return 1
}

apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  say "installing $* from Debian's packages"
  if [ ! -f /tmp/.rcsync-apt-updated ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch /tmp/.rcsync-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_redis() {
  port_open "$REDIS_HOST" "$REDIS_PORT" && return 0
  command -v redis-server >/dev/null || apt_install redis-server || true
  if command -v redis-server >/dev/null; then
    say "starting redis-server on $REDIS_HOST:$REDIS_PORT"
    mkdir -p /tmp/rcsync-redis
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /tmp/rcsync-redis --logfile /tmp/rcsync-redis/redis.log >/dev/null
    wait_port "$REDIS_HOST" "$REDIS_PORT" 15 && return 0
  fi
  say "MISSING: Redis at $REDIS_HOST:$REDIS_PORT (install redis-server, or set RCSYNC_REDIS_HOST/PORT)"
  return 1
}

ensure_postgres() {
  port_open "$PG_HOST" "$PG_PORT" && return 0
  if ! command -v pg_ctlcluster >/dev/null; then apt_install postgresql || true; fi
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    local ver
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    say "starting PostgreSQL $ver cluster 'main'"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
    if wait_port "$PG_HOST" "$PG_PORT" 30; then
      # A freshly installed Debian cluster uses peer/md5 auth: allow trust on
      # loopback so the tests can create their own databases.
      local hba="/etc/postgresql/$ver/main/pg_hba.conf"
      if [ -w "$hba" ] && ! grep -q '^# rcsync: trust loopback' "$hba"; then
        { echo "# rcsync: trust loopback"; echo "host all all 127.0.0.1/32 trust"; echo "host all all ::1/128 trust"; cat "$hba"; } > "$hba.new" && mv "$hba.new" "$hba"
        pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
      fi
      return 0
    fi
  fi
  say "MISSING: PostgreSQL at $PG_HOST:$PG_PORT (install postgresql, or set RCSYNC_PG_HOST/PORT)"
  return 1
}

ensure_rabbitmq() {
  port_open "$AMQP_HOST" "$AMQP_PORT" && return 0
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server || true
  if command -v rabbitmq-server >/dev/null; then
    say "starting rabbitmq-server on $AMQP_HOST:$AMQP_PORT"
    # Debian's package starts it through systemd where there is one; without, run it detached.
    if ! { command -v systemctl >/dev/null && systemctl start rabbitmq-server >/dev/null 2>&1; }; then
      RABBITMQ_NODE_IP_ADDRESS="$AMQP_HOST" RABBITMQ_NODE_PORT="$AMQP_PORT" rabbitmq-server -detached >/dev/null 2>&1 || true
    fi
    wait_port "$AMQP_HOST" "$AMQP_PORT" 60 && return 0
  fi
  say "MISSING: RabbitMQ at $AMQP_HOST:$AMQP_PORT (install rabbitmq-server, or set RCSYNC_AMQP_HOST/PORT)"
  return 1
}

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(redis postgres rabbitmq)
rc=0
for s in "${want[@]}"; do
  case "$s" in
    redis) ensure_redis || rc=1 ;;
    postgres) ensure_postgres || rc=1 ;;
    rabbitmq) ensure_rabbitmq || rc=1 ;;
    *) say "unknown service $s"; rc=2 ;;
  esac
done
exit $rc
