#!/usr/bin/env bash
# The benchmark in one command: auth0-client's hot path against two floors and two peers.
#
#   bench/run.sh                  # N=10000 sessions, 3 rounds x 10 s per target
#   N=2000 ROUNDS=2 bench/run.sh  # quicker
#
# Everything runs on 127.0.0.1: a redis-server, the devtenant, auth0-client (release) twice
# (session cache on, and off with SESSION_CACHE_SIZE=0, on the same Redis and sessions), the
# floors (bench/floor: one Redis GET, and no I/O), the peers (bench/peer, npm packages
# installed into bench/.work/; Apache httpd + mod_auth_openidc, bench/oidc, apt packages).
# Every process started here is stopped on exit. The report goes to bench/results/<date>.md
# (REPORT= to change) and to stdout; logs and raw figures stay in bench/.work/run-<time>/.
#
# Knobs (environment):
#   N=10000                 sessions in auth0-client (and the floor), and peer logins wanted
#   COOKIE_SHARE=0.2        share of N logged in through the website client (sid cookies)
#   BENCH_USERS=N           distinct devtenant users the logins rotate over
#   ROUNDS=3 DURATION=10    load rounds, seconds per target per round
#   THREADS=2 CONNECTIONS=64  wrk threads and connections, the same for every target
#   PEER=1                  0 leaves the express peer out (no node/npm needed)
#   PEER_OIDC=1             0 leaves the mod_auth_openidc peer out (else apache2 and
#                           libapache2-mod-auth-openidc are installed with apt-get when missing)
#   OIDC_MPM=event OIDC_SERVERS=2 OIDC_THREADS=64  its httpd MPM, processes, threads per process
#                           (prefork: OIDC_SERVERS processes of one thread each)
#   OIDC_STATIC=1           1 also measures its static page behind `Require valid-user` (/user.json)
#   TRIALS=1000             invalidation trials (logout on one instance, 401 on the other)
#   CACHE_SIZE=             SESSION_CACHE_SIZE of the cache-on instance (empty: its default)
#   PEER_LOGIN_SECONDS=180  time budget of each peer's logins (fewer than N is reported)
#   LOGIN_SECONDS=10 LOGIN_CONNECTIONS=16  the logins-per-second run
#   MANAGEMENT_CALLS=1000   GET /users calls for the Management-token count
#   SERVICE_LOG_LEVEL=info  auth0-client's LOG_LEVEL (its logs go to a file)
#   SEALED=0                1 sets SESSION_ENCRYPTION_KEY (sessions sealed at rest)
#   IDLE=0                  N > 0 sets SESSION_IDLE_SECONDS=N (idle timeout on)
#   REDIS_TLS=0             1: the floor and auth0-client reach Redis over TLS (a CA and a server
#                           certificate made with openssl into the run's work dir); the peer and the
#                           seeding stay on redis-server's plain port
#   BUILD=1                 0 skips cargo build (uses target/release as it is)
#   RUN_TIMEOUT=1800        bound in seconds of the measuring part (after the build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
RELEASE=$ROOT/target/release

export N=${N:-10000}
export BENCH_USERS=${BENCH_USERS:-$N}
export COOKIE_SHARE=${COOKIE_SHARE:-0.2}
export ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10}
export THREADS=${THREADS:-2} CONNECTIONS=${CONNECTIONS:-64}
export PEER_LOGIN_SECONDS=${PEER_LOGIN_SECONDS:-180}
export LOGIN_SECONDS=${LOGIN_SECONDS:-10} LOGIN_CONNECTIONS=${LOGIN_CONNECTIONS:-16}
export MANAGEMENT_CALLS=${MANAGEMENT_CALLS:-1000}
PEER=${PEER:-1}
PEER_OIDC=${PEER_OIDC:-1}
OIDC_MPM=${OIDC_MPM:-event}
OIDC_SERVERS=${OIDC_SERVERS:-2}
OIDC_THREADS=${OIDC_THREADS:-64}
OIDC_MODULES=${OIDC_MODULES:-/usr/lib/apache2/modules}
export OIDC_STATIC=${OIDC_STATIC:-1}
export TRIALS=${TRIALS:-1000}
CACHE_SIZE=${CACHE_SIZE:-}
SERVICE_LOG_LEVEL=${SERVICE_LOG_LEVEL:-info}
SEALED=${SEALED:-0}
IDLE=${IDLE:-0}
REDIS_TLS=${REDIS_TLS:-0}
BUILD=${BUILD:-1}
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}
export BENCH_REPORT=${REPORT:-$BENCH/results/$(date -u +%F).md}

say() { printf '[bench %s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

need() {
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null || die "$cmd is not installed (Debian: apt-get install ${cmd/redis-server/redis-server})"
  done
}
need python3 curl wrk redis-server
[[ $REDIS_TLS == 0 ]] || need openssl
[[ $BUILD == 0 ]] || need cargo
[[ $PEER == 0 ]] || need node npm
case $OIDC_MPM in event | prefork) ;; *) die "OIDC_MPM must be event or prefork" ;; esac
if [[ $PEER_OIDC != 0 ]]; then
  APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
  if [[ ! -x $APACHE || ! -f $OIDC_MODULES/mod_auth_openidc.so ]]; then
    say "installing apache2 and libapache2-mod-auth-openidc with apt-get"
    sudo=""
    [[ $(id -u) == 0 ]] || sudo=sudo
    # The package's own system service (where an init system starts it) is not used here.
    mkdir -p "$BENCH/.work"
    (DEBIAN_FRONTEND=noninteractive timeout 600 $sudo apt-get install -y -qq --no-install-recommends \
      apache2 libapache2-mod-auth-openidc >"$BENCH/.work/apt-oidc.log" 2>&1) \
      || die "apt-get install apache2 libapache2-mod-auth-openidc failed (log: bench/.work/apt-oidc.log)"
    APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
  fi
  [[ -x $APACHE && -f $OIDC_MODULES/mod_auth_openidc.so ]] || die "apache2 or mod_auth_openidc.so is missing"
fi

WORK=$BENCH/.work/run-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$WORK" "$(dirname "$BENCH_REPORT")"
export BENCH_WORK=$WORK

# --- processes: started in the background, all stopped on exit ---------------------------
PIDS=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: runs COMMAND in the background, output to $WORK/NAME.log
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for NAME URL PID [any]: until URL answers 2xx (with "any": answers at all), at most
# 30 s, or the process died
wait_for() {
  local name=$1 url=$2 pid=$3 any=${4:-} code
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; die "$name exited at startup (log: $WORK/$name.log)"; }
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)
    [[ $code == 2?? || ( -n $any && $code != 000 && -n $code ) ]] && return 0
    sleep 0.1
  done
  tail -20 "$WORK/$name.log" >&2
  die "$name did not answer $url within 30 s"
}

# --- build -------------------------------------------------------------------------------
if [[ $BUILD != 0 ]]; then
  say "building release binaries (auth0-client, auth0-devtenant, bench-floor)"
  (cd "$ROOT" && timeout 1800 cargo build --release --quiet -p auth0-client -p auth0-devtenant -p bench-floor) \
    || die "cargo build failed"
fi
for bin in auth0-client auth0-devtenant bench-floor; do
  [[ -x $RELEASE/$bin ]] || die "$RELEASE/$bin is missing (run with BUILD=1)"
done

if [[ $PEER != 0 ]]; then
  PEER_DIR=$BENCH/.work/peer
  mkdir -p "$PEER_DIR"
  if ! cmp -s "$BENCH/peer/package-lock.json" "$PEER_DIR/package-lock.json" || [[ ! -d $PEER_DIR/node_modules ]]; then
    say "installing the peer's npm packages into bench/.work/peer"
    cp "$BENCH/peer/package.json" "$BENCH/peer/package-lock.json" "$PEER_DIR/"
    (cd "$PEER_DIR" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  fi
fi

# --- processes ---------------------------------------------------------------------------
REDIS_PORT=$(free_port)
REDIS_TLS_ARGS=()
if [[ $REDIS_TLS != 0 ]]; then
  # A throw-away CA and a server certificate for localhost, in the (git-ignored) work dir.
  TLS_DIR=$WORK/tls
  mkdir -p "$TLS_DIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench CA" \
    -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" >/dev/null 2>&1 || die "openssl: CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" >/dev/null 2>&1 || die "openssl: server key"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$TLS_DIR/san.ext"
  openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
    -days 2 -extfile "$TLS_DIR/san.ext" -out "$TLS_DIR/server.pem" >/dev/null 2>&1 || die "openssl: server certificate"
  REDIS_TLS_PORT=$(free_port)
  REDIS_TLS_ARGS=(--tls-port "$REDIS_TLS_PORT" --tls-cert-file "$TLS_DIR/server.pem" --tls-key-file "$TLS_DIR/server.key"
    --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients no)
fi
start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no "${REDIS_TLS_ARGS[@]}"
REDIS_PID=$LAST_PID
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping >/dev/null || die "redis-server did not start (log: $WORK/redis.log)"
# What the floor and the service connect to: the plain port, or the TLS one.
SERVICE_REDIS_ENV=(REDIS_HOSTS="127.0.0.1:$REDIS_PORT")
FLOOR_REDIS_ARGS=(--redis "redis://127.0.0.1:$REDIS_PORT")
if [[ $REDIS_TLS != 0 ]]; then
  redis-cli --tls --cacert "$TLS_DIR/ca.pem" -p "$REDIS_TLS_PORT" ping >/dev/null || die "redis-server does not answer TLS"
  SERVICE_REDIS_ENV=(REDIS_HOSTS="localhost:$REDIS_TLS_PORT" REDIS_TLS=true REDIS_TLS_CA_FILE="$TLS_DIR/ca.pem")
  FLOOR_REDIS_ARGS=(--redis "rediss://localhost:$REDIS_TLS_PORT" --tls-ca-file "$TLS_DIR/ca.pem")
fi

OIDC_REDIRECT_ARGS=()
if [[ $PEER_OIDC != 0 ]]; then
  OIDC_PORT=$(free_port)
  OIDC_URL=http://127.0.0.1:$OIDC_PORT
  OIDC_REDIRECT_ARGS=("$OIDC_URL/redirect_uri")
fi
say "devtenant with $BENCH_USERS users"
python3 "$BENCH/lib/bench.py" tenant-file "$BENCH_USERS" "$WORK/tenant.json" "${OIDC_REDIRECT_ARGS[@]}"
TENANT_PORT=$(free_port)
TENANT_URL=http://127.0.0.1:$TENANT_PORT
start devtenant env RUST_LOG=warn "$RELEASE/auth0-devtenant" --port "$TENANT_PORT" --config "$WORK/tenant.json"
TENANT_PID=$LAST_PID
wait_for devtenant "$TENANT_URL/.well-known/openid-configuration" "$TENANT_PID"

SERVICE_PORT=$(free_port)
SERVICE_URL=http://127.0.0.1:$SERVICE_PORT
# The dev tenant's config.json as dev mode writes it (`dev --print-config`), with the token
# client as the default (every request of the bench names its client anyway).
"$RELEASE/auth0-client" dev --print-config "$TENANT_URL" --port "$SERVICE_PORT" \
  --default-client token >"$WORK/config.json" || die "auth0-client dev --print-config failed"
SEAL_ENV=()
if [[ $SEALED != 0 ]]; then
  SEAL_ENV=(SESSION_ENCRYPTION_KEY="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')")
fi
IDLE_ENV=()
if [[ $IDLE != 0 ]]; then
  IDLE_ENV=(SESSION_IDLE_SECONDS="$IDLE")
fi
CACHE_ENV=()
if [[ -n $CACHE_SIZE ]]; then
  CACHE_ENV=(SESSION_CACHE_SIZE="$CACHE_SIZE")
fi
# Two instances on the same Redis (the same sessions): the session cache on (its default size,
# or CACHE_SIZE), and off (SESSION_CACHE_SIZE=0).
say "auth0-client, cache on and off (LOG_LEVEL=$SERVICE_LOG_LEVEL${SEAL_ENV:+, sealed sessions}${IDLE_ENV:+, SESSION_IDLE_SECONDS=$IDLE}${REDIS_TLS_ARGS:+, Redis over TLS})"
start service env -u SESSION_CACHE_SIZE HTTP_PORT="$SERVICE_PORT" SERVICE_CONFIG_PATH="$WORK" SERVICE_CONFIG_FILE_NAME=config.json \
  ORIGINAL_PROTOCOL_HEADER=x-forwarded-proto "${SERVICE_REDIS_ENV[@]}" LOG_LEVEL="$SERVICE_LOG_LEVEL" \
  DELAY_SHUTDOWN_SECONDS=0 "${SEAL_ENV[@]}" "${IDLE_ENV[@]}" "${CACHE_ENV[@]}" "$RELEASE/auth0-client" serve
SERVICE_PID=$LAST_PID
SERVICE_OFF_PORT=$(free_port)
SERVICE_OFF_URL=http://127.0.0.1:$SERVICE_OFF_PORT
start service-off env HTTP_PORT="$SERVICE_OFF_PORT" SERVICE_CONFIG_PATH="$WORK" SERVICE_CONFIG_FILE_NAME=config.json \
  ORIGINAL_PROTOCOL_HEADER=x-forwarded-proto "${SERVICE_REDIS_ENV[@]}" LOG_LEVEL="$SERVICE_LOG_LEVEL" \
  DELAY_SHUTDOWN_SECONDS=0 "${SEAL_ENV[@]}" "${IDLE_ENV[@]}" SESSION_CACHE_SIZE=0 "$RELEASE/auth0-client" serve
SERVICE_OFF_PID=$LAST_PID
wait_for service "$SERVICE_URL/-/ready" "$SERVICE_PID"
wait_for service-off "$SERVICE_OFF_URL/-/ready" "$SERVICE_OFF_PID"

FLOOR_PORT=$(free_port)
FLOOR_URL=http://127.0.0.1:$FLOOR_PORT
start floor "$RELEASE/bench-floor" --port "$FLOOR_PORT" "${FLOOR_REDIS_ARGS[@]}"
FLOOR_PID=$LAST_PID
wait_for floor "$FLOOR_URL/me" "$FLOOR_PID" any
NOIO_PORT=$(free_port)
NOIO_URL=http://127.0.0.1:$NOIO_PORT
start floor-noio "$RELEASE/bench-floor" --port "$NOIO_PORT" --no-io
NOIO_PID=$LAST_PID
wait_for floor-noio "$NOIO_URL/me" "$NOIO_PID" any

export BENCH_PEER_URL="" BENCH_PEER_PID=""
PEER_PACKAGES="(not run)"
if [[ $PEER != 0 ]]; then
  PEER_PORT=$(free_port)
  BENCH_PEER_URL=http://127.0.0.1:$PEER_PORT
  start peer env NODE_ENV=production NODE_PATH="$PEER_DIR/node_modules" PORT="$PEER_PORT" \
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT" ISSUER_BASE_URL="$TENANT_URL" \
    CLIENT_ID=dev-website-client CLIENT_SECRET=dev-website-secret node "$BENCH/peer/server.js"
  BENCH_PEER_PID=$LAST_PID
  # /me answers 401 without a session, /login a redirect once the tenant is discovered.
  wait_for peer "$BENCH_PEER_URL/me" "$BENCH_PEER_PID" any
  PEER_PACKAGES=$(cd "$PEER_DIR" && node -e '
    const names = ["express", "express-openid-connect", "express-session", "connect-redis", "redis"];
    console.log(names.map((n) => n + " " + require("./node_modules/" + n + "/package.json").version).join(", "));')
fi

export BENCH_OIDC_URL="" BENCH_OIDC_PID=""
OIDC_FACTS="(not run)"
if [[ $PEER_OIDC != 0 ]]; then
  if [[ $OIDC_MPM == prefork ]]; then OIDC_THREADS=1; fi
  OIDC_DIR=$WORK/oidc
  mkdir -p "$OIDC_DIR/htdocs"
  # The static page: a fixed user of the size of a /userinfo answer (the floors' answer).
  printf '%s' '{"sub":"auth0|dev000000000000000000001","userId":"auth0|dev000000000000000000001","email":"dev@example.com","email_verified":true,"name":"Dev User","nickname":"dev","groups":["admin","dev"]}' \
    >"$OIDC_DIR/htdocs/user.json"
  # Unprivileged: as the invoking user, or as www-data when the bench runs as root.
  AS_USER=()
  if [[ $(id -u) == 0 ]]; then
    chown -R www-data:www-data "$OIDC_DIR"
    AS_USER=(setpriv --reuid=www-data --regid=www-data --init-groups)
  fi
  start oidc env OIDC_DIR="$OIDC_DIR" OIDC_MODULES="$OIDC_MODULES" OIDC_PORT="$OIDC_PORT" OIDC_URL="$OIDC_URL" \
    OIDC_MPM="$OIDC_MPM" OIDC_SERVERS="$OIDC_SERVERS" OIDC_THREADS="$OIDC_THREADS" \
    OIDC_WORKERS=$((OIDC_SERVERS * OIDC_THREADS)) OIDC_TENANT="$TENANT_URL" \
    OIDC_CLIENT_ID=bench-oidc-peer OIDC_CLIENT_SECRET=bench-oidc-secret \
    OIDC_PASSPHRASE="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
    OIDC_REDIS="127.0.0.1:$REDIS_PORT" OIDC_CACHE_ENCRYPT="$([[ $SEALED != 0 ]] && echo On || echo Off)" "${AS_USER[@]}" "$APACHE" -f "$BENCH/oidc/httpd.conf" -DFOREGROUND
  BENCH_OIDC_PID=$LAST_PID
  BENCH_OIDC_URL=$OIDC_URL
  # The info hook answers 401 without a session once httpd is up.
  if ! (wait_for oidc "$OIDC_URL/redirect_uri?info=json" "$BENCH_OIDC_PID" any); then
    tail -20 "$OIDC_DIR/error.log" >&2 || true
    die "the mod_auth_openidc peer did not start (logs: $WORK/oidc.log, $OIDC_DIR/error.log)"
  fi
  OIDC_FACTS="$("$APACHE" -v | sed -n 's/^Server version: //p'), mod_auth_openidc $(dpkg-query -W -f '${Version}' libapache2-mod-auth-openidc 2>/dev/null || echo '?'); MPM $OIDC_MPM, $OIDC_SERVERS process(es) x $OIDC_THREADS thread(s); OIDCCacheEncrypt $([[ $SEALED != 0 ]] && echo On || echo Off)"
fi

# --- measure -----------------------------------------------------------------------------
export BENCH_REDIS_PORT=$REDIS_PORT BENCH_TENANT_URL=$TENANT_URL BENCH_TENANT_PID=$TENANT_PID
export BENCH_SERVICE_URL=$SERVICE_URL BENCH_SERVICE_PID=$SERVICE_PID
export BENCH_SERVICE_OFF_URL=$SERVICE_OFF_URL BENCH_SERVICE_OFF_PID=$SERVICE_OFF_PID
export BENCH_FLOOR_URL=$FLOOR_URL BENCH_FLOOR_PID=$FLOOR_PID
export BENCH_NOIO_URL=$NOIO_URL BENCH_NOIO_PID=$NOIO_PID
BENCH_FACTS=$(
  CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') \
  CORES=$(nproc) MEM=$(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) \
  COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) \
  DIRTY=$(git -C "$ROOT" status --porcelain -- crates bench/floor 2>/dev/null | grep -q . && echo ' (+ uncommitted changes)' || true) \
  REDIS=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') NODE=$(node --version 2>/dev/null || echo none) \
  PEER_PACKAGES=$PEER_PACKAGES OIDC=$OIDC_FACTS CACHE=${CACHE_SIZE:-default} \
  LOG=$SERVICE_LOG_LEVEL SEALED=$SEALED TLS=$REDIS_TLS python3 -c '
import json, os
e = os.environ
print(json.dumps({"cpu": e["CPU"], "cores": e["CORES"], "memory": e["MEM"], "commit": e["COMMIT"],
  "dirty": e["DIRTY"], "redis": e["REDIS"], "node": e["NODE"], "peer_packages": e["PEER_PACKAGES"],
  "oidc_peer": e["OIDC"], "cache_size": e["CACHE"],
  "log_level": e["LOG"], "sealed": e["SEALED"] != "0", "redis_tls": e["TLS"] != "0"}))'
)
export BENCH_FACTS

say "measuring (at most $RUN_TIMEOUT s); raw figures and logs in ${WORK#"$ROOT"/}"
start measure timeout "$RUN_TIMEOUT" python3 "$BENCH/lib/bench.py" run
MEASURE_PID=$LAST_PID
tail -f --pid="$MEASURE_PID" "$WORK/measure.log" >&2 &
PIDS+=($!)
if wait "$MEASURE_PID"; then
  cat "$BENCH_REPORT"
  say "report written to ${BENCH_REPORT#"$ROOT"/}"
else
  die "measuring failed or timed out (log: $WORK/measure.log)"
fi
