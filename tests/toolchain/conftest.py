"""Fixtures of the toolchain tests."""

from pathlib import Path

import pytest

from .pulumi_stack import toolchain_env


@pytest.fixture(scope="session")
def toolchain_ready():
    env = toolchain_env()
    missing = [
        program
        for program in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec")
        if not (Path(env["TOOLCHAIN_BIN"]) / program).exists()
    ]
    assert not missing, f"missing {missing} in {env['TOOLCHAIN_BIN']}: run toolchain/bootstrap.sh"
    return env
