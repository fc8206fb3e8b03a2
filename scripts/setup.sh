#!/usr/bin/env bash
# Installs tpusim's build and run dependencies from Debian packages. Idempotent: quiet and fast
# when everything is already there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsystemc-dev libfmt-dev libcli11-dev catch2
      libtomlplusplus-dev nlohmann-json3-dev python3-matplotlib python3-pandas parallel time)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
