#!/usr/bin/env bash
# `make backup`, `make backups`, `make restore-drill` and `make archive`: the running stack's backups, through
# galera-agent in a Galera task (its environment and secrets: no password passes through here).
#
#   scripts/backup.sh now     take a backup now; prints its snapshot id, size and node
#   scripts/backup.sh drill   a restore drill of the newest snapshot now; prints its result
#   scripts/backup.sh archive archive the binary logs now (point-in-time recovery); prints the piece
#   scripts/backup.sh list    the snapshots in the repository, the last backup's and drill's reports
#
# The stack (STACK, default dev; its project in STACK_DIR, default this checkout) must be up
# (`make up`); the lab's hosts are tried in turn for one that runs a Galera task.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly STACK="${STACK:-dev}"
readonly STACK_DIR="${STACK_DIR:-$ROOT}"
readonly LAB_JSON="$ROOT/lab/.state/lab.json"

error() {
  printf '%s [backup] ERROR: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
  exit 1
}

# galera_service: the stack's Galera service name (its output).
galera_service() {
  # shellcheck source=scripts/stack-env.sh
  source "$ROOT/scripts/stack-env.sh"
  (cd "$STACK_DIR" && pulumi stack output --stack "$STACK" galera_service 2>/dev/null) ||
    error "stack $STACK has no output galera_service: bring it up first (make up)"
}

# lab_hosts: the lab's host names, one per line.
lab_hosts() {
  [[ -f "$LAB_JSON" ]] || error "no lab ($LAB_JSON is missing): make up first"
  python3 -c 'import json, sys; print("\n".join(h["name"] for h in json.load(open(sys.argv[1]))["hosts"]))' "$LAB_JSON"
}

# in_galera_task SERVICE ARG...: galera-agent ARG... in the first Galera task found on a lab host.
in_galera_task() {
  local service=$1 host task
  shift
  while read -r host; do
    # </dev/null: ssh would read the rest of the host list from the loop's stdin.
    task=$("$ROOT/lab/lab" ssh "$host" "docker ps -q --filter label=com.docker.swarm.service.name=$(printf '%q' "$service")" </dev/null 2>/dev/null | head -n1) || continue
    [[ -n "$task" ]] || continue
    "$ROOT/lab/lab" ssh "$host" "docker exec $task galera-agent $(printf '%q ' "$@")" </dev/null
    return
  done < <(lab_hosts)
  error "no lab host runs a task of $service: is the stack up (make up)?"
}

main() {
  local service
  case ${1:-} in
    now | drill | archive | list) ;;
    *) error "usage: scripts/backup.sh now|drill|archive|list" ;;
  esac
  service=$(galera_service)
  in_galera_task "$service" backup "$1"
}

main "$@"
