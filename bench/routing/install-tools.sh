#!/bin/sh
# Installs what the routing benchmark's report needs: Debian's matplotlib for /usr/bin/python3
# (the plots). The driver and the runner need only Python 3's standard library.
set -eu
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  echo "python3-matplotlib: present"; exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-matplotlib
/usr/bin/python3 -c 'import matplotlib; print("python3-matplotlib", matplotlib.__version__)'
