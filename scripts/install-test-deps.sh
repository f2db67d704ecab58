#!/usr/bin/env bash
# System packages the integration tests use: a real Prometheus server (Debian package).
set -euo pipefail
if command -v prometheus >/dev/null 2>&1; then exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package starts a system service where systemd runs; the tests start their own on loopback.
$SUDO systemctl stop prometheus 2>/dev/null || true
command -v prometheus >/dev/null
