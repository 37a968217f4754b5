"""The Python SDK pins in requirements.txt equal the toolchain pins in toolchain/versions.env.

Fast: reads two files and runs bootstrap.sh only as far as its pin check (no Go, no build).
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "toolchain" / "versions.env"
REQUIREMENTS_FILE = REPO_ROOT / "requirements.txt"
BOOTSTRAP = REPO_ROOT / "toolchain" / "bootstrap.sh"

# Python SDK distribution -> key in versions.env that must carry the same version.
SDK_TO_TOOLCHAIN_KEY = {
    "pulumi": "PULUMI_VERSION",
    "pulumi-docker": "PULUMI_DOCKER_VERSION",
    "pulumi-command": "PULUMI_COMMAND_VERSION",
}


def read_versions_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: line without '=': {line!r}"
        values[key.strip()] = value.strip()
    return values


def read_exact_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def run_pin_check(requirements: Path) -> subprocess.CompletedProcess:
    """Run bootstrap.sh with a given requirements file; a mismatch stops it before any build.

    PATH is cut down to system directories and `go` is absent on purpose for the
    mismatch case: the pin check must come first and need nothing else.
    """
    env = dict(os.environ, REQUIREMENTS_FILE=str(requirements), PATH="/usr/bin:/bin")
    return subprocess.run(
        ["bash", str(BOOTSTRAP)], env=env, capture_output=True, text=True, timeout=60
    )


def test_versions_env_has_every_toolchain_pin():
    versions = read_versions_env(VERSIONS_FILE)
    for key in (
        "PULUMI_VERSION",
        "PULUMI_LANGUAGE_PYTHON_HOST_SDK_VERSION",
        "PULUMI_DOCKER_VERSION",
        "PULUMI_COMMAND_VERSION",
    ):
        assert versions.get(key), f"{key} missing or empty in {VERSIONS_FILE}"
        assert re.fullmatch(r"\d+\.\d+\.\d+", versions[key]), f"{key} must be an exact x.y.z version"


@pytest.mark.parametrize("sdk", sorted(SDK_TO_TOOLCHAIN_KEY))
def test_requirements_sdk_pin_equals_toolchain_pin(sdk):
    key = SDK_TO_TOOLCHAIN_KEY[sdk]
    pinned = read_exact_pins(REQUIREMENTS_FILE).get(sdk)
    wanted = read_versions_env(VERSIONS_FILE)[key]
    assert pinned == wanted, (
        f"requirements.txt pins {sdk}=={pinned} but toolchain/versions.env has {key}={wanted}; "
        "make them equal"
    )


def test_bootstrap_refuses_mismatched_sdk_pin_naming_both_files(tmp_path):
    versions = read_versions_env(VERSIONS_FILE)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        f"pulumi=={versions['PULUMI_VERSION']}\n"
        "pulumi-docker==0.0.1\n"
        f"pulumi-command=={versions['PULUMI_COMMAND_VERSION']}\n"
    )
    result = run_pin_check(requirements)
    assert result.returncode != 0
    assert "pins pulumi-docker==0.0.1 but" in result.stderr
    assert f"PULUMI_DOCKER_VERSION={versions['PULUMI_DOCKER_VERSION']}" in result.stderr
    assert "requirements.txt" in result.stderr and "toolchain/versions.env" in result.stderr
    assert "go is not on PATH" not in result.stderr


def test_bootstrap_refuses_missing_sdk_pin(tmp_path):
    versions = read_versions_env(VERSIONS_FILE)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        f"pulumi=={versions['PULUMI_VERSION']}\npulumi-docker=={versions['PULUMI_DOCKER_VERSION']}\n"
    )
    result = run_pin_check(requirements)
    assert result.returncode != 0
    assert "pins pulumi-command==<none>" in result.stderr


def test_bootstrap_passes_pin_check_when_pins_agree(tmp_path):
    versions = read_versions_env(VERSIONS_FILE)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        f"pulumi=={versions['PULUMI_VERSION']}\n"
        f"pulumi-docker=={versions['PULUMI_DOCKER_VERSION']}\n"
        f"pulumi-command=={versions['PULUMI_COMMAND_VERSION']}\n"
    )
    result = run_pin_check(requirements)
    # With go hidden from PATH the next step stops it: proof the pin check passed.
    assert "SDK pins match toolchain pins" in result.stderr
    assert "go is not on PATH" in result.stderr
    assert result.returncode != 0
