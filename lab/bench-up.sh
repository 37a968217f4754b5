#!/usr/bin/env bash
# Measure the lab: time of `lab up` from nothing (right after `lab down`) and from warm (again on
# the running lab), then the memory the idle hosts use. Prints what it measured; asserts nothing.
#
#   lab/bench-up.sh [--hosts N] [--rebuild] [--down]
#     --rebuild  also remove the lab's own images first, so "from nothing" includes building them
#     --down     remove the lab at the end (by default it is left up, ready to use)
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly LAB_DIR
readonly LAB="$LAB_DIR/lab"
readonly LAB_IMAGES=(galera-lab/host:dev galera-lab/registry:dev galera-lab/backup:dev)
readonly SETTLE_SECONDS=15

note() { printf '%s [bench-up] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
error() { printf '%s [bench-up] ERROR: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; exit 1; }

# Run `lab up`, keep its log, print the seconds it took (one decimal).
timed_lab_up() {
  local hosts=$1 log=$2 started ended
  started=$(date +%s.%N)
  "$LAB" up --hosts "$hosts" >"$log" 2>&1 || {
    cat "$log" >&2
    error "lab up failed (log above)"
  }
  ended=$(date +%s.%N)
  awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f\n", b - a }'
}

# docker stats of the hosts, and their sum in MiB.
host_memory() {
  local hosts=$1 names=() index
  for ((index = 1; index <= hosts; index++)); do names+=("docker$index"); done
  docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' "${names[@]}" |
    awk '
      function mib(v) {
        if (v ~ /GiB$/) return v * 1024
        if (v ~ /MiB$/) return v + 0
        if (v ~ /KiB$/) return v / 1024
        return v / 1048576
      }
      { printf "  %-8s %s\n", $1, $2; total += mib($2) }
      END { printf "  total    %.1fMiB\n", total }'
}

main() {
  local hosts=3 rebuild=0 down_at_end=0
  while (($#)); do
    case $1 in
      --hosts) hosts=${2:?--hosts needs a number}; shift 2 ;;
      --rebuild) rebuild=1; shift ;;
      --down) down_at_end=1; shift ;;
      *) error "unknown option '$1': use [--hosts N] [--rebuild] [--down]" ;;
    esac
  done
  BENCH_LOGS=$(mktemp -d)
  trap 'rm -rf "$BENCH_LOGS"' EXIT
  local logs=$BENCH_LOGS

  note "lab down, to start from nothing"
  "$LAB" down 2>"$logs/down.log" || { cat "$logs/down.log" >&2; error "lab down failed"; }
  if ((rebuild)); then
    note "removing ${LAB_IMAGES[*]} so they are built again"
    docker image rm "${LAB_IMAGES[@]}" >/dev/null 2>&1 || true
  fi

  local cold warm
  note "lab up --hosts $hosts from nothing"
  cold=$(timed_lab_up "$hosts" "$logs/cold.log")
  note "lab up --hosts $hosts again (warm)"
  warm=$(timed_lab_up "$hosts" "$logs/warm.log")
  note "waiting ${SETTLE_SECONDS} s for the idle hosts to settle"
  sleep "$SETTLE_SECONDS"

  local cold_label="from nothing (lab images cached)"
  ((rebuild == 0)) || cold_label="from nothing (lab images rebuilt)"
  printf 'lab up --hosts %d %s: %s s\n' "$hosts" "$cold_label" "$cold"
  printf 'lab up --hosts %d warm:  %s s\n' "$hosts" "$warm"
  printf 'steps of the run from nothing:\n'
  grep -o '\] .*: done in [0-9]* s$' "$logs/cold.log" | sed 's/^\] /  /' || true
  printf 'memory of the idle hosts (docker stats --no-stream):\n'
  host_memory "$hosts"

  if ((down_at_end)); then
    "$LAB" down 2>"$logs/down.log" || { cat "$logs/down.log" >&2; error "lab down failed"; }
  fi
}

main "$@"
