#!/usr/bin/env bash
# Installs the peers we benchmark against (HAProxy 2.6, nginx 1.22 + njs) and the load tool, only
# what is missing. Debian's maintainer scripts would start nginx/haproxy as services on port 80;
# a temporary /usr/sbin/policy-rc.d that exits 101 forbids that for the duration of the install.
# Idempotent: run it as often as you like.
set -euo pipefail

pkgs=(haproxy nginx libnginx-mod-http-js wrk curl strace util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
[[ $(id -u) -ne 0 ]] && sudo=(sudo)

policy=/usr/sbin/policy-rc.d
own_policy=0
saved_policy=""
if [[ -e $policy ]] && ! { "$policy" nginx start >/dev/null 2>&1; [[ $? -eq 101 ]]; }; then
  # An existing policy that allows starts: set it aside for the install, restore it after.
  saved_policy=$(mktemp /tmp/policy-rc.d.XXXXXX)
  "${sudo[@]}" cp -p "$policy" "$saved_policy"
  "${sudo[@]}" rm -f "$policy"
fi
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# installed by infergate bench/install-peers.sh: no service starts\nexit 101\n' |
    "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  own_policy=1
fi
cleanup() {
  [[ $own_policy -eq 1 ]] && "${sudo[@]}" rm -f "$policy"
  [[ -n $saved_policy ]] && "${sudo[@]}" mv "$saved_policy" "$policy"
  return 0
}
trap cleanup EXIT

echo "installing: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
