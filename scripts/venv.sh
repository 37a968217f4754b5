#!/usr/bin/env bash
# The project's virtualenv (.venv, named in Pulumi.yaml) with requirements.txt installed.
# Re-installs only when requirements.txt changed since the last install.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT VENV="$ROOT/.venv"

note() { printf '%s [venv] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

main() {
  local stamp="$VENV/.requirements.sha256" want
  want=$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)
  [[ -x "$VENV/bin/python" ]] || { note "creating $VENV"; python3 -m venv "$VENV"; }
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    note "installing requirements.txt"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
    printf '%s\n' "$want" >"$stamp"
  fi
}

main "$@"
