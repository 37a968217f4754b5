#!/usr/bin/env bash
# Entrypoint of the galera image: MariaDB 10.11 + Galera 4 with etcd (v3) discovery.
#
# The shape of the Docker official images' entrypoints: prepare what the server needs, then
# exec the program that runs the node. That program is galera-agent (Go, agent/ in the
# repository): it reads and checks the settings, registers the node in etcd under a lease kept
# alive, finds the position of the local data, decides (join a running cluster / bootstrap a
# new one / elect the most advanced node after a full stop), initialises a new data directory
# when it bootstraps one, starts mariadbd, publishes the node's state while it runs and drains
# on SIGTERM. See images/README.md for the settings and the etcd layout.
#
#   docker run IMAGE                      the node (galera-agent run)
#   docker run IMAGE --mariadbd-option    the node, with extra options for mariadbd
#   docker run IMAGE COMMAND [ARG...]     COMMAND instead (e.g. bash, galera-passwords)
#
# The file only runs _main when executed, so tests can source it and call one function.
set -euo pipefail

readonly DATADIR=/var/lib/mysql
readonly AGENT=/usr/local/bin/galera-agent

# docker_create_dirs: the socket directory and the data directory (a fresh volume is root's)
# belong to the OS user mysql.
docker_create_dirs() {
  install -d -o mysql -g mysql /run/mysqld
  chown mysql:mysql "$DATADIR"
}

_main() {
  if [[ "${1:-}" != "" && "${1:0:1}" != "-" ]]; then
    exec "$@" # e.g. `docker run IMAGE bash`
  fi
  docker_create_dirs
  exec "$AGENT" run "$@"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  _main "$@"
fi
