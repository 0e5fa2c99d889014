#!/usr/bin/env bash
# Installs everything edge-sidecars needs to run locally and to test: Debian packages, then a
# virtualenv in .venv with the project (editable) and its test tools. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-pip     # the project's own interpreter and venv
  dbus systemd                         # dbus-daemon and busctl for the private system bus of the simulated radio
  python3-dbusmock                     # NetworkManager simulator (run by Debian's /usr/bin/python3)
  network-manager                      # the real nmcli client
  dnsmasq-base                         # the portal's DHCP and DNS server
  iproute2 busybox                     # network namespaces; udhcpc as the test phone's DHCP client
  chromium                             # headless browser for the portal and dashboard tests
  prometheus prometheus-node-exporter  # promtool, a real scraper, and the peer we benchmark against
  systemd-journal-remote               # writes real journal files for the journald tests
  logrotate bsdutils                   # rotation and util-linux logger for the log-agent inputs
  curl procps psmisc openssl          # openssl makes the TLS test certificates
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node.js only for the npm fluent-logger interop test; a machine that already has npm keeps its own.
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[all,test,bench]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
if [[ ! -d .venv/node/node_modules/fluent-logger ]]; then
  npm install -s --prefix .venv/node --no-save --no-audit --no-fund fluent-logger@3.4.1
fi
echo "setup: ready (.venv)"
