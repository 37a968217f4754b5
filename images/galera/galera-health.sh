#!/usr/bin/env bash
# Galera node health in Percona clustercheck style, for HAProxy and the Docker HEALTHCHECK.
#   galera-health [--check] [--donor-ok]  exit 0 when healthy, 1 otherwise, the state on stdout
#   galera-health --http                  answer one HTTP request on stdin/stdout (under socat)
# Healthy: wsrep_local_state 4 (Synced) and wsrep_cluster_status Primary. A Donor/Desynced node
# (state 2) counts as healthy with --donor-ok or AVAILABLE_WHEN_DONOR=1: the Docker HEALTHCHECK
# uses --donor-ok, because a swarm replaces unhealthy tasks and must not kill a donor mid-SST.
set -euo pipefail

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

# verdict: sets HEALTHY (0/1) and MESSAGE.
verdict() {
  HEALTHY=0
  if [[ -e /run/galera-draining ]]; then
    MESSAGE="Galera node is shutting down (draining connections)"
    return 0
  fi
  if ! node_state; then
    MESSAGE="Galera node is not running (mariadbd does not answer)"
    return 0
  fi
  if [[ "$CLUSTER_STATUS" == Primary && ("$STATE" == 4 || ("$STATE" == 2 && "$DONOR_OK" == 1)) ]]; then
    HEALTHY=1
    MESSAGE="Galera node is $STATE_COMMENT (wsrep_local_state=$STATE, wsrep_cluster_status=$CLUSTER_STATUS)"
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

main() {
  DONOR_OK=${AVAILABLE_WHEN_DONOR:-0}
  local mode=--check
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --http | --check) mode=$1 ;;
      --donor-ok) DONOR_OK=1 ;;
      *)
        printf 'usage: galera-health [--check [--donor-ok] | --http]\n' >&2
        exit 2
        ;;
    esac
    shift
  done
  if [[ "$mode" == --http ]]; then
    http_answer
    return 0
  fi
  verdict
  printf '%s\n' "$MESSAGE"
  [[ "$HEALTHY" == 1 ]]
}

main "$@"
