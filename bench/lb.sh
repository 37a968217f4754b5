#!/usr/bin/env bash
# `make bench-lb`: sysbench from one client container on the dev stack's overlay, direct to
# the Galera nodes and through galera-lb, side by side in one run (issue 19 item 2). Builds
# the client image (bench/sysbench-client, FROM the project's base image), runs it on
# BENCH_LB_CLIENT_HOST (docker1), creates the schema sbtest for the application user,
# prepares it once, runs every workload over every path, prints the table and ratios
# (bench/lb.py decides and reports), and removes the container and the schema, also on failure.
#
#   bench/lb.sh [--quick] [--local-lb] [--time S] [--threads N] [--tables N] [--table-size N]
#
# --local-lb adds the reader and writer ports of the galera-lb task on the client's own host
# (by its address) to the paths: the balanced path without the hop to another host's task.
#
# Environment: BENCH_LB_TIME, BENCH_LB_THREADS, BENCH_LB_TABLES, BENCH_LB_TABLE_SIZE (the
# flags' defaults), BENCH_LB_CLIENT_HOST (a manager host, default docker1), BENCH_LB_IMAGE_TAG
# (the client image's tag, default dev), BENCH_LB_OUTPUT_DIR (keep sysbench's raw output
# there), STACK (default dev). Needs the stack up (`make up`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly STACK="${STACK:-dev}"
readonly CLIENT_HOST="${BENCH_LB_CLIENT_HOST:-docker1}"
readonly CLIENT=bench-lb-client
readonly IMAGE_PREFIX=galera-swarm
readonly CREDENTIALS_DIR=/run/bench-lb
readonly SYSBENCH_CONF="$CREDENTIALS_DIR/sysbench.conf"
readonly ADMIN_CNF="$CREDENTIALS_DIR/admin.cnf"

WORK_DIR=""
CLIENT_STARTED=0
SCHEMA_CREATED=0

note() { printf '%s [bench-lb] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
error() {
  printf '%s [bench-lb] ERROR: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
  exit 1
}

bench_py() { (cd "$ROOT" && python -m bench.lb "$@"); }

# on_host ARG...: one command on the client's host, each argument quoted for its shell.
on_host() { "$ROOT/lab/lab" ssh "$CLIENT_HOST" "$(printf '%q ' "$@")"; }

# in_client ARG...: a command in the client container, in CREDENTIALS_DIR (sysbench reads its
# TLS files from its working directory); stdin goes through.
in_client() { on_host docker exec -i -w "$CREDENTIALS_DIR" "$CLIENT" "$@"; }

# write_in_client FILE: stdin into FILE in the client container, readable by root alone.
# shellcheck disable=SC2016  # $1 is the remote shell's, on purpose
write_in_client() { in_client sh -c 'umask 077 && cat > "$1"' sh "$1"; }

# admin_sql: the SQL on stdin as root through the writer endpoint.
admin_sql() {
  in_client mariadb --defaults-extra-file="$ADMIN_CNF" -h "${WRITER%:*}" -P "${WRITER##*:}" --batch
}

# keep_outputs DIR: sysbench's raw output of this run (prepare and every run) into DIR.
keep_outputs() {
  mkdir -p "$1" || return 0
  cp "$WORK_DIR"/*.txt "$WORK_DIR"/results/*.txt "$1"/ 2>/dev/null || note "some outputs could not be kept in $1"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if ((SCHEMA_CREATED)); then
    note "dropping schema $SCHEMA"
    bench_py sql cleanup --user "$APP_USER" | admin_sql || note "dropping $SCHEMA failed: drop it by hand (DROP DATABASE $SCHEMA)"
  fi
  if ((CLIENT_STARTED)); then
    on_host docker rm -f "$CLIENT" </dev/null >/dev/null || note "removing $CLIENT on $CLIENT_HOST failed"
  fi
  if [[ -n "$WORK_DIR" ]]; then
    [[ -z "${BENCH_LB_OUTPUT_DIR:-}" ]] || keep_outputs "$BENCH_LB_OUTPUT_DIR"
    rm -rf "$WORK_DIR"
  fi
  exit "$status"
}

build_client_image() {
  local base="$IMAGE_PREFIX/base:$IMAGE_TAG" log
  log="$WORK_DIR/build.log"
  note "building $CLIENT_IMAGE (sysbench $SYSBENCH_DEBIAN_VERSION) on $base"
  bash "$ROOT/images/make-base.sh"
  if ! DOCKER_BUILDKIT=0 docker build -t "$base" -f "$ROOT/images/base/Dockerfile" "$ROOT/images" >"$log" 2>&1 ||
    ! DOCKER_BUILDKIT=0 docker build -t "$CLIENT_IMAGE" --build-arg "BASE_IMAGE=$base" \
      --build-arg "SYSBENCH_DEBIAN_VERSION=$SYSBENCH_DEBIAN_VERSION" \
      -f "$ROOT/bench/sysbench-client/Dockerfile" "$ROOT/bench/sysbench-client" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    error "building $CLIENT_IMAGE failed (log above)"
  fi
}

# load_client_image: the image onto the client's host (no registry needed), unless it is there.
load_client_image() {
  local here there
  here=$(docker image inspect -f '{{.Id}}' "$CLIENT_IMAGE")
  there=$(on_host docker image inspect -f '{{.Id}}' "$CLIENT_IMAGE" </dev/null 2>/dev/null || true)
  [[ "$here" == "$there" ]] && return 0
  note "loading $CLIENT_IMAGE onto $CLIENT_HOST"
  docker save "$CLIENT_IMAGE" | on_host docker load >/dev/null
}

start_client() {
  if on_host docker container inspect "$CLIENT" </dev/null >/dev/null 2>&1; then
    error "a container $CLIENT exists on $CLIENT_HOST (a run that was killed?); remove it: lab/lab ssh $CLIENT_HOST docker rm -f $CLIENT"
  fi
  note "starting $CLIENT on $CLIENT_HOST, network $NETWORK"
  CLIENT_STARTED=1
  on_host docker run -d --name "$CLIENT" --network "$NETWORK" --label galera-swarm.bench=lb \
    "$CLIENT_IMAGE" </dev/null >/dev/null
}

# hand_credentials: the passwords from the stack's config (through pipes, never argv) into
# files in the client: sysbench's --config-file (the application user) and root's option file;
# with TLS (the accounts then refuse plain sessions) sysbench's TLS files (bench/lb.py TLS_FILES)
# from the state. The mariadb client uses TLS by default.
hand_credentials() {
  local tls_flag=() file
  APP_USER=$(pulumi config --stack "$STACK" --json | bench_py app-user)
  if ((TLS)); then
    tls_flag=(--tls)
    for file in $(bench_py tls-files); do
      pulumi stack export --stack "$STACK" --show-secrets |
        bench_py tls-file "$file" | write_in_client "$CREDENTIALS_DIR/$file"
    done
  fi
  pulumi config get --stack "$STACK" galera-swarm:appPassword |
    bench_py sysbench-conf --user "$APP_USER" --key appPassword "${tls_flag[@]}" | write_in_client "$SYSBENCH_CONF"
  pulumi config get --stack "$STACK" galera-swarm:rootPassword |
    bench_py client-cnf --user root | write_in_client "$ADMIN_CNF"
}

# service_tasks SERVICE: `docker inspect` of the service's tasks meant to run (a manager answers).
service_tasks() {
  # shellcheck disable=SC2016  # the remote shell expands $1 and the task list
  on_host sh -c 'docker inspect $(docker service ps -q --filter desired-state=running "$1")' sh "$1" </dev/null
}

# make_plan: the runs (bench/lb.py plan) from the running tasks and swarm's DNS.
make_plan() {
  local local_lb=()
  service_tasks "$GALERA_SERVICE" >"$WORK_DIR/tasks.json"
  if ((LOCAL_LB)); then
    service_tasks "$LB_SERVICE" >"$WORK_DIR/lb-tasks.json"
    local_lb=(--lb-tasks "$WORK_DIR/lb-tasks.json")
  fi
  in_client getent ahostsv4 "$GALERA_DNS" </dev/null >"$WORK_DIR/resolved.txt" || true
  bench_py plan --tasks "$WORK_DIR/tasks.json" --resolved "$WORK_DIR/resolved.txt" --network "$NETWORK" \
    --galera-service "$GALERA_SERVICE" --load-balancer-service "$LB_SERVICE" --client-node "$CLIENT_NODE" \
    --writer "$WRITER" --reader "$READER" "${local_lb[@]}" >"$WORK_DIR/plan.txt"
}

# sysbench_on WORKLOAD HOST PORT COMMAND THREADS: one sysbench step as the application user.
sysbench_on() {
  in_client sysbench "$1" --config-file="$SYSBENCH_CONF" --mysql-db="$SCHEMA" --mysql-host="$2" \
    --mysql-port="$3" --tables="$TABLES" --table-size="$TABLE_SIZE" --threads="$5" --time="$TIME" \
    --percentile=95 --report-interval=0 "$4" </dev/null
}

prepare_schema() {
  note "creating schema $SCHEMA for $APP_USER"
  bench_py sql setup --user "$APP_USER" | admin_sql ||
    error "creating schema $SCHEMA failed (see above); if it is left from an earlier run, drop it first (DROP DATABASE $SCHEMA)"
  SCHEMA_CREATED=1
  note "preparing $TABLES tables x $TABLE_SIZE rows through the writer $WRITER"
  sysbench_on oltp_read_write "${WRITER%:*}" "${WRITER##*:}" prepare "$TABLES" >"$WORK_DIR/prepare.txt" 2>&1 || {
    tail -n 20 "$WORK_DIR/prepare.txt" >&2
    error "sysbench prepare failed (above)"
  }
}

run_plan() {
  local workload path host port out count=0 total
  total=$(wc -l <"$WORK_DIR/plan.txt")
  while read -r workload path host port; do
    count=$((count + 1))
    out="$WORK_DIR/results/$workload.$path.txt"
    note "run $count/$total: $workload over $path ($host:$port), $THREADS threads, $TIME s"
    sysbench_on "$workload" "$host" "$port" run "$THREADS" >"$out" 2>&1 || {
      tail -n 20 "$out" >&2
      error "sysbench $workload over $path failed (above)"
    }
  done <"$WORK_DIR/plan.txt"
}

main() {
  local settings outputs view
  bash "$ROOT/scripts/venv.sh"
  # shellcheck source=scripts/stack-env.sh
  source "$ROOT/scripts/stack-env.sh"
  settings=$(bench_py options "$@")
  read -r TIME THREADS TABLES TABLE_SIZE IMAGE_TAG SYSBENCH_DEBIAN_VERSION LOCAL_LB SCHEMA <<<"$settings"
  CLIENT_IMAGE="$IMAGE_PREFIX/sysbench:$IMAGE_TAG"
  outputs=$(pulumi stack output --stack "$STACK" --json) ||
    error "the stack $STACK has no outputs (above): bring it up first (make up)"
  view=$(bench_py stack --client-host "$CLIENT_HOST" <<<"$outputs")
  read -r NETWORK GALERA_SERVICE GALERA_DNS LB_SERVICE WRITER READER CLIENT_NODE TLS <<<"$view"
  WORK_DIR=$(mktemp -d)
  mkdir "$WORK_DIR/results"
  trap cleanup EXIT INT TERM
  build_client_image
  load_client_image
  start_client
  hand_credentials
  make_plan
  prepare_schema
  run_plan
  printf '\nbench-lb: %s threads, %s s per run, %s tables x %s rows, client on %s (sysbench %s), TLS %s\n' \
    "$THREADS" "$TIME" "$TABLES" "$TABLE_SIZE" "$CLIENT_HOST" "$SYSBENCH_DEBIAN_VERSION" "$( ((TLS)) && echo on || echo off)"
  bench_py report "$WORK_DIR/results" <"$WORK_DIR/plan.txt"
}

# Run only when executed, so a test can source the file and call one function.
[[ "${BASH_SOURCE[0]}" != "$0" ]] || main "$@"
