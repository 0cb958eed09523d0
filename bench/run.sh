#!/usr/bin/env bash
# The benchmark in one command: auth0-client's hot path against a floor and a peer.
#
#   bench/run.sh                  # N=10000 sessions, 3 rounds x 10 s per target
#   N=2000 ROUNDS=2 bench/run.sh  # quicker
#
# Everything runs on 127.0.0.1: a redis-server, the devtenant, auth0-client (release),
# the floor (bench/floor), the peer (bench/peer, npm packages installed into bench/.work/).
# Every process started here is stopped on exit. The report goes to bench/results/<date>.md
# (REPORT= to change) and to stdout; logs and raw figures stay in bench/.work/run-<time>/.
#
# Knobs (environment):
#   N=10000                 sessions in auth0-client (and the floor), and peer logins wanted
#   COOKIE_SHARE=0.2        share of N logged in through the website client (sid cookies)
#   BENCH_USERS=N           distinct devtenant users the logins rotate over
#   ROUNDS=3 DURATION=10    load rounds, seconds per target per round
#   THREADS=2 CONNECTIONS=64  wrk threads and connections, the same for every target
#   PEER=1                  0 leaves the peer out (no node/npm needed)
#   PEER_LOGIN_SECONDS=180  time budget of the peer's logins (fewer than N is reported)
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

say "devtenant with $BENCH_USERS users"
python3 "$BENCH/lib/bench.py" tenant-file "$BENCH_USERS" "$WORK/tenant.json"
TENANT_PORT=$(free_port)
TENANT_URL=http://127.0.0.1:$TENANT_PORT
start devtenant env RUST_LOG=warn "$RELEASE/auth0-devtenant" --port "$TENANT_PORT" --config "$WORK/tenant.json"
TENANT_PID=$LAST_PID
wait_for devtenant "$TENANT_URL/.well-known/openid-configuration" "$TENANT_PID"

SERVICE_PORT=$(free_port)
SERVICE_URL=http://127.0.0.1:$SERVICE_PORT
cat >"$WORK/config.json" <<EOF
{
  "clients": {
    "token": {
      "auth0Url": "$TENANT_URL",
      "clientId": "dev-token-client",
      "clientSecret": "dev-token-secret",
      "redirectUrl": "$SERVICE_URL/callback",
      "scopes": ["openid", "profile", "email", "offline_access"],
      "supportedConnections": ["Username-Password-Authentication"]
    },
    "website": {
      "auth0Url": "$TENANT_URL",
      "clientId": "dev-website-client",
      "clientSecret": "dev-website-secret",
      "redirectUrl": "$SERVICE_URL/callback",
      "scopes": ["website", "profile", "email"],
      "sameSite": "Lax"
    }
  },
  "defaultClient": "token",
  "customClaimsNamespaces": ["https://auth0-client.dev/app_metadata", "https://auth0-client.dev/user_metadata"],
  "managementClient": {
    "auth0Url": "$TENANT_URL",
    "clientId": "dev-management-client",
    "clientSecret": "dev-management-secret",
    "defaultManagementConnectionName": "Username-Password-Authentication",
    "supportedConnectionsMap": {"Username-Password-Authentication": {"connectionId": "con_UPA0000000000001"}}
  },
  "auth0TenantUrl": "$TENANT_URL"
}
EOF
SEAL_ENV=()
if [[ $SEALED != 0 ]]; then
  SEAL_ENV=(SESSION_ENCRYPTION_KEY="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')")
fi
IDLE_ENV=()
if [[ $IDLE != 0 ]]; then
  IDLE_ENV=(SESSION_IDLE_SECONDS="$IDLE")
fi
say "auth0-client (LOG_LEVEL=$SERVICE_LOG_LEVEL${SEAL_ENV:+, sealed sessions}${IDLE_ENV:+, SESSION_IDLE_SECONDS=$IDLE}${REDIS_TLS_ARGS:+, Redis over TLS})"
start service env HTTP_PORT="$SERVICE_PORT" SERVICE_CONFIG_PATH="$WORK" SERVICE_CONFIG_FILE_NAME=config.json \
  ORIGINAL_PROTOCOL_HEADER=x-forwarded-proto "${SERVICE_REDIS_ENV[@]}" LOG_LEVEL="$SERVICE_LOG_LEVEL" \
  DELAY_SHUTDOWN_SECONDS=0 "${SEAL_ENV[@]}" "${IDLE_ENV[@]}" "$RELEASE/auth0-client" serve
SERVICE_PID=$LAST_PID
wait_for service "$SERVICE_URL/-/ready" "$SERVICE_PID"

FLOOR_PORT=$(free_port)
FLOOR_URL=http://127.0.0.1:$FLOOR_PORT
start floor "$RELEASE/bench-floor" --port "$FLOOR_PORT" "${FLOOR_REDIS_ARGS[@]}"
FLOOR_PID=$LAST_PID
wait_for floor "$FLOOR_URL/me" "$FLOOR_PID" any

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

# --- measure -----------------------------------------------------------------------------
export BENCH_REDIS_PORT=$REDIS_PORT BENCH_TENANT_URL=$TENANT_URL BENCH_TENANT_PID=$TENANT_PID
export BENCH_SERVICE_URL=$SERVICE_URL BENCH_SERVICE_PID=$SERVICE_PID
export BENCH_FLOOR_URL=$FLOOR_URL BENCH_FLOOR_PID=$FLOOR_PID
BENCH_FACTS=$(
  CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') \
  CORES=$(nproc) MEM=$(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) \
  COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) \
  DIRTY=$(git -C "$ROOT" status --porcelain -- crates bench/floor 2>/dev/null | grep -q . && echo ' (+ uncommitted changes)' || true) \
  REDIS=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') NODE=$(node --version 2>/dev/null || echo none) \
  PEER_PACKAGES=$PEER_PACKAGES LOG=$SERVICE_LOG_LEVEL SEALED=$SEALED TLS=$REDIS_TLS python3 -c '
import json, os
e = os.environ
print(json.dumps({"cpu": e["CPU"], "cores": e["CORES"], "memory": e["MEM"], "commit": e["COMMIT"],
  "dirty": e["DIRTY"], "redis": e["REDIS"], "node": e["NODE"], "peer_packages": e["PEER_PACKAGES"],
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
