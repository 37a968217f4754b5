#!/usr/bin/env bash
# README command two: every test, from a bare machine. Installs the toolchain, the Docker
# engine and the virtualenv; the lab-based suites build and remove their own lab.
# Extra arguments go to pytest (e.g. `scripts/test.sh tests/unit`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly PYTEST_NO_TESTS=5

note() { printf '%s [test] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Programs the suites call: shellcheck (the lab's and our scripts), ssh, curl, sshd (the
# conformance stacks start one on 127.0.0.1), the mariadb client (queries through the
# lab's published load balancer), chromium (WordPress pages as a browser renders them) and
# lua5.4 (the unit table tests of the load balancer's writer script).
install_test_tools() {
  local missing=() tool
  for tool in shellcheck ssh curl /usr/sbin/sshd mariadb chromium lua5.4; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) && return 0
  note "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck openssh-client openssh-server curl mariadb-client chromium lua5.4 >/dev/null
}

# The Go tests: the plugins' (mappings, diffs, config parsing, SSH against in-process servers)
# and galera-agent's (the node's decision, its runner, health and passwords).
go_tests() {
  local module
  for module in providers agent; do
    note "go vet and go test in $module/"
    (cd "$ROOT/$module" && go vet ./... && go test -count=1 ./...) || return
  done
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
  # The CLI, the language host and our docker/command plugins (providers/), and dockerd.
  bash "$ROOT/toolchain/bootstrap.sh"
  bash "$ROOT/scripts/venv.sh"
  # shellcheck source=scripts/stack-env.sh
  source "$ROOT/scripts/stack-env.sh"
  cd "$ROOT"
  # Fast suites first; the lab's own suite last, as it ends by taking the lab down.
  if (($# == 0)); then
    refuse_existing_lab
    go_tests || rc=$?
    set -- tests/unit tests/toolchain tests/providers tests/images tests/integration tests/lab
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
