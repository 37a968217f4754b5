#!/usr/bin/env bash
# Entrypoint of the etcd image: Debian's etcd 3.4 configured by the standard ETCD_* variables.
# Defaults make a single-node cluster that listens on all interfaces and advertises the
# container's hostname; set ETCD_INITIAL_CLUSTER (and friends) for a 3-member cluster.
# etcd requires authentication: the first start of a fresh cluster creates the users `root`
# and `galera` (read and write under /galera/ only) with the passwords of the secret files
# ETCD_ROOT_PASSWORD_FILE and ETCD_GALERA_PASSWORD_FILE, then enables auth (etcd's v3 auth).
set -euo pipefail

readonly DATA_DIR_DEFAULT=/var/lib/etcd
readonly ROOT_USER=root
# The Galera nodes' user (galera-agent logs in as it) and the one prefix its role may touch:
# the agent's layout /galera/<CLUSTER_NAME>/ (agent/runner/discovery.go).
readonly GALERA_USER=galera
readonly GALERA_PREFIX=/galera/
readonly LOCAL_ENDPOINT=http://127.0.0.1:2379
# etcdctl's texts (etcd 3.4 server errors) that the setup acts on.
readonly ERR_EXISTS="already exists"
readonly ERR_NO_USER="user name is empty"
readonly ERR_BAD_LOGIN="authentication failed"

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

# read_password VAR: sets VAR (not exported) from the file VAR_FILE names. A plain VAR is
# refused: it would show in `docker inspect`. etcdctl 3.4 reads a new user's password from
# stdin up to the first white space (fmt.Scanf "%s"), so white space is refused too.
read_password() {
  local var=$1 file_var="${1}_FILE"
  [[ -z "${!var:-}" ]] ||
    error "$var is set as a plain value; mount the password as a secret file and set $file_var to its path"
  [[ -n "${!file_var:-}" ]] ||
    error "$file_var is not set; set it to a file holding the password (a docker secret under /run/secrets)"
  file_env "$var"
  [[ -n "${!var}" ]] || error "$var: the file of $file_var is empty; put the password in it"
  [[ "${!var}" != *[[:space:]]* ]] ||
    error "$var holds white space, which etcdctl 3.4 cuts a password at; use a password without spaces"
}

read_passwords() {
  read_password ETCD_ROOT_PASSWORD
  read_password ETCD_GALERA_PASSWORD
}

# etcdctl_as USER PASSWORD ARGS...: etcdctl on this member, logged in as USER (while auth is
# still disabled the login is skipped by etcd's client). The password reaches etcdctl in its
# environment (ETCDCTL_PASSWORD), never on a command line.
etcdctl_as() {
  local user=$1 password=$2
  shift 2
  ETCDCTL_USER=$user ETCDCTL_PASSWORD=$password etcdctl --endpoints="$LOCAL_ENDPOINT" \
    --dial-timeout=2s --command-timeout=5s "$@"
}

as_root() { etcdctl_as "$ROOT_USER" "$ETCD_ROOT_PASSWORD" "$@"; }

# new_user NAME PASSWORD: `user add` reads the password on stdin (--interactive=false).
new_user() { printf '%s\n' "$2" | as_root user add "$1" --interactive=false; }

# auth_state: "enabled" (an unauthenticated read is refused), "disabled" (it is answered), or
# "unknown" (no answer yet: no quorum, not started).
auth_state() {
  local out
  if out=$(etcdctl --endpoints="$LOCAL_ENDPOINT" --dial-timeout=2s --command-timeout=5s \
    user list 2>&1); then
    echo disabled
  elif [[ "$out" == *"$ERR_NO_USER"* ]]; then
    echo enabled
  else
    echo unknown
  fi
}

# step ARGS...: one idempotent setup step; "already exists" (another member, or an earlier
# start that stopped half way, did it) counts as done. Prints etcdctl's error otherwise.
step() {
  local out
  out=$("$@" 2>&1) && return 0
  [[ "$out" == *"$ERR_EXISTS"* ]] && return 0
  printf '%s\n' "$out" | grep -v '"level":"warn"' >&2 || true
  return 1
}

# enable_auth: users, role and permission, then `auth enable`. Every step is done as root, so
# a member that finds auth enabled by another member half way through goes on logged in.
enable_auth() {
  step as_root role add "$GALERA_USER" &&
    step as_root role grant-permission --prefix=true "$GALERA_USER" readwrite "$GALERA_PREFIX" &&
    step new_user "$ROOT_USER" "$ETCD_ROOT_PASSWORD" &&
    step as_root user grant-role "$ROOT_USER" root &&
    step new_user "$GALERA_USER" "$ETCD_GALERA_PASSWORD" &&
    step as_root user grant-role "$GALERA_USER" "$GALERA_USER" &&
    step as_root auth enable
}

# check_logins: both users log in with the passwords of their files (a read as root, a read
# under the prefix as galera). Fails naming the user whose stored password differs.
check_logins() {
  local out
  if ! out=$(as_root user get "$GALERA_USER" 2>&1); then
    [[ "$out" == *"$ERR_BAD_LOGIN"* ]] || return 2
    error "etcd's root password differs from ETCD_ROOT_PASSWORD_FILE; etcd keeps the passwords of its first start (rotation is not supported): put the previous password back"
  fi
  if ! out=$(etcdctl_as "$GALERA_USER" "$ETCD_GALERA_PASSWORD" get --keys-only --limit=1 "$GALERA_PREFIX" 2>&1); then
    [[ "$out" == *"$ERR_BAD_LOGIN"* ]] || return 2
    error "etcd's galera password differs from ETCD_GALERA_PASSWORD_FILE; etcd keeps the passwords of its first start (rotation is not supported): put the previous password back"
  fi
}

# ensure_auth ETCD_PID: once this member answers, enable auth if nobody has, and check that the
# users log in; retried (every second) while etcd has no quorum. Changes nothing when it finds
# auth enabled. Runs beside etcd: a failure is logged, etcd keeps serving.
ensure_auth() {
  local etcd_pid=$1 state waited=0
  while kill -0 "$etcd_pid" 2>/dev/null; do
    state=$(auth_state)
    if [[ $state == disabled ]]; then
      note "auth is not enabled yet: creating users $ROOT_USER and $GALERA_USER (readwrite $GALERA_PREFIX), then enabling it"
      enable_auth || true
    elif [[ $state == enabled ]]; then
      if check_logins; then
        note "auth enabled: users $ROOT_USER and $GALERA_USER (readwrite $GALERA_PREFIX) log in"
        return 0
      fi
    fi
    ((waited % 30 == 29)) && note "etcd does not answer yet (no quorum?); still waiting to check auth"
    sleep 1
    waited=$((waited + 1))
  done
}

prepare_data_dir() {
  install -d -m 0700 -o etcd -g etcd "$ETCD_DATA_DIR"
  chown -R etcd:etcd "$ETCD_DATA_DIR"
}

# run_etcd ARGS...: etcd in the background (the auth setup needs it running), SIGTERM and
# SIGINT passed on to it; returns etcd's exit status.
run_etcd() {
  setpriv --reuid=etcd --regid=etcd --init-groups /usr/bin/etcd "$@" &
  ETCD_PID=$!
  trap 'kill -TERM "$ETCD_PID" 2>/dev/null || true' TERM INT
  (ensure_auth "$ETCD_PID") &
  local setup_pid=$! rc=0
  wait "$ETCD_PID" || rc=$?
  while kill -0 "$ETCD_PID" 2>/dev/null; do
    rc=0
    wait "$ETCD_PID" || rc=$?
  done
  kill "$setup_pid" 2>/dev/null || true
  return "$rc"
}

_main() {
  if [[ "${1:-}" != "" && "${1:0:1}" != "-" ]]; then
    exec "$@" # e.g. `docker run IMAGE etcdctl ...`
  fi
  set_defaults
  read_passwords
  prepare_data_dir
  note "etcd member $ETCD_NAME: client $ETCD_ADVERTISE_CLIENT_URLS, peers $ETCD_INITIAL_CLUSTER ($ETCD_INITIAL_CLUSTER_STATE)"
  run_etcd "$@"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  _main "$@"
fi
