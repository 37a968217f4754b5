#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io when
# dockerd is missing, start dockerd by hand when it is not running (no systemd here).
set -euo pipefail

readonly DOCKERD_LOG=/var/log/dockerd.log
# Where the engine takes the subnets of networks created without one (the image and plugin
# tests'). Docker's default hands out 172.17-172.31.0.0/16 in turn over the engine's life, so a
# long-running engine at last gives a test network 172.30.0.0/16, which overlaps the lab's
# fixed 172.30.213.0/24 (lab/lab SUBNET) and fails `lab up` ("Pool overlaps"). This range
# overlaps neither that nor the subnets the tests name (10.213.77.0/24).
readonly DEFAULT_ADDRESS_POOL="base=10.231.0.0/16,size=24"

note() { printf '%s [ensure-docker] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

install_engine() {
  note "installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
}

engine_answers() { docker info >/dev/null 2>&1; }

start_engine() {
  note "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd --default-address-pool "$DEFAULT_ADDRESS_POOL" >"$DOCKERD_LOG" 2>&1 &
  local waited=0
  until engine_answers; do
    sleep 1
    waited=$((waited + 1))
    if ((waited > 60)); then
      note "dockerd did not answer within 60 s; last log lines:"
      tail -n 20 "$DOCKERD_LOG" >&2
      exit 1
    fi
  done
}

main() {
  command -v dockerd >/dev/null || install_engine
  engine_answers || start_engine
  note "engine $(docker version -f '{{.Server.Version}}') answers"
}

main "$@"
