#!/usr/bin/env bash
# The steps of a password rotation that run against a running Galera cluster (see
# credentials-lib.sh for the dual-password scheme). A rolling restart with new secret files
# makes every node accept the new passwords besides the old ones; then:
#
#   galera-passwords await-accepted [--host H] [--timeout S]
#       wait until root and MYSQL_USER log in on H with the new passwords (clients may switch)
#   galera-passwords discard-old [--host H] [--timeout S]
#       the same wait, then make the new passwords the only valid ones (every client switched)
#
# The new passwords come on stdin: root's on line 1, MYSQL_USER's on line 2. MYSQL_USER and
# MYSQL_DATABASE come from the environment, as in galera-entrypoint. H is a node or a name that
# resolves to nodes (default 127.0.0.1, inside a Galera task); S defaults to 600 seconds.
set -euo pipefail

readonly LOG_TAG=galera-passwords
# shellcheck source=../lib/entrypoint-lib.sh
source /usr/local/lib/galera-swarm/entrypoint-lib.sh
# shellcheck source=credentials-lib.sh
source /usr/local/lib/galera-swarm/credentials-lib.sh

readonly MYSQL_PORT=3306
readonly USAGE="usage: galera-passwords await-accepted|discard-old [--host H] [--timeout SECONDS] < passwords"

parse_args() {
  STEP=${1:-}
  [[ "$STEP" =~ ^(await-accepted|discard-old)$ ]] || error "$USAGE"
  shift
  HOST=127.0.0.1
  TIMEOUT=600
  while (($#)); do
    case $1 in
      --host | --timeout)
        (($# >= 2)) || error "$1 needs a value; $USAGE"
        if [[ $1 == --host ]]; then HOST=$2; else TIMEOUT=$2; fi
        shift 2
        ;;
      *) error "unknown argument '$1'; $USAGE" ;;
    esac
  done
  [[ "$TIMEOUT" =~ ^(0|[1-9][0-9]*)$ ]] || error "--timeout $TIMEOUT: give a whole number of seconds"
}

read_passwords() {
  : "${MYSQL_USER:=}" "${MYSQL_DATABASE:=}"
  IFS= read -r MYSQL_ROOT_PASSWORD || true
  IFS= read -r MYSQL_PASSWORD || true
  [[ -n "$MYSQL_ROOT_PASSWORD" ]] || error "no root password on stdin (line 1: root, line 2: MYSQL_USER)"
  [[ -z "$MYSQL_USER" || -n "$MYSQL_PASSWORD" ]] ||
    error "no password for MYSQL_USER=$MYSQL_USER on line 2 of stdin"
  # The same rule as galera-entrypoint: the name goes into SQL between backticks.
  [[ -z "$MYSQL_DATABASE" || "$MYSQL_DATABASE" =~ ^[A-Za-z0-9_$-]+$ ]] ||
    error "MYSQL_DATABASE=$MYSQL_DATABASE may hold only letters, digits, '_', '\$' and '-'"
}

# mariadb_as USER PASSWORD [ARGS...]: the client on HOST over TCP (never the socket, where
# root would get in through unix_socket whatever the password).
mariadb_as() {
  local user=$1 password=$2
  shift 2
  MYSQL_PWD=$password mariadb --protocol=tcp -h"$HOST" -P"$MYSQL_PORT" -u"$user" --connect-timeout=3 "$@"
}

# accepted: whether root and MYSQL_USER log in with the new passwords; sets LAST_ERROR.
accepted() {
  LAST_ERROR=$(mariadb_as root "$MYSQL_ROOT_PASSWORD" -e 'SELECT 1' 2>&1 >/dev/null) || return 1
  [[ -z "$MYSQL_USER" ]] ||
    LAST_ERROR=$(mariadb_as "$MYSQL_USER" "$MYSQL_PASSWORD" -e 'SELECT 1' 2>&1 >/dev/null)
}

await_accepted() {
  local deadline=$((SECONDS + TIMEOUT))
  until accepted; do
    ((SECONDS < deadline)) || error "the new passwords were not accepted on $HOST within $TIMEOUT s (last: $LAST_ERROR); a Galera node accepts them once it is Synced with the new secret files: see docker service ps / docker service logs of the Galera service, then run pulumi up again"
    sleep 2
  done
  note "the new passwords are accepted on $HOST"
}

discard_old() {
  await_accepted
  local err
  err=$(credentials_sql discard | mariadb_as root "$MYSQL_ROOT_PASSWORD" 2>&1) ||
    error "could not discard the old passwords on $HOST: $err"
  note "old passwords discarded: the new ones are the only valid ones (replicated to every node)"
}

main() {
  parse_args "$@"
  read_passwords
  case $STEP in
    await-accepted) await_accepted ;;
    discard-old) discard_old ;;
  esac
}

main "$@"
