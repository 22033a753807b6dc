#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/k8s offline: renders them with `kubectl kustomize`
# and checks every object against the Kubernetes 1.32 schema with kubernetes-validate (PyPI,
# installed into a cached virtual environment), strictly (unknown fields are errors). Then
# checks what eddy relies on: the process index from the pod ordinal, a hostfile line per
# replica, a headless Service publishing not-ready pods, and checkpoints on S3.
#
# EDDY_K8S_VENV (default target/k8s-validate/venv) is where kubernetes-validate is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${EDDY_K8S_VENV:-target/k8s-validate/venv}
requirement='kubernetes-validate==1.34.1'

if ! command -v kubectl > /dev/null; then
    echo "k8s-validate.sh: kubectl is not installed (it renders the kustomization)" >&2
    exit 1
fi
if [[ ! -f "$venv/installed" ]]; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
    touch "$venv/installed"
fi
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
kubectl kustomize deploy/k8s > "$rendered"
"$venv/bin/kubernetes-validate" -k 1.32.0 --strict "$rendered"

fail() {
    echo "k8s-validate.sh: $*" >&2
    exit 1
}
replicas=$(grep -E '^  replicas: [0-9]+' "$rendered" | awk '{print $2}')
hosts=$(grep -cE '^    eddy-[0-9]+\.eddy:[0-9]+$' "$rendered")
[[ "$replicas" == "$hosts" ]] || fail "$replicas replicas but $hosts hostfile lines"
grep -q -- "- --processes=$replicas$" "$rendered" || fail "--processes does not match replicas ($replicas)"
grep -q -- "- --process=\$(POD_INDEX)$" "$rendered" || fail "the process index is not the pod ordinal"
grep -q "fieldPath: metadata.labels\['apps.kubernetes.io/pod-index'\]" "$rendered" \
    || fail "POD_INDEX does not come from the pod-index label"
grep -q "publishNotReadyAddresses: true" "$rendered" || fail "the Service must publish pods before they are ready"
grep -q "clusterIP: None" "$rendered" || fail "the Service must be headless"
grep -q -- "- --checkpoint-dir=s3://" "$rendered" || fail "checkpoints are not on S3"
echo "k8s-validate.sh: deploy/k8s renders and validates against Kubernetes 1.32 ($replicas processes)"
