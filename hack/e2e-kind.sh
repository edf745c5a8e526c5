#!/usr/bin/env bash
# hack/e2e-kind.sh - the end-to-end test on a real cluster (kind).
#
# Needs docker, kind, kubectl and helm, and network access to pull MinIO,
# Prometheus and the KEDA chart. It builds both images, creates a kind cluster,
# installs KEDA, MinIO (S3) and a Prometheus, installs our chart with the seed
# example's values, and checks that:
#   - the TempoCompactor becomes Ready and the compactor pods are ready within
#     seconds (no "Starting" phase);
#   - the ScaledObject carries customHeaders X-Scope-OrgID=tenant-123 and
#     threshold "250", and KEDA created its HPA;
#   - /status/blocklist and /metrics answer on a compactor pod, with
#     tempodb_compaction_outstanding_blocks and tempo_build_info exported;
#   - helm upgrade changes the threshold; helm uninstall removes the children.
# Machines without a container engine (the CI machines here) cannot run it:
# it exits 2 and says so.
#
# env: CLUSTER (tempo-compactor-e2e), KEEP=1 keeps the cluster afterwards.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
CLUSTER=${CLUSTER:-tempo-compactor-e2e}
NS=tempo
V=$(cat VERSION)
for t in docker kind kubectl helm; do
    command -v "$t" >/dev/null || { echo "e2e-kind: $t not found; this test needs a container engine"; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "e2e-kind: no docker engine answers"; exit 2; }

fail() { echo "e2e-kind: FAIL: $*" >&2; exit 1; }
pass() { echo "e2e-kind: ok: $*"; }
cleanup() {
    [ "${KEEP:-0}" = 1 ] || kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
}
trap cleanup EXIT

hack/build-images.sh
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
kind load docker-image --name "$CLUSTER" "tempo-compactor:$V" "tempo-compactor-controller:$V"

helm repo add kedacore https://kedacore.github.io/charts >/dev/null 2>&1 || true
helm repo update kedacore >/dev/null
helm upgrade --install keda kedacore/keda -n keda --create-namespace --wait --timeout 5m

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NS" apply -f - <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: tempo-s3}
stringData: {AWS_ACCESS_KEY_ID: e2e-access, AWS_SECRET_ACCESS_KEY: e2e-secret-key}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: minio}
spec:
  selector: {matchLabels: {app: minio}}
  template:
    metadata: {labels: {app: minio}}
    spec:
      containers:
        - name: minio
          image: quay.io/minio/minio:latest
          args: [server, /data]
          env:
            - {name: MINIO_ROOT_USER, value: e2e-access}
            - {name: MINIO_ROOT_PASSWORD, value: e2e-secret-key}
          ports: [{containerPort: 9000}]
          readinessProbe: {httpGet: {path: /minio/health/ready, port: 9000}}
---
apiVersion: v1
kind: Service
metadata: {name: minio}
spec: {selector: {app: minio}, ports: [{port: 9000}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: prometheus}
spec:
  selector: {matchLabels: {app: prometheus}}
  template:
    metadata: {labels: {app: prometheus}}
    spec:
      containers:
        - name: prometheus
          image: quay.io/prometheus/prometheus:latest
          ports: [{containerPort: 9090}]
---
apiVersion: v1
kind: Service
metadata: {name: prometheus}
spec: {selector: {app: prometheus}, ports: [{port: 9090}]}
YAML
kubectl -n "$NS" rollout status deploy/minio --timeout=180s
kubectl -n "$NS" run mkbucket --rm -i --restart=Never --image=quay.io/minio/mc:latest --command -- \
    sh -c 'mc alias set m http://minio:9000 e2e-access e2e-secret-key && mc mb -p m/tempo-traces'

cat > /tmp/e2e-kind-values.yaml <<YAML
compactor:
  autoscaling:
    enabled: true
    minReplicas: 1
    maxReplicas: 4
    prometheus:
      serverAddress: http://prometheus.$NS.svc:9090
      threshold: "250"
      customHeaders:
        X-Scope-OrgID: tenant-123
storage:
  trace:
    backend: s3
    s3: {bucket: tempo-traces, endpoint: "minio.$NS.svc:9000", insecure: true, forcepathstyle: true}
    credentialsSecretRef: {name: tempo-s3}
YAML
helm upgrade --install tempo-compactor charts/tempo-compactor -n "$NS" -f /tmp/e2e-kind-values.yaml \
    --wait --timeout 5m

t0=$(date +%s)
kubectl -n "$NS" wait --for=condition=Ready tempocompactor --all --timeout=180s ||
    fail "TempoCompactor did not become Ready"
dep=$(kubectl -n "$NS" get deploy -l app.kubernetes.io/component=compactor -o name | head -1)
[ -n "$dep" ] || fail "no compactor Deployment"
kubectl -n "$NS" rollout status "$dep" --timeout=120s || fail "compactor pods not ready"
pass "TempoCompactor Ready and compactor pods ready after $(( $(date +%s) - t0 )) s"

so=$(kubectl -n "$NS" get scaledobject -o jsonpath='{.items[0].spec.triggers[0].metadata.customHeaders} {.items[0].spec.triggers[0].metadata.threshold}')
[ "$so" = "X-Scope-OrgID=tenant-123 250" ] || fail "ScaledObject trigger metadata is '$so'"
pass "ScaledObject customHeaders and threshold"
kubectl -n "$NS" wait --for=jsonpath='{.status.conditions[?(@.type=="Ready")].status}'=True scaledobject --all --timeout=120s ||
    fail "KEDA did not take the ScaledObject"
kubectl -n "$NS" get hpa -o name | grep -q keda-hpa || fail "KEDA created no HPA"
pass "KEDA accepted the ScaledObject and created its HPA"

pod=$(kubectl -n "$NS" get pod -l app.kubernetes.io/component=compactor -o name | head -1)
kubectl -n "$NS" port-forward "$pod" 13200:3200 >/dev/null 2>&1 &
pf=$!
sleep 3
curl -sf localhost:13200/status/blocklist >/dev/null || fail "/status/blocklist"
curl -sf localhost:13200/metrics | grep -q '^tempo_build_info{' || fail "tempo_build_info missing"
kill "$pf"
pass "compactor status and metrics"

helm upgrade tempo-compactor charts/tempo-compactor -n "$NS" -f /tmp/e2e-kind-values.yaml \
    --set-string compactor.autoscaling.prometheus.threshold=300 --wait --timeout 5m
for _ in $(seq 60); do
    th=$(kubectl -n "$NS" get scaledobject -o jsonpath='{.items[0].spec.triggers[0].metadata.threshold}')
    [ "$th" = 300 ] && break
    sleep 1
done
[ "$th" = 300 ] || fail "threshold not updated by helm upgrade"
pass "helm upgrade changes the ScaledObject threshold"

helm uninstall tempo-compactor -n "$NS" --wait
for _ in $(seq 60); do
    kubectl -n "$NS" get scaledobject,deploy -l app.kubernetes.io/component=compactor -o name 2>/dev/null | grep -q . || break
    sleep 1
done
kubectl -n "$NS" get scaledobject -o name | grep -q . && fail "children left after uninstall"
kubectl get crd tempocompactors.compactor.tempo.dev >/dev/null || fail "CRD removed by uninstall"
pass "helm uninstall removes the children and keeps the CRD"
echo "e2e-kind: all checks passed"
