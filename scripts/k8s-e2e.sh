#!/usr/bin/env bash
# The Kubernetes backend's contract suite against a real cluster: the current kubeconfig context
# (KUBECONFIG honoured). For a local one: `kind create cluster` or `k3d cluster create`.
# The namespace (CLAUDERON_K8S_NAMESPACE, default clauderon-e2e) is created if missing; the
# sessions run node:20-bookworm-slim (CLAUDERON_K8S_IMAGE: it needs sh and node, which runs the
# proxy relay the backend execs into each pod) with volumes of the default storage class
# (CLAUDERON_K8S_STORAGE_CLASS to pick one); the clauderon user needs the Role in the README,
# pods/exec and pods/attach included. Nothing here runs in .ci/run: CI has no cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
ns="${CLAUDERON_K8S_NAMESPACE:-clauderon-e2e}"
if ! command -v kubectl >/dev/null 2>&1; then
  echo "k8s-e2e: kubectl is needed to prepare the namespace" >&2
  exit 1
fi
kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns"
export CLAUDERON_K8S_NAMESPACE="$ns"
cargo test -p clauderon-kubernetes --features k8s-e2e --test contract_cluster -- --test-threads=2
