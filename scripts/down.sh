#!/usr/bin/env bash
# Undo `make up`: destroy the stack's resources on the hosts, then remove the local lab.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT STACK="${STACK:-dev}"

note() { printf '%s [down] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

main() {
  # shellcheck source=scripts/stack-env.sh
  source "$ROOT/scripts/stack-env.sh"
  cd "$ROOT"
  if pulumi stack select --non-interactive "$STACK" 2>/dev/null; then
    note "pulumi destroy ($STACK)"
    pulumi destroy --yes --non-interactive --suppress-progress
  fi
  [[ "$STACK" != dev ]] || "$ROOT/lab/lab" down
}

main "$@"
