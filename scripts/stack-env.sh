# shellcheck shell=bash
# Sourced by the scripts that drive a stack (STACK, default dev): the toolchain on PATH, state
# in a local file backend inside the checkout, and the secrets passphrase.
#
# The lab's public passphrase is for the dev stack alone: its passwords only guard the lab.
# Any other stack needs a passphrase of its own (PULUMI_CONFIG_PASSPHRASE or
# PULUMI_CONFIG_PASSPHRASE_FILE) or another secrets provider; without one this stops, so a
# real stack is never encrypted with a key that is printed in the README.
STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEV_STACK=dev
DEV_LAB_PASSPHRASE=galera-swarm-dev-lab

# stack_passphrase_set STACK: export the dev passphrase for the dev stack when none is set;
# false, with the fix, for any other stack that has none.
stack_passphrase_set() {
  local stack=$1
  [[ -n "${PULUMI_CONFIG_PASSPHRASE+set}" || -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]] && return 0
  if [[ "$stack" == "$DEV_STACK" ]]; then
    export PULUMI_CONFIG_PASSPHRASE="$DEV_LAB_PASSPHRASE"
    return 0
  fi
  printf 'ERROR: stack %s has no secrets passphrase: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) first; the lab passphrase is for the %s stack only\n' \
    "$stack" "$DEV_STACK" >&2
  return 1
}

# shellcheck source=toolchain/env.sh
source "$STACK_ROOT/toolchain/env.sh"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$STACK_ROOT/.pulumi-state}"
stack_passphrase_set "${STACK:-$DEV_STACK}" || return 1
export PATH="$STACK_ROOT/.venv/bin:$PATH"
mkdir -p "$STACK_ROOT/.pulumi-state"
