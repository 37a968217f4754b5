"""scripts/stack-env.sh: the lab's public passphrase reaches the dev stack only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK_ENV = ROOT / "scripts" / "stack-env.sh"
# The public lab passphrase, as the README prints it.
DEV_LAB_PASSPHRASE = "galera-swarm-dev-lab"


def source_stack_env(stack: str | None, **env: str) -> subprocess.CompletedProcess:
    """Source stack-env.sh as the scripts do (set -e) and print the passphrase it left."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "STACK")}
    if stack is not None:
        base["STACK"] = stack
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; source "{STACK_ENV}"; '
                       'printf "%s" "${PULUMI_CONFIG_PASSPHRASE-unset}"'],
        env={**base, **env}, capture_output=True, text=True, timeout=30)


def test_the_dev_stack_gets_the_lab_passphrase():
    for stack in (None, "dev"):
        proc = source_stack_env(stack)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == DEV_LAB_PASSPHRASE


def test_another_stack_without_a_passphrase_stops_with_the_fix():
    proc = source_stack_env("prod")
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "stack prod has no secrets passphrase: export PULUMI_CONFIG_PASSPHRASE" in proc.stderr


def test_a_passphrase_of_ones_own_is_kept_for_any_stack(tmp_path):
    proc = source_stack_env("prod", PULUMI_CONFIG_PASSPHRASE="s3cret of prod")
    assert (proc.returncode, proc.stdout) == (0, "s3cret of prod")
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("from a file")
    proc = source_stack_env("prod", PULUMI_CONFIG_PASSPHRASE_FILE=str(passphrase_file))
    assert (proc.returncode, proc.stdout) == (0, "unset")
    proc = source_stack_env("dev", PULUMI_CONFIG_PASSPHRASE="mine")
    assert proc.stdout == "mine"
