#!/usr/bin/env bash
# Fuzzes auth0-client against its own OpenAPI document with schemathesis, in dev mode.
#
#   scripts/schemathesis.sh                      # every check, bounded examples and time
#   MAX_EXAMPLES=100 MAX_TIME=600 scripts/schemathesis.sh
#
# Starts `auth0-client dev` on a free loopback port, validates /documentation/json with
# openapi-spec-validator, runs `schemathesis run --checks all`, and stops the service.
# schemathesis and the validator are installed from PyPI into .tools/schemathesis (a
# virtualenv git ignores) on first use. Exits non-zero on any failed check, server
# error, schema violation or crash; the report is in $WORK (printed at the end).
#
# Knobs: MAX_EXAMPLES=25 (per operation and phase), MAX_TIME=300 (seconds, the whole
# run), SEED (reproduce a run), AUTH0_CLIENT_BIN (default: cargo build, debug),
# SCHEMATHESIS_VENV (default .tools/schemathesis).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${SCHEMATHESIS_VENV:-$ROOT/.tools/schemathesis}
MAX_EXAMPLES=${MAX_EXAMPLES:-25}
MAX_TIME=${MAX_TIME:-300}
SCHEMATHESIS_VERSION=4.32.5
VALIDATOR_VERSION=0.9.0

say() { printf '[schemathesis %s] %s\n' "$(date -u +%T)" "$*" >&2; }

# Python 3.11 up to 3.11.7 can fail inside hypothesis ("AST constructor recursion depth
# mismatch"): prefer a newer interpreter when one is installed (PYTHON= to choose).
if [[ -z ${PYTHON:-} ]]; then
  for candidate in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3 \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3 python3; do
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      PYTHON=$candidate
      break
    fi
  done
  PYTHON=${PYTHON:-python3}
fi

if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
  && "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
  rm -rf "$VENV"
fi
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION" \
  || [[ ! -x $VENV/bin/openapi-spec-validator ]]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$VALIDATOR_VERSION"
fi

BIN=${AUTH0_CLIENT_BIN:-}
if [[ -z $BIN ]]; then
  cargo build --quiet -p auth0-client --bin auth0-client
  BIN=$ROOT/target/debug/auth0-client
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/auth0-client-schemathesis.XXXXXX")
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" dev --port "$PORT" >"$WORK/dev.log" 2>&1 &
DEV_PID=$!
stop() {
  kill -TERM "$DEV_PID" 2>/dev/null || true
  wait "$DEV_PID" 2>/dev/null || true
}
trap stop EXIT
BASE=http://127.0.0.1:$PORT

for _ in $(seq 300); do
  curl -fsS "$BASE/-/healthz" >/dev/null 2>&1 && break
  kill -0 "$DEV_PID" 2>/dev/null || { cat "$WORK/dev.log" >&2; say "dev mode did not start"; exit 1; }
  sleep 0.1
done
curl -fsS "$BASE/documentation/json" -o "$WORK/openapi.json"
"$VENV/bin/openapi-spec-validator" "$WORK/openapi.json"

# A session of the seeded user (token client), so that the session routes answer 200 and
# their bodies are checked against the schema too (schemathesis also drops it to check
# that those routes refuse a request without one).
TOKEN=$(curl -fsS -X POST "$BASE/oauth/token" -H 'client-type: token' \
  --data-urlencode grant_type=password --data-urlencode username=dev@example.com \
  --data-urlencode 'password=DevPassword1!' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')

say "fuzzing $BASE (max $MAX_EXAMPLES examples per operation, $MAX_TIME s)"
set +e
"$VENV/bin/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" \
  run "$BASE/documentation/json" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --request-timeout 10 \
  --workers 2 \
  --no-color \
  --generation-database none \
  ${SEED:+--seed "$SEED"} \
  --report junit,ndjson --report-dir "$WORK/report" \
  -H 'x-forwarded-proto: http' \
  -H "Authorization: Bearer $TOKEN"
status=$?
set -e
if grep -q '"level":50' "$WORK/dev.log"; then
  say "the service logged errors during the run:"
  grep '"level":50' "$WORK/dev.log" | head -20 >&2
  status=1
fi
say "report and service log: $WORK"
exit "$status"
