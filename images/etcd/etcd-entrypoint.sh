#!/usr/bin/env bash
# Entrypoint of the etcd image: Debian's etcd 3.4 configured by the standard ETCD_* variables.
# Defaults make a single-node cluster that listens on all interfaces and advertises the
# container's hostname; set ETCD_INITIAL_CLUSTER (and friends) for a 3-member cluster.
set -euo pipefail

readonly DATA_DIR_DEFAULT=/var/lib/etcd

readonly LOG_TAG=etcd-entrypoint
# shellcheck source=../lib/entrypoint-lib.sh
source /usr/local/lib/galera-swarm/entrypoint-lib.sh

set_defaults() {
  local host
  host=$(hostname)
  : "${ETCD_NAME:=$host}"
  : "${ETCD_DATA_DIR:=$DATA_DIR_DEFAULT}"
  : "${ETCD_LISTEN_CLIENT_URLS:=http://0.0.0.0:2379}"
  : "${ETCD_LISTEN_PEER_URLS:=http://0.0.0.0:2380}"
  : "${ETCD_ADVERTISE_CLIENT_URLS:=http://$host:2379}"
  : "${ETCD_INITIAL_ADVERTISE_PEER_URLS:=http://$host:2380}"
  : "${ETCD_INITIAL_CLUSTER:=$ETCD_NAME=$ETCD_INITIAL_ADVERTISE_PEER_URLS}"
  : "${ETCD_INITIAL_CLUSTER_STATE:=new}"
  : "${ETCD_INITIAL_CLUSTER_TOKEN:=galera-swarm-etcd}"
  export ETCD_NAME ETCD_DATA_DIR ETCD_LISTEN_CLIENT_URLS ETCD_LISTEN_PEER_URLS \
    ETCD_ADVERTISE_CLIENT_URLS ETCD_INITIAL_ADVERTISE_PEER_URLS ETCD_INITIAL_CLUSTER \
    ETCD_INITIAL_CLUSTER_STATE ETCD_INITIAL_CLUSTER_TOKEN
  case "$ETCD_INITIAL_CLUSTER_STATE" in
    new | existing) ;;
    *) error "ETCD_INITIAL_CLUSTER_STATE=$ETCD_INITIAL_CLUSTER_STATE must be 'new' or 'existing'" ;;
  esac
  [[ "$ETCD_INITIAL_CLUSTER" == *"$ETCD_NAME="* ]] ||
    error "ETCD_INITIAL_CLUSTER=$ETCD_INITIAL_CLUSTER does not name this member ETCD_NAME=$ETCD_NAME; add $ETCD_NAME=<peer url>"
}

prepare_data_dir() {
  install -d -m 0700 -o etcd -g etcd "$ETCD_DATA_DIR"
  chown -R etcd:etcd "$ETCD_DATA_DIR"
}

_main() {
  if [[ "${1:-}" != "" && "${1:0:1}" != "-" ]]; then
    exec "$@" # e.g. `docker run IMAGE etcdctl ...`
  fi
  set_defaults
  prepare_data_dir
  note "etcd member $ETCD_NAME: client $ETCD_ADVERTISE_CLIENT_URLS, peers $ETCD_INITIAL_CLUSTER ($ETCD_INITIAL_CLUSTER_STATE)"
  exec setpriv --reuid=etcd --regid=etcd --init-groups /usr/bin/etcd "$@"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  _main "$@"
fi
