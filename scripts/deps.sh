#!/usr/bin/env bash
# scripts/deps.sh: install what chi needs to build and test, on Debian 12,
# when run as root and something is missing. Without root it only reports.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libyaml-dev libcmocka-dev clang libclang-rt-14-dev python3 fio libmicrohttpd-dev libjson-c-dev libhwloc-dev libucx-dev libssl-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
