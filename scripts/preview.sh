#!/usr/bin/env bash
# What `pulumi up` would change on a stack (dev by default), without changing anything.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT STACK="${STACK:-dev}"

main() {
  bash "$ROOT/toolchain/bootstrap.sh"
  bash "$ROOT/scripts/venv.sh"
  # shellcheck source=scripts/stack-env.sh
  source "$ROOT/scripts/stack-env.sh"
  cd "$ROOT"
  pulumi stack select --create --non-interactive "$STACK"
  pulumi preview --non-interactive --diff "$@"
}

main "$@"
