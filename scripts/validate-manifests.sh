#!/usr/bin/env bash
# Renders the Kubernetes base (deploy/kubernetes) with `kubectl kustomize`, alone and with
# its optional components, and validates every object offline against the Kubernetes
# OpenAPI schemas (kubernetes-validate from PyPI, strict: unknown fields are errors) for
# the Kubernetes versions below; then checks what the schemas cannot (scripts/
# manifest_checks.py: references between the objects, probes, security context, the
# shutdown arithmetic, the ServiceMonitor, whose CRD schema is not available offline).
# The tool lives in a virtualenv under .work/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VERSIONS=${KUBERNETES_VERSIONS:-"1.30.0 1.34.0"}
VALIDATOR_VERSION=1.37.0
work=.work/manifests
venv=.work/kubernetes-validate

fail() { echo "validate-manifests: $*" >&2; exit 1; }

command -v kubectl >/dev/null 2>&1 || fail "kubectl is missing (it renders the kustomization)"
command -v python3 >/dev/null 2>&1 || fail "python3 is missing"

if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -qF "$VALIDATOR_VERSION"; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    echo "python3 -m venv failed: installing python3-venv with apt-get" >&2
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv"; python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VALIDATOR_VERSION"
fi

rm -rf "$work"; mkdir -p "$work/overlay"
# An overlay enabling every optional component, as an operator's would.
cat > "$work/overlay/kustomization.yaml" <<'YAML'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../../deploy/kubernetes
components:
  - ../../../deploy/kubernetes/components/servicemonitor
  - ../../../deploy/kubernetes/components/networkpolicy
YAML
kubectl kustomize deploy/kubernetes > "$work/base.yaml"
kubectl kustomize "$work/overlay" > "$work/all.yaml"
echo "rendered kinds (base): $(grep '^kind:' "$work/base.yaml" | cut -d' ' -f2 | tr '\n' ' ')"
echo "rendered kinds (with components): $(grep '^kind:' "$work/all.yaml" | cut -d' ' -f2 | tr '\n' ' ')"

# The validator must reject a broken object (else a pass would prove nothing).
sed 's/readinessProbe:/readinesProbe:/' "$work/base.yaml" > "$work/broken.yaml"
if "$venv/bin/kubernetes-validate" --strict --quiet --no-warn -k 1.30.0 "$work/broken.yaml" >/dev/null 2>&1; then
  fail "kubernetes-validate accepted a Deployment with an unknown field"
fi

for version in $KUBERNETES_VERSIONS; do
  # --no-warn: the one warning is the ServiceMonitor's missing schema, reported below.
  "$venv/bin/kubernetes-validate" --strict --quiet --no-warn -k "$version" "$work/all.yaml" \
    || fail "schema validation against Kubernetes $version failed"
  echo "schemas of Kubernetes $version (strict): every core object valid"
done

"$venv/bin/python" scripts/manifest_checks.py "$work/base.yaml" "$work/all.yaml"
