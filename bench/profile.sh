#!/usr/bin/env bash
# A CPU profile of auth0-client's /userinfo hot path (session cache on), with perf.
#
#   bench/profile.sh                 # LOG_LEVEL=info, 8 s of samples under wrk -t2 -c64
#   LOG_LEVEL=warn bench/profile.sh  # without the request log line
#   PERF=0 bench/profile.sh          # the wrk figure only
#
# Builds auth0-client and the devtenant (release, with line tables, not stripped) into
# bench/.work/profile-target (PROFILE_TARGET= to change), starts a redis-server, the
# devtenant and auth0-client on 127.0.0.1, logs one user in with the token client and
# loads `GET /userinfo` with its Bearer token. Writes bench/.work/profile/perf.data and prints the top of the report.
# Needs redis-server, wrk and perf (Debian: redis-server wrk linux-perf).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$ROOT/bench/.work/profile
TARGET=${PROFILE_TARGET:-$ROOT/bench/.work/profile-target}
mkdir -p "$WORK"
for tool in redis-server wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "profile: $tool is missing" >&2; exit 1; }
done
if [[ ${PERF:-1} != 0 ]] && ! command -v perf >/dev/null; then
  echo "profile: perf is missing (apt-get install linux-perf), or PERF=0" >&2
  exit 1
fi

(cd "$ROOT" && CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release --quiet -p auth0-client -p auth0-devtenant --target-dir "$TARGET")
BIN=$TARGET/release

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
TENANT_PORT=$(free_port)
"$BIN/auth0-devtenant" --port "$TENANT_PORT" >"$WORK/tenant.log" 2>&1 &
PIDS+=($!)
SERVICE_PORT=$(free_port)
TENANT=http://127.0.0.1:$TENANT_PORT
SERVICE=http://127.0.0.1:$SERVICE_PORT
for _ in $(seq 100); do curl -fs "$TENANT/.well-known/openid-configuration" >/dev/null && break; sleep 0.1; done
"$BIN/auth0-client" dev --print-config "$TENANT" --port "$SERVICE_PORT" >"$WORK/config.json"
env -i PATH="$PATH" HTTP_PORT="$SERVICE_PORT" SERVICE_CONFIG_PATH="$WORK" SERVICE_CONFIG_FILE_NAME=config.json \
  ORIGINAL_PROTOCOL_HEADER=x-forwarded-proto LOG_LEVEL="${LOG_LEVEL:-info}" REDIS_HOSTS="127.0.0.1:$REDIS_PORT" \
  "$BIN/auth0-client" serve >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!
PIDS+=("$SERVICE_PID")
for _ in $(seq 100); do curl -fs "$SERVICE/-/ready" >/dev/null && break; sleep 0.1; done

TOKEN=$(curl -fs -X POST "$SERVICE/oauth/token" -H 'client-type: token' \
  --data-urlencode grant_type=password --data-urlencode username=dev@example.com \
  --data-urlencode 'password=DevPassword1!' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')
HEADERS=(-H "Authorization: Bearer $TOKEN" -H 'client-type: token')
wrk -t2 -c64 -d3s "${HEADERS[@]}" "$SERVICE/userinfo" >/dev/null
wrk -t2 -c64 -d12s "${HEADERS[@]}" "$SERVICE/userinfo" >"$WORK/wrk.txt" &
WRK_PID=$!
if [[ ${PERF:-1} != 0 ]]; then
  sleep 2
  perf record -F 999 -g --call-graph dwarf,16384 -p "$SERVICE_PID" -o "$WORK/perf.data" -- sleep 8 \
    2>"$WORK/perf-record.log"
fi
wait "$WRK_PID"
grep -E "Requests/sec|Latency" "$WORK/wrk.txt"
if [[ ${PERF:-1} != 0 ]]; then
  perf report -i "$WORK/perf.data" --no-children --sort symbol -g none 2>/dev/null | grep '%' | head -25 | cut -c1-120
  echo "profile: full report with: perf report -i $WORK/perf.data --children"
fi
