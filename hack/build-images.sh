#!/usr/bin/env bash
# hack/build-images.sh - build tempo-compactor:<version> and
# tempo-compactor-controller:<version> with docker (or podman as docker).
# Needs a container engine; none runs on the CI machines of this project.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
version=$(cat VERSION)
engine=${ENGINE:-docker}
command -v "$engine" >/dev/null || { echo "build-images: $engine not found" >&2; exit 1; }
"$engine" build -f hack/images/Dockerfile --target compactor -t "tempo-compactor:$version" .
"$engine" build -f hack/images/Dockerfile --target controller -t "tempo-compactor-controller:$version" .
echo "built tempo-compactor:$version tempo-compactor-controller:$version"
