#!/bin/bash
# Start sshd, then become dockerd. The public key to authorize comes in LAB_AUTHORIZED_KEY.
set -euo pipefail

note() { printf '%s [lab-host %s] %s\n' "$(date -u +%H:%M:%S)" "$(hostname)" "$*" >&2; }
error() { note "ERROR: $*"; exit 1; }

authorize_key() {
  [[ -n "${LAB_AUTHORIZED_KEY:-}" ]] ||
    error "LAB_AUTHORIZED_KEY is empty: set it to the lab's public key (lab/lab up does)"
  install -d -m 700 /root/.ssh
  printf '%s\n' "$LAB_AUTHORIZED_KEY" >/root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
}

start_sshd() {
  ssh-keygen -A >/dev/null # makes only the host keys that are missing
  install -d -m 755 /run/sshd
  /usr/sbin/sshd
  note "sshd started"
}

remove_stale_pid_files() {
  # After `docker stop` + `docker start` the old pid files are still here and would stop dockerd.
  rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
}

main() {
  authorize_key
  start_sshd
  remove_stale_pid_files
  note "starting dockerd"
  exec dockerd "$@"
}

main "$@"
