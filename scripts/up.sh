#!/usr/bin/env bash
# README command one: from a bare machine to the whole stack running on the local lab.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT STACK="${STACK:-dev}"

note() { printf '%s [up] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

prepare_machine() {
  # CLI, language host and the docker/command plugins (ours, from providers/), Docker engine.
  bash "$ROOT/toolchain/bootstrap.sh"
  bash "$ROOT/scripts/venv.sh"
}

deploy() {
  cd "$ROOT"
  pulumi stack select --create --non-interactive "$STACK"
  note "pulumi up ($STACK)"
  pulumi up --yes --non-interactive --suppress-progress
}

# Address of a lab host that runs a galera-lb task (its port is published there, host mode).
load_balancer_address() {
  local node
  node=$("$ROOT/lab/lab" ssh docker1 \
    "docker service ps galera-lb --filter desired-state=running --format '{{.Node}}'" | head -n1)
  python3 -c 'import json,sys; print(next(h["address"] for h in json.load(open(sys.argv[1]))["hosts"] if h["name"] == sys.argv[2]))' \
    "$ROOT/lab/.state/lab.json" "$node"
}

report() {
  pulumi stack output
  [[ "$STACK" == dev ]] || return 0
  cat <<TXT

Check it by hand (lab/lab ssh dockerK reaches a host; for pulumi, first: source scripts/stack-env.sh):
  lab/lab ssh docker1 docker node ls
  lab/lab ssh docker1 docker service ls
  lab/lab ssh docker1 docker service ps mysql-galera
  # through galera-lb; the password goes in a file descriptor, never on the command line
  mariadb --defaults-extra-file=<(printf '[client]\npassword=%s\n' "\$(pulumi config get galera-swarm:rootPassword)") \\
      -h $(load_balancer_address) -uroot -e "SHOW STATUS LIKE 'wsrep_cluster_size'"
  pulumi stack output wordpress_urls                  # finish WordPress's installer there
Tear down: make down
TXT
}

main() {
  local started=$SECONDS
  prepare_machine
  # shellcheck source=scripts/stack-env.sh
  source "$ROOT/scripts/stack-env.sh"
  [[ "$STACK" != dev ]] || "$ROOT/lab/lab" up
  deploy
  report
  note "done in $((SECONDS - started)) s"
}

main "$@"
