"""The lab script's own hygiene and its answers to bad input; none of these needs a lab."""

from __future__ import annotations

import shutil

import pytest

from lab_helpers import LAB, REPO, run

LAB_SCRIPTS = [LAB, REPO / "lab" / "bench-up.sh", REPO / "lab" / "host" / "entrypoint.sh"]


def test_lab_scripts_are_shellcheck_clean() -> None:
    assert shutil.which("shellcheck"), "shellcheck is missing: apt-get install shellcheck"
    result = run(["shellcheck", *map(str, LAB_SCRIPTS)], check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("count", ["0", "three", "201", "-1"])
def test_up_rejects_a_bad_host_count_naming_the_setting(count: str) -> None:
    result = run([str(LAB), "up", "--hosts", count], check=False)
    assert result.returncode != 0
    assert f"--hosts is '{count}': give a whole number from 1 to 200" in result.stderr


@pytest.mark.parametrize("command", ["stop", "stop --hard", "start", "cut", "heal", "ssh"])
def test_host_commands_reject_a_name_that_is_no_lab_host(command: str) -> None:
    result = run([str(LAB), *command.split(), "registry"], check=False)
    assert result.returncode != 0
    assert "host 'registry' is not a lab host name: use dockerK, e.g. docker1" in result.stderr


@pytest.mark.parametrize("command", ["stop", "stop --hard", "start"])
def test_stop_and_start_name_the_backup_host_too_for_a_bad_name(command: str) -> None:
    result = run([str(LAB), *command.split(), "backup2"], check=False)
    assert result.returncode != 0
    assert "host 'backup2' is not a lab host name: use dockerK, e.g. docker1, or backup1 (the backup host)" in result.stderr


def test_unknown_command_is_named_and_usage_printed() -> None:
    result = run([str(LAB), "destroy"], check=False)
    assert result.returncode != 0
    assert "unknown command 'destroy'" in result.stderr
    assert "lab up [--hosts N]" in result.stderr
