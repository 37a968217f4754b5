#!/usr/bin/env bash
# Build the stack's images from their Dockerfiles on ${PREFIX}/base:${TAG} (images/base: the
# shared package preamble on debian:bookworm-slim, which make-base.sh makes offline when it
# cannot be pulled), tag them ${PREFIX}/<name>:${TAG}, push if asked, and report their sizes.
# Idempotent; a rebuild with nothing changed comes from the cache.
#
#   images/build.sh [--prefix P] [--tag T] [--push]    (defaults: galera-swarm, dev)
set -euo pipefail

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly IMAGES_DIR
REPO_DIR=$(cd "$IMAGES_DIR/.." && pwd)
readonly REPO_DIR
readonly IMAGE_NAMES=(galera etcd wordpress haproxy)

_log() {
  local level=$1
  shift
  printf '%s [build] [%s] %s\n' "$(date -u +%H:%M:%S)" "$level" "$*" >&2
}
note() { _log NOTE "$@"; }
error() {
  _log ERROR "$@"
  exit 1
}

usage() {
  sed -n 's/^#   //p' "${BASH_SOURCE[0]}"
}

parse_args() {
  PREFIX=galera-swarm
  TAG=dev
  PUSH=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --prefix)
        [[ $# -ge 2 && -n "$2" ]] || error "--prefix needs a value, e.g. --prefix 172.30.213.5:5000/galera-swarm"
        PREFIX=${2%/}
        shift 2
        ;;
      --tag)
        [[ $# -ge 2 && "$2" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || error "--tag needs a valid Docker tag, e.g. --tag dev"
        TAG=$2
        shift 2
        ;;
      --push)
        PUSH=1
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) error "unknown argument '$1'; usage: images/build.sh [--prefix P] [--tag T] [--push]" ;;
    esac
  done
}

# build_image NAME: docker build with the layer cache, FROM the base image built first (the
# shared package preamble); the full log only on failure. The context is images/ itself, so
# every image can copy the shared lib/entrypoint-lib.sh.
build_image() {
  local name=$1 ref="$PREFIX/$1:$TAG" log started from=()
  [[ "$name" == base ]] || from=(--build-arg "BASE_IMAGE=$PREFIX/base:$TAG")
  log=$(mktemp)
  started=$SECONDS
  note "building $ref from images/$name"
  if ! DOCKER_BUILDKIT=0 docker build -t "$ref" "${from[@]}" \
    -f "$IMAGES_DIR/$name/Dockerfile" "$IMAGES_DIR" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -f "$log"
    error "building $ref failed (log above)"
  fi
  rm -f "$log"
  note "built $ref in $((SECONDS - started))s"
}

# render_haproxy_config: the config the haproxy image ships and the writer script it loads,
# from their one owner (components/haproxy_config.py); each written only when it changed, for
# the layer cache.
render_haproxy_config() {
  command -v python3 >/dev/null || error "python3 not found; the haproxy image's config is rendered by components/haproxy_config.py"
  write_if_changed "$IMAGES_DIR/haproxy/haproxy.cfg"
  write_if_changed "$IMAGES_DIR/haproxy/galera-writer.lua" --writer-script
}

# write_if_changed TARGET [ARG...]: `python3 -m components.haproxy_config ARG...` into TARGET.
write_if_changed() {
  local target=$1 rendered
  shift
  rendered=$(mktemp)
  PYTHONPATH="$REPO_DIR" python3 -m components.haproxy_config "$@" >"$rendered" || error "rendering $target failed"
  if cmp -s "$rendered" "$target"; then
    rm -f "$rendered"
  else
    mv "$rendered" "$target"
    chmod 0644 "$target"
  fi
}

# build_agent: galera-agent (agent/, Go) as a static binary into the galera build context
# (images/galera/build/, ignored by git), which the galera Dockerfile copies.
build_agent() {
  local out="$IMAGES_DIR/galera/build/galera-agent"
  command -v go >/dev/null || error "go not found: it builds galera-agent (agent/); install the toolchain (make up does)"
  note "building galera-agent from agent/"
  mkdir -p "${out%/*}"
  (cd "$REPO_DIR/agent" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out" ./cmd/galera-agent) ||
    error "building galera-agent failed (see above)"
}

push_image() {
  local ref="$PREFIX/$1:$TAG"
  note "pushing $ref"
  docker push "$ref" >/dev/null || error "pushing $ref failed; is the registry of --prefix $PREFIX reachable (and listed in insecure-registries if plain HTTP)?"
}

size_report() {
  local name ref bytes
  printf '%-50s %10s\n' IMAGE SIZE
  for name in "${IMAGE_NAMES[@]}"; do
    ref="$PREFIX/$name:$TAG"
    bytes=$(docker image inspect -f '{{.Size}}' "$ref")
    printf '%-50s %7d MB\n' "$ref" $((bytes / 1000000))
  done
}

main() {
  parse_args "$@"
  command -v docker >/dev/null || error "docker CLI not found"
  docker info >/dev/null 2>&1 || error "the Docker engine does not answer; start it (scripts/ensure-docker.sh)"
  bash "$IMAGES_DIR/make-base.sh"
  build_image base
  render_haproxy_config
  build_agent
  local name
  for name in "${IMAGE_NAMES[@]}"; do
    build_image "$name"
  done
  if [[ "$PUSH" == 1 ]]; then
    for name in "${IMAGE_NAMES[@]}"; do
      push_image "$name"
    done
  fi
  size_report
}

main "$@"
