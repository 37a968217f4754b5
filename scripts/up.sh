#!/usr/bin/env bash
# README command one: from a bare machine to the whole stack running on the local lab.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT STACK="${STACK:-dev}"

note() { printf '%s [up] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

prepare_machine() {
  bash "$ROOT/toolchain/bootstrap.sh" pulumi pulumi-language-python
  bash "$ROOT/toolchain/bootstrap.sh" pulumi-resource-docker pulumi-resource-command ||
    note "the provider plugins could not be built (the reason is above)"
  bash "$ROOT/scripts/venv.sh"
}

# The providers cannot be built from the Go module proxy this machine kind reaches (see
# toolchain/README.md, "Known gap"): say so before the lab or the stack is touched.
require_plugins() {
  local plugins kind version missing=()
  plugins=$(pulumi plugin ls 2>/dev/null || true)
  for kind in "docker $(plugin_version PULUMI_DOCKER_VERSION)" "command $(plugin_version PULUMI_COMMAND_VERSION)"; do
    version=${kind#* }
    grep -qE "^${kind% *} +resource +${version}( |$)" <<<"$plugins" || missing+=("${kind% *} $version")
  done
  ((${#missing[@]} == 0)) && return 0
  note "ERROR: Pulumi resource plugin(s) not installed: ${missing[*]}."
  note "They cannot be built from the Go module proxy this machine reaches (toolchain/README.md,"
  note "'Known gap'). On a machine with internet: pulumi plugin install resource docker/command"
  note "at those versions. To bring the same architecture up on the lab without Pulumi:"
  note "  make up-by-hand"
  exit 1
}

plugin_version() {
  sed -nE "s/^$1=([^[:space:]]+).*/\1/p" "$ROOT/toolchain/versions.env"
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
  require_plugins
  [[ "$STACK" != dev ]] || "$ROOT/lab/lab" up
  deploy
  report
  note "done in $((SECONDS - started)) s"
}

main "$@"
