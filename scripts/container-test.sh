#!/usr/bin/env bash
# Builds the Containerfile and tests the image for real: podman and stand-in base images
# from ../shared/tools/containers.sh (no public image registry is reachable here), a real
# redis-server and a real devtenant on the host, the image run `--read-only --network host`
# with config.json mounted read-only. Checks: /-/ready 200; a password login and /userinfo
# through the container (the session in that Redis); the process runs as 65532:65532;
# SIGTERM turns /-/ready to 503 while the listener is still open and the container exits 0
# within DELAY_SHUTDOWN_SECONDS + 2 s. Prints the build time, the image and binary sizes.
# Exits non-zero on any failure; removes its container and stops its processes on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

DELAY=${CONTAINER_TEST_DELAY_SHUTDOWN_SECONDS:-2}
IMAGE=${CONTAINER_TEST_IMAGE:-localhost/auth0-client:test}
NAME="auth0-client-test-$$"
HANG_GUARD=60 # seconds: an upper bound on any wait, so that a broken build fails, not hangs

fail() { echo "container-test: FAIL: $*" >&2; exit 1; }
note() { echo "container-test: $*"; }

# containers.sh: CI has a read-only copy of shared/ beside the clone.
containers=""
for candidate in "${CONTAINERS_SH:-}" "$repo/../shared/tools/containers.sh" /work/shared/tools/containers.sh; do
  if [ -n "$candidate" ] && [ -f "$candidate" ]; then containers=$candidate; break; fi
done
[ -n "$containers" ] || fail "shared/tools/containers.sh not found (set CONTAINERS_SH)"
pod() { bash "$containers" podman "$@"; }

need() { # command, Debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "$1 not found: installing $2 with apt-get" >&2
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null \
    || true
  command -v "$1" >/dev/null 2>&1 || fail "$1 is missing and could not be installed"
}
need redis-server redis-server
need redis-cli redis-tools
need curl curl
need python3 python3

work=$(mktemp -d /tmp/auth0-client-container-test.XXXXXX)
pids=()
cleanup() {
  local code=$?
  pod rm -f -i -t 0 "$NAME" "$NAME-copy" >/dev/null 2>&1 || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$code" -ne 0 ] && [ -d "$work" ]; then
    for log in "$work"/*.log; do [ -f "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 20 "$log" >&2; }; done
  fi
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now_ms() { date +%s%3N; }

# --- podman, stand-in bases, the image ---------------------------------------------------
bash "$containers" setup
mapfile -t bases < <(bash "$containers" images)
runtime_base=${bases[0]} builder_base=${bases[1]}
note "building $IMAGE (builder $builder_base, runtime $runtime_base)"
started=$(date +%s)
pod build --network host \
  --build-arg "BUILDER_IMAGE=$builder_base" --build-arg "RUNTIME_IMAGE=$runtime_base" \
  -t "$IMAGE" -f Containerfile . >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; fail "podman build failed"; }
note "image built in $(( $(date +%s) - started )) s"

# --- the host side: Redis, the devtenant --------------------------------------------------
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
deadline=$(( $(date +%s) + HANG_GUARD ))
until redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "redis-server did not answer PING"
  sleep 0.05
done

cargo build --quiet --locked -p auth0-devtenant --bin auth0-devtenant
"$repo/target/debug/auth0-devtenant" --port 0 >"$work/devtenant.log" 2>&1 &
pids+=($!)
deadline=$(( $(date +%s) + HANG_GUARD ))
tenant=""
until [ -n "$tenant" ]; do
  tenant=$(sed -n 's/^auth0-devtenant listening on \(http:[^ ]*\).*/\1/p' "$work/devtenant.log")
  kill -0 "${pids[-1]}" 2>/dev/null || fail "the devtenant exited"
  [ "$(date +%s)" -lt "$deadline" ] || fail "the devtenant did not start"
  [ -n "$tenant" ] || sleep 0.05
done
note "redis-server on 127.0.0.1:$redis_port, devtenant at $tenant"

# --- config.json for the service, pointing at the devtenant's built-in clients ------------
port=$(free_port)
app="http://127.0.0.1:$port"
mkdir -p "$work/config"
cat >"$work/config/config.json" <<JSON
{
  "clients": {
    "token": {
      "auth0Url": "$tenant",
      "clientId": "dev-token-client",
      "clientSecret": "dev-token-secret",
      "redirectUrl": "$app/callback",
      "scopes": ["openid", "profile", "email", "offline_access"],
      "supportedConnections": ["Username-Password-Authentication"],
      "defaultConnection": "Username-Password-Authentication"
    }
  },
  "defaultClient": "token",
  "customClaimsNamespaces": ["https://auth0-client.dev/app_metadata", "https://auth0-client.dev/user_metadata"],
  "managementClient": {
    "auth0Url": "$tenant",
    "clientId": "dev-management-client",
    "clientSecret": "dev-management-secret",
    "defaultManagementConnectionName": "Username-Password-Authentication",
    "supportedConnectionsMap": {
      "Username-Password-Authentication": { "connectionId": "con_UPA0000000000001" }
    }
  }
}
JSON
# Readable by the container's user (65532), which owns nothing on the host.
chmod 755 "$work" "$work/config"; chmod 644 "$work/config/config.json"

# --- run the image --------------------------------------------------------------------------
pod run -d --name "$NAME" --read-only --network host \
  --cap-drop ALL --security-opt no-new-privileges \
  -v "$work/config:/etc/auth0-client:ro" \
  -e HTTP_PORT="$port" \
  -e SERVICE_CONFIG_PATH=/etc/auth0-client -e SERVICE_CONFIG_FILE_NAME=config.json \
  -e ORIGINAL_PROTOCOL_HEADER=x-forwarded-proto \
  -e REDIS_HOSTS="127.0.0.1:$redis_port" -e SESSION_SCOPE=container-test \
  -e DELAY_SHUTDOWN_SECONDS="$DELAY" \
  "$IMAGE" >/dev/null

status() { curl -s -o "$work/body" -w '%{http_code}' --max-time 5 "$@" || true; }
running() { [ "$(pod inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null)" = "true" ]; }

deadline=$(( $(date +%s) + HANG_GUARD ))
until [ "$(status "$app/-/ready")" = 200 ]; do
  if ! running; then pod logs "$NAME" >&2 || true; fail "the container stopped before it was ready"; fi
  [ "$(date +%s)" -lt "$deadline" ] || { pod logs "$NAME" >&2 || true; fail "/-/ready never answered 200"; }
  sleep 0.05
done
note "ok: /-/ready 200"

[ "$(pod inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$NAME")" = "true" ] || fail "the root filesystem is not read-only"
pid=$(pod inspect --format '{{.State.Pid}}' "$NAME")
[ "$(cat "/proc/$pid/comm")" = "auth0-client" ] || fail "the container's process is $(cat "/proc/$pid/comm"), not auth0-client"
uid=$(awk '/^Uid:/ {print $2":"$3":"$4":"$5}' "/proc/$pid/status")
gid=$(awk '/^Gid:/ {print $2":"$3":"$4":"$5}' "/proc/$pid/status")
[ "$uid" = "65532:65532:65532:65532" ] || fail "the process runs as uid $uid, not 65532"
[ "$gid" = "65532:65532:65532:65532" ] || fail "the process runs as gid $gid, not 65532"
note "ok: auth0-client runs as uid/gid 65532 ($(pod top "$NAME" user group | tail -n 1 | xargs)), read-only root"

code=$(status -X POST "$app/oauth/token" -H 'client-type: token' -H 'content-type: application/json' \
  -d '{"grant_type":"password","username":"dev@example.com","password":"DevPassword1!"}')
[ "$code" = 200 ] || fail "password login answered $code: $(cat "$work/body")"
access_token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])' <"$work/body") \
  || fail "the login answer has no accessToken"
keys=$(redis-cli -p "$redis_port" --scan --pattern 'auth0-client:container-test:session:*' | wc -l)
[ "$keys" -ge 1 ] || fail "no session in redis-server after the login"
code=$(status "$app/userinfo" -H "Authorization: Bearer $access_token")
[ "$code" = 200 ] || fail "/userinfo answered $code"
python3 -c 'import json,sys; assert json.load(sys.stdin)["email"] == "dev@example.com"' <"$work/body" \
  || fail "/userinfo does not describe dev@example.com: $(cat "$work/body")"
note "ok: password login 200 (session in redis-server), /userinfo 200 for dev@example.com"

# --- SIGTERM ---------------------------------------------------------------------------------
pod kill --signal TERM "$NAME" >/dev/null
deadline=$(( $(date +%s) + HANG_GUARD ))
while :; do
  code=$(status "$app/-/ready")
  case "$code" in
    503) break ;;
    200) ;; # the signal is on its way
    *) fail "/-/ready answered '$code' after SIGTERM: the listener must stay open for DELAY_SHUTDOWN_SECONDS with readiness 503" ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || fail "/-/ready never turned 503 after SIGTERM"
  sleep 0.02
done
grep -q '"KO"' "$work/body" || fail "/-/ready 503 without status KO: $(cat "$work/body")"
note "ok: /-/ready 503 after SIGTERM while the listener is open"
deadline=$(( $(date +%s) + HANG_GUARD ))
while running; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the container did not exit after SIGTERM"
  sleep 0.05
done
exit_code=$(pod inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$exit_code" = 0 ] || { pod logs "$NAME" >&2 || true; fail "the container exited with $exit_code after SIGTERM"; }
# From the service's own record of the signal (its log line's time, epoch ms) to the exit
# time recorded by podman: the podman CLI's own latency is not the service's.
pod logs "$NAME" >"$work/service.log" 2>&1
finished=$(pod inspect --format '{{.State.FinishedAt}}' "$NAME")
elapsed_ms=$(python3 - "$work/service.log" "$finished" <<'PY'
import json, re, sys
from datetime import datetime
signal_ms = None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if line.startswith("{") and "shutdown signal received" in line:
        signal_ms = json.loads(line)["time"]
if signal_ms is None:
    sys.exit("no 'shutdown signal received' log line")
# podman prints e.g. 2026-12-01 23:30:01.123456789 +0000 UTC
m = re.match(r"(\S+ \d+:\d+:\d+)(?:\.(\d+))? ([+-]\d{4})", sys.argv[2])
if not m:
    sys.exit(f"unexpected FinishedAt {sys.argv[2]!r}")
exited = datetime.strptime(f"{m[1]} {m[3]}", "%Y-%m-%d %H:%M:%S %z").timestamp()
exited_ms = int(exited * 1000) + int((m[2] or "0")[:3].ljust(3, "0"))
print(exited_ms - signal_ms)
PY
) || fail "cannot time the shutdown from the service's log and podman's FinishedAt"
limit_ms=$(( (DELAY + 2) * 1000 ))
[ "$elapsed_ms" -le "$limit_ms" ] || fail "exit $elapsed_ms ms after SIGTERM, over DELAY_SHUTDOWN_SECONDS + 2 s = $limit_ms ms"
[ "$elapsed_ms" -ge $(( DELAY * 1000 )) ] || fail "exit $elapsed_ms ms after SIGTERM, before DELAY_SHUTDOWN_SECONDS"
note "ok: exit 0 ${elapsed_ms} ms after SIGTERM (DELAY_SHUTDOWN_SECONDS=$DELAY, limit $limit_ms ms)"

# --- sizes -----------------------------------------------------------------------------------
image_bytes=$(pod image inspect --format '{{.Size}}' "$IMAGE")
base_bytes=$(pod image inspect --format '{{.Size}}' "$runtime_base")
pod create --name "$NAME-copy" "$IMAGE" >/dev/null
pod cp "$NAME-copy:/usr/local/bin/auth0-client" "$work/auth0-client" >/dev/null
pod rm -f "$NAME-copy" >/dev/null
binary_bytes=$(stat -c %s "$work/auth0-client")
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
note "image $IMAGE: $(mb "$image_bytes") = runtime base $(mb "$base_bytes") + $(mb $((image_bytes - base_bytes))) of ours; binary $(mb "$binary_bytes")"
note "passed"
