#!/usr/bin/env bash
# `make bench`: the toolchain and venv, then bench/compare.py on the dev stack.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

main() {
  bash "$ROOT/toolchain/bootstrap.sh"
  bash "$ROOT/scripts/venv.sh"
  # shellcheck source=scripts/stack-env.sh
  source "$ROOT/scripts/stack-env.sh"
  cd "$ROOT"
  python bench/compare.py
}

main "$@"
