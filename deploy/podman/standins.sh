#!/usr/bin/env bash
# Stand-ins for the public images deploy/docker-compose.yml names (python:3.11-slim, rabbitmq:3.13-management,
# postgres:16, and the observability profile's prom/prometheus), built from Debian bookworm's packages for a machine that reaches no image registry: a debootstrap
# minbase root imported as localhost/egov-mesh-standin/bookworm:base, then one small Containerfile each, tagged
# with the public name so that compose and the Dockerfile's FROM find them locally and pull nothing.
# Kept in podman's store between runs: an image whose label egov-mesh.standin matches the files here is reused.
# Usage: deploy/podman/standins.sh   (as root; CONTAINERS_CONF defaults to deploy/podman/containers.conf)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
BASE=localhost/egov-mesh-standin/bookworm:base
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
stamp=$(cat "$here"/standins.sh "$here"/*.Containerfile "$here"/*-entrypoint.sh | sha256sum | cut -c1-16)
declare -A TAGS=([python]=docker.io/library/python:3.11-slim
                 [rabbitmq]=docker.io/library/rabbitmq:3.13-management
                 [postgres]=docker.io/library/postgres:16
                 [prometheus]=docker.io/prom/prometheus:v2.55.1)
# Debian has no OpenTelemetry collector, Jaeger or Grafana: the profile's other three have no stand-in here.

current() {  # the image exists and was built from these files
  [ "$(podman image inspect --format '{{index .Labels "egov-mesh.standin"}}' "$1" 2>/dev/null)" = "$stamp" ]
}

base() {
  if [ "$(podman image inspect --format '{{index .Labels "egov-mesh.standin.base"}}' "$BASE" 2>/dev/null)" \
       = "$stamp" ]; then return; fi
  local root
  root=$(mktemp -d /var/tmp/egov-mesh-standin.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "stand-ins: debootstrap --variant=minbase bookworm (about a minute and a half) …"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; rm -f "$root.log"; return 1; }
  rm -f "$root.log"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change "LABEL egov-mesh.standin.base=$stamp" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
}

build() {  # build NAME: deploy/podman/NAME.Containerfile → its public tag
  local name=$1 context
  context=$(mktemp -d)
  trap 'rm -rf "$context"' RETURN
  cp "$here/$name.Containerfile" "$context/Containerfile"
  cp "$here"/*-entrypoint.sh "$context/"
  cp /etc/ssl/certs/ca-certificates.crt "$context/host-ca-certificates.crt"
  echo "stand-ins: building ${TAGS[$name]} …"
  podman build --quiet --network=host --label "egov-mesh.standin=$stamp" -t "${TAGS[$name]}" "$context" >/dev/null
}

for name in python rabbitmq postgres prometheus; do
  if ! current "${TAGS[$name]}"; then
    base
    build "$name"
  fi
done
podman image prune -f >/dev/null 2>&1 || true
echo "stand-ins ready: ${TAGS[*]} (label egov-mesh.standin=$stamp)"
