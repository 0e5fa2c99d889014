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
  fonts-wqy-microhei                   # the portal's Chinese translation renders in the browser screenshots
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
# The locked versions (requirements/dev.txt, hash-checked: the same versions the images ship), then the
# project itself, editable, without touching them.
stamp=.venv/.installed-$(cat pyproject.toml requirements/dev.txt | sha256sum | cut -c1-16)
if [[ ! -f $stamp ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q --require-hashes -r requirements/dev.txt
  .venv/bin/pip install -q --no-deps -e .
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# npm: fluent-logger for the interop test; balena's own compose parser (7.x parses in JavaScript; 8.x downloads
# a Go binary at install, which a registry-only machine cannot fetch) for the bundle test.
NPM_PACKAGES=(fluent-logger@3.4.1 @balena/compose@7.4.1 js-yaml@4.1.0)
stamp_npm=.venv/node/.installed-$(echo "${NPM_PACKAGES[*]}" | sha256sum | cut -c1-16)
if [[ ! -f $stamp_npm ]]; then
  npm install -s --prefix .venv/node --no-save --no-audit --no-fund "${NPM_PACKAGES[@]}"
  touch "$stamp_npm"
fi
echo "setup: ready (.venv)"
