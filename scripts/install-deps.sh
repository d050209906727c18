#!/usr/bin/env bash
# Installs the Debian packages infergate needs to build and test, only those missing.
# Usage: scripts/install-deps.sh [--test] [--fuzz]   (--fuzz adds clang and its libFuzzer and
# sanitizer runtimes for scripts/fuzz.sh; --test adds what the test suite needs: node, npm,
# openssl, stunnel4 to front the simulator with TLS in gateway_upstream_tls_test, and
# redis-server for the shared-limits tests, started by the tests themselves, and chromium for
# the status page's browser test, driven headless by puppeteer-core)
set -euo pipefail

pkgs=(g++ meson ninja-build cmake pkg-config python3 libboost1.81-dev libsimdjson-dev libssl-dev
      libyaml-cpp-dev libspdlog-dev prometheus-cpp-dev doctest-dev libxxhash-dev libhiredis-dev curl)
for arg in "$@"; do
  case "$arg" in
    --test)
      pkgs+=(openssl stunnel4 redis-server chromium)
      command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
      command -v npm >/dev/null 2>&1 || pkgs+=(npm)
      ;;
    --fuzz) pkgs+=(clang libclang-rt-dev) ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
[[ $(id -u) -ne 0 ]] && sudo=(sudo)
echo "installing: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
