#!/usr/bin/env bash
# Installs the system packages the mesh needs when they are missing: rabbitmq-server (run, test),
# postgresql and docker-compose (test), nodejs and npm (the AsyncAPI validator the suite runs: tools/asyncapi/; the
# Node.js SOAP client: tests/e2e/soap_node/),
# podman and what it needs to serve the Docker API without systemd (test-compose; netavark sets up container
# networks with iptables, which Debian does not pull in with it), librsvg2-bin (test: an explained
# case's SVG drawn by a stock renderer).
# As root it uses apt-get; otherwise it says what to install.
# Packages are installed without starting their system services: the mesh runs private instances.
set -euo pipefail

have() {
  case "$1" in
    rabbitmq-server) [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null 2>&1 ;;
    postgresql) ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 ;;
    docker-compose) command -v docker-compose >/dev/null 2>&1 ;;
    uidmap) command -v newuidmap >/dev/null 2>&1 ;;
    netavark|aardvark-dns) [ -x "/usr/lib/podman/$1" ] ;;
    nodejs) command -v node >/dev/null 2>&1 ;;  # Debian's package installs node; a node from elsewhere will do
    librsvg2-bin) command -v rsvg-convert >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for pkg in "$@"; do
  have "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "egov-mesh needs these system packages: ${missing[*]}" >&2
  echo "Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) or run this as root, then retry." >&2
  exit 1
fi

# `make test`'s lanes may install at the same time (the compose lane's podman, the main lane's nodejs): one at a
# time, each looking again at what is missing once it has the lock.
exec 9>/var/lock/egov-mesh-apt.lock
flock -w 900 9 || { echo "another install holds /var/lock/egov-mesh-apt.lock" >&2; exit 1; }
still=()
for pkg in "${missing[@]}"; do
  have "$pkg" || still+=("$pkg")
done
[ ${#still[@]} -eq 0 ] && exit 0
missing=("${still[@]}")

echo "Installing ${missing[*]} with apt-get …"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pkg in "${missing[@]}"; do
  have "$pkg" || { echo "apt-get installed $pkg but it is still not usable" >&2; exit 1; }
done
