#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the demo need,
# only those missing (apt-get update runs only when something is missing).
set -euo pipefail

PACKAGES=(
  build-essential autoconf automake libtool pkg-config
  apache2 apache2-dev libapr1-dev libaprutil1-dev
  libssl-dev openssl libxml2-dev libxml2-utils libcurl4-openssl-dev libjansson-dev
  libcmocka-dev
  python3 python3-pytest python3-cryptography
  clang libclang-rt-14-dev curl ca-certificates
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root (or with sudo) to install them" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
