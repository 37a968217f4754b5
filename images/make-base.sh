#!/usr/bin/env bash
# Make the offline base image `debian:bookworm-slim` when it cannot be pulled:
# debootstrap a minimal Bookworm from the machine's own apt mirror and import it.
# Idempotent: does nothing when the image already exists.
set -euo pipefail

readonly BASE_IMAGE="debian:bookworm-slim"

note() { printf '%s [make-base] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

apt_mirror() {
  # First deb822 URIs line or first one-line "deb" entry of the machine's apt sources.
  local uri
  uri=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n1 || true)
  if [[ -z "$uri" ]]; then
    uri=$(grep -hoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
  fi
  [[ -n "$uri" ]] || { note "no apt mirror found in /etc/apt/sources*"; exit 1; }
  printf '%s\n' "$uri"
}

main() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    note "$BASE_IMAGE present"
    return 0
  fi
  if ! command -v debootstrap >/dev/null; then
    note "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  local mirror
  ROOTFS=$(mktemp -d)
  trap 'rm -rf "$ROOTFS"' EXIT
  mirror=$(apt_mirror)
  note "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$ROOTFS" "$mirror" >/dev/null
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  tar -C "$ROOTFS" -c . | docker import - "$BASE_IMAGE" >/dev/null
  note "$BASE_IMAGE imported ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE") bytes)"
}

main "$@"
