#!/usr/bin/env bash
# etcdctl-as root|galera ARGS...: etcdctl logged in as that etcd user, with the password of the
# container's secret file (ETCD_ROOT_PASSWORD_FILE, ETCD_GALERA_PASSWORD_FILE), which never
# appears on a command line: `docker exec <etcd> etcdctl-as root get --prefix /galera/`.
# The image's health check runs `etcdctl-as galera endpoint health`.
set -euo pipefail

# shellcheck source=etcd-entrypoint.sh
source /usr/local/bin/etcd-entrypoint

main() {
  local user=${1:-}
  case "$user" in
    "$ROOT_USER") read_password ETCD_ROOT_PASSWORD && shift && etcdctl_as "$user" "$ETCD_ROOT_PASSWORD" "$@" ;;
    "$GALERA_USER") read_password ETCD_GALERA_PASSWORD && shift && etcdctl_as "$user" "$ETCD_GALERA_PASSWORD" "$@" ;;
    *) error "usage: etcdctl-as $ROOT_USER|$GALERA_USER ETCDCTL-ARGS... (got '$user')" ;;
  esac
}

main "$@"
