#!/usr/bin/env bash
# System packages the app and its tests need on Debian/Ubuntu: Qt's X11 platform libraries
# (for a real window and for the Xvfb screenshot tests), Xvfb itself, and poppler-utils
# (pdftoppm/pdftotext, to look at printouts). With --tests also a PostgreSQL server, for the
# tests that start their own throwaway one (tests/pg_server.py; the app itself only connects
# to a server). Installs only what is missing.
set -euo pipefail
with_pg_server=false
[ "${1:-}" = "--tests" ] && with_pg_server=true
pkgs=(xvfb xauth poppler-utils libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0
      libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
      libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xinerama0
      libxcb-xkb1 libxcb-shm0 libxcb-sync1 libxrender1 libxi6 fonts-dejavu-core
      fonts-wqy-zenhei)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The server: the distro's supported version, unless initdb and pg_ctl are already there
# (Debian keeps them in /usr/lib/postgresql/N/bin, off PATH).
have_pg_server() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}
if $with_pg_server && ! have_pg_server; then missing+=(postgresql); fi
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: not a Debian-like system; please install: ${missing[*]}" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-system-deps: run as root (or with sudo) to install: ${missing[*]}" >&2
    exit 0
  fi
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own server; the package must not create and start a system one.
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" |
    $SUDO tee /etc/postgresql-common/createcluster.d/clinic-app-no-main-cluster.conf >/dev/null
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
