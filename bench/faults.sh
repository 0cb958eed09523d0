#!/usr/bin/env bash
# Fault scenarios with real processes: redis-server with AOF (and a master + replica +
# 3 sentinels set), two auth0-client replicas behind HAProxy (health checks on /-/ready),
# the devtenant, and a steady client load (/userinfo, logins, refreshes).
#
#   bench/faults.sh                          # every scenario, soak 2 min (about 6 min)
#   FAULTS_SHORT=1 bench/faults.sh           # the CI version (shorter phases, soak 30 s)
#   FAULTS_SOAK_SECONDS=600 bench/faults.sh  # the 10-minute soak
#
# Scenarios: rolling, redis-crash, auth0, soak, slow-clients, sentinel (FAULTS_SCENARIOS=a,b
# picks some). Everything listens on 127.0.0.1, every loop is bounded, every process started
# here is stopped on exit. The figures table goes to stdout and bench/results/faults-<date>.md
# (FAULTS_REPORT= to change); logs stay in bench/.work/faults-<time>/. Exit 1 when a
# must-be-zero figure is not zero.
#
# Knobs (environment):
#   FAULTS_SHORT=0            1: the short version run by .ci/run
#   FAULTS_SOAK_SECONDS=120   soak length (30 with FAULTS_SHORT=1)
#   FAULTS_SCENARIOS=...      comma-separated subset, in this order
#   FAULTS_RPS=150            /userinfo requests per second of the steady load
#   FAULTS_PROFILE=debug      debug or release binaries (built with cargo, once)
#   FAULTS_BUILD=1            0 uses target/<profile> as it is
#   FAULTS_TIMEOUT=1800       bound in seconds of the whole run
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
PROFILE=${FAULTS_PROFILE:-debug}
export FAULTS_BIN=$ROOT/target/$PROFILE
export FAULTS_SHORT=${FAULTS_SHORT:-0}
TIMEOUT=${FAULTS_TIMEOUT:-1800}
export FAULTS_REPORT=${FAULTS_REPORT:-$BENCH/results/faults-$(date -u +%F)$([[ $FAULTS_SHORT != 0 ]] && echo -short).md}

say() { printf '[faults %s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

for cmd in python3 redis-server redis-cli; do
  command -v "$cmd" >/dev/null || die "$cmd is not installed (Debian: apt-get install python3 redis-server)"
done
if ! command -v haproxy >/dev/null; then
  say "haproxy not found: installing it with apt-get"
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq haproxy; } >&2 \
    || die "apt-get could not install haproxy"
fi

# 2,000 idle connections + 200 slowloris clients + the load: the harness and the service
# need a few thousand descriptors.
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt 8192 ]]; then
  ulimit -n 8192 2>/dev/null || die "ulimit -n is $(ulimit -n); the slow-clients scenario needs 8192"
fi

if [[ ${FAULTS_BUILD:-1} != 0 ]]; then
  flags=(--quiet -p auth0-client -p auth0-devtenant)
  [[ $PROFILE == release ]] && flags+=(--release)
  say "cargo build ($PROFILE) of auth0-client and auth0-devtenant"
  (cd "$ROOT" && timeout 1800 cargo build "${flags[@]}") || die "cargo build failed"
fi
for bin in auth0-client auth0-devtenant; do
  [[ -x $FAULTS_BIN/$bin ]] || die "$FAULTS_BIN/$bin is missing (FAULTS_BUILD=1 builds it)"
done

export FAULTS_WORK=$BENCH/.work/faults-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$FAULTS_WORK" "$(dirname "$FAULTS_REPORT")"

# Every pid the harness starts is listed in $FAULTS_WORK/pids: stopped here whatever happens.
HARNESS=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [[ -n $HARNESS ]] && kill -TERM "$HARNESS" 2>/dev/null && wait "$HARNESS" 2>/dev/null
  if [[ -f $FAULTS_WORK/pids ]]; then
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$FAULTS_WORK/pids"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAULTS_FACTS=$(
  COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) \
  REDIS=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') \
  HAPROXY=$(haproxy -v | head -1 | awk '{print "HAProxy " $3}') \
  PROFILE=$PROFILE python3 -c '
import json, os, time
e = os.environ
print(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": e["COMMIT"],
  "cores": os.cpu_count(), "load": f"{os.getloadavg()[0]:.1f}", "redis": e["REDIS"],
  "haproxy": e["HAPROXY"], "profile": e["PROFILE"]}))'
)
export FAULTS_FACTS

say "running the scenarios (at most $TIMEOUT s); logs in ${FAULTS_WORK#"$ROOT"/}"
timeout "$TIMEOUT" python3 "$BENCH/lib/faults.py" &
HARNESS=$!
status=0
wait "$HARNESS" || status=$?
HARNESS=""
say "report written to ${FAULTS_REPORT#"$ROOT"/}"
exit "$status"
