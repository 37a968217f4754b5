# shellcheck shell=bash
# Sourced by the scripts that drive the dev stack: the toolchain on PATH, state in a local
# file backend inside the checkout, and the lab's public passphrase unless one is set.
STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=toolchain/env.sh
source "$STACK_ROOT/toolchain/env.sh"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$STACK_ROOT/.pulumi-state}"
# Only the dev stack's lab passwords are encrypted with this; see README, "The dev stack".
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-galera-swarm-dev-lab}"
export PATH="$STACK_ROOT/.venv/bin:$PATH"
mkdir -p "$STACK_ROOT/.pulumi-state"
