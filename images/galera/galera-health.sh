#!/usr/bin/env bash
# Galera node health in Percona clustercheck style, for HAProxy and the Docker HEALTHCHECK.
#   galera-health [--check] [--donor-ok [--transfer-ok-after SECONDS]]
#                                         exit 0 when healthy, 1 otherwise, the state on stdout
#   galera-health --http                  answer one HTTP request on stdin/stdout (under socat)
# Healthy: wsrep_local_state 4 (Synced) and wsrep_cluster_status Primary. A Donor/Desynced node
# (state 2) counts as healthy with --donor-ok or AVAILABLE_WHEN_DONOR=1.
# --donor-ok is the Docker HEALTHCHECK: a swarm replaces unhealthy tasks and must not kill a
# node in the middle of a state transfer, so with it a node in a state transfer is healthy too:
# a donor (2), a joiner (1 Joining, 3 Joined) and a node whose mariadbd runs but does not
# answer yet because it is receiving an SST (or bootstrapping) per the entrypoint. The HTTP
# endpoint (HAProxy) never routes to such a node.
# --transfer-ok-after SECONDS (the health start period): a node in a state transfer is healthy
# only once the container has run that long. Before, a failed check does not count (Docker's
# start period) and the task stays "starting", so a swarm rolling update waits for the node to
# be Synced before it stops the next one; after, a long transfer is not killed.
set -euo pipefail

readonly STATE_FILE=/run/galera-node-state # written by galera-entrypoint

# node_state: sets STATE, STATE_COMMENT, CLUSTER_STATUS; false when mariadbd does not answer.
node_state() {
  local row
  row=$(mariadb --protocol=socket -uroot -N -B --connect-timeout=3 -e \
    "SELECT MAX(IF(VARIABLE_NAME='WSREP_LOCAL_STATE', VARIABLE_VALUE, NULL)),
            MAX(IF(VARIABLE_NAME='WSREP_CLUSTER_STATUS', VARIABLE_VALUE, NULL)),
            MAX(IF(VARIABLE_NAME='WSREP_LOCAL_STATE_COMMENT', VARIABLE_VALUE, NULL))
       FROM information_schema.GLOBAL_STATUS
      WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE','WSREP_CLUSTER_STATUS','WSREP_LOCAL_STATE_COMMENT')" \
    2>/dev/null) || return 1
  IFS=$'\t' read -r STATE CLUSTER_STATUS STATE_COMMENT <<<"$row"
}

# starting_transfer: mariadbd runs but does not answer yet, and the entrypoint says the node is
# joining (receiving an SST, preparing it, then InnoDB starting) or bootstrapping; sets MESSAGE.
starting_transfer() {
  local entrypoint_state
  entrypoint_state=$(cat "$STATE_FILE" 2>/dev/null) || return 1
  [[ "$entrypoint_state" =~ ^(joining|bootstrapping)$ ]] || return 1
  pgrep -x mariadbd >/dev/null || return 1
  if pgrep -f 'wsrep_sst_mariabackup.*--role joiner' >/dev/null; then
    MESSAGE="Galera node is receiving a state transfer (SST running; mariadbd does not answer yet)"
  else
    MESSAGE="Galera node is $entrypoint_state (mariadbd runs and does not answer yet)"
  fi
}

# transfer_counts: whether a node in a state transfer counts as healthy now (TRANSFER_OK, and
# the container has run TRANSFER_OK_AFTER seconds); adds the reason to MESSAGE when it does not.
transfer_counts() {
  [[ "$TRANSFER_OK" == 1 ]] || return 1
  ((TRANSFER_OK_AFTER > 0)) || return 0
  local uptime
  uptime=$(ps -o etimes= -p 1) || return 1
  uptime=${uptime//[[:space:]]/}
  ((uptime >= TRANSFER_OK_AFTER)) && return 0
  MESSAGE="$MESSAGE; healthy once Synced, or in the transfer after ${TRANSFER_OK_AFTER}s of uptime (now ${uptime}s)"
  return 1
}

# verdict: sets HEALTHY (0/1) and MESSAGE.
verdict() {
  HEALTHY=0
  if [[ -e /run/galera-draining ]]; then
    MESSAGE="Galera node is shutting down (draining connections)"
    return 0
  fi
  if ! node_state; then
    if [[ "$TRANSFER_OK" == 1 ]] && starting_transfer; then
      if transfer_counts; then HEALTHY=1; fi
      return 0
    fi
    MESSAGE="Galera node is not running (mariadbd does not answer)"
    return 0
  fi
  MESSAGE="Galera node is $STATE_COMMENT (wsrep_local_state=$STATE, wsrep_cluster_status=$CLUSTER_STATUS)"
  if [[ "$CLUSTER_STATUS" == Primary && ("$STATE" == 4 || ("$STATE" == 2 && "$DONOR_OK" == 1)) ]]; then
    HEALTHY=1
  elif [[ "$CLUSTER_STATUS" == Primary && "$STATE" =~ ^[13]$ && "$TRANSFER_OK" == 1 ]]; then
    if transfer_counts; then HEALTHY=1; fi
  else
    MESSAGE="Galera node is not synced: $STATE_COMMENT (wsrep_local_state=$STATE, wsrep_cluster_status=$CLUSTER_STATUS)"
  fi
}

# read_request: consume the request line and headers (HAProxy waits for us to read them).
read_request() {
  local line
  while IFS= read -r -t 2 line; do
    line=${line%$'\r'}
    [[ -n "$line" ]] || break
  done
}

http_answer() {
  read_request || true
  verdict
  local status="503 Service Unavailable"
  [[ "$HEALTHY" == 1 ]] && status="200 OK"
  local body="$MESSAGE"$'\r\n'
  printf 'HTTP/1.1 %s\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' \
    "$status" "${#body}" "$body"
}

usage_error() {
  printf 'galera-health: %s\nusage: galera-health [--check [--donor-ok [--transfer-ok-after SECONDS]] | --http]\n' "$1" >&2
  exit 2
}

main() {
  DONOR_OK=${AVAILABLE_WHEN_DONOR:-0}
  TRANSFER_OK=0 # only the container check: the HTTP endpoint never routes to a joiner
  TRANSFER_OK_AFTER=0
  local mode=--check
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --http | --check) mode=$1 ;;
      --donor-ok)
        DONOR_OK=1
        TRANSFER_OK=1
        ;;
      --transfer-ok-after)
        TRANSFER_OK_AFTER=${2:-}
        [[ "$TRANSFER_OK_AFTER" =~ ^(0|[1-9][0-9]*)$ ]] || usage_error "--transfer-ok-after needs a whole number of seconds"
        shift
        ;;
      *) usage_error "unknown argument '$1'" ;;
    esac
    shift
  done
  if [[ "$mode" == --http ]]; then
    TRANSFER_OK=0
    http_answer
    return 0
  fi
  verdict
  printf '%s\n' "$MESSAGE"
  [[ "$HEALTHY" == 1 ]]
}

main "$@"
