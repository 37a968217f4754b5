#!/usr/bin/env bash
# README command two: every test, from a bare machine. Installs the toolchain, the Docker
# engine and the virtualenv; the lab-based suites build and remove their own lab.
# Extra arguments go to pytest (e.g. `scripts/test.sh tests/unit`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly PYTEST_NO_TESTS=5

note() { printf '%s [test] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Command-line tools the suites call (the lab's tests lint its script with shellcheck).
install_test_tools() {
  local missing=() tool
  for tool in shellcheck ssh curl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) && return 0
  note "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck openssh-client curl >/dev/null
}

# The lab suites build and remove their own lab; one that is up already (make up,
# make up-by-hand) holds someone's deployment, so leave it alone and say so.
refuse_existing_lab() {
  if [[ -e "$ROOT/lab/.state/lab.json" ]]; then
    note "ERROR: a lab is up (lab/.state/lab.json exists, from make up or make up-by-hand?)."
    note "make test builds and removes its own lab; run 'make down' first, or name suites:"
    note "  scripts/test.sh tests/unit tests/toolchain tests/images"
    exit 1
  fi
}

main() {
  local started=$SECONDS rc=0
  install_test_tools
  # The CLI and the language host; the provider plugins cannot be built from the Go module
  # proxy this machine reaches (toolchain/README.md, "Known gap"), and no test needs them.
  bash "$ROOT/toolchain/bootstrap.sh" pulumi pulumi-language-python
  bash "$ROOT/scripts/venv.sh"
  # shellcheck source=scripts/stack-env.sh
  source "$ROOT/scripts/stack-env.sh"
  cd "$ROOT"
  # Fast suites first; the lab's own suite last, as it ends by taking the lab down.
  if (($# == 0)); then
    refuse_existing_lab
    set -- tests/unit tests/toolchain tests/images tests/integration tests/lab
  fi
  python -m pytest "$@" || rc=$?
  if ((rc == PYTEST_NO_TESTS)); then
    note "pytest collected no tests: that is a failure here"
    rc=1
  fi
  note "tests finished in $((SECONDS - started)) s with exit code $rc"
  return "$rc"
}

main "$@"
