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

report() {
  pulumi stack output
  cat <<TXT

Check it by hand (the lab's hosts answer over SSH with lab/lab ssh dockerK):
  lab/lab ssh docker1 docker node ls
  lab/lab ssh docker1 docker service ls
  lab/lab ssh docker1 'docker exec \$(docker ps -qf name=mysql-galera | head -n1) \\
      mariadb -uroot -p"\$(cat /run/secrets/mysql-root-password)" -e "SHOW STATUS LIKE \"wsrep_%\""'
  curl -sI \$(pulumi stack output wordpress_urls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')
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
