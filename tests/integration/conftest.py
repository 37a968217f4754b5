"""The slow parts, shared: one lab, one stack driven with Pulumi's Automation API, and a
timing report printed at the end of the run.

The stack runs from a scratch copy of the project (symlinks to the code, copies of the stack
files) with its own file backend, so config changes made by the tests never touch the
checkout and a developer's own `make up` state is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from pulumi import automation as auto

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from lab_helpers import LAB_JSON, Lab, lab  # noqa: E402  (shared with the lab's own tests)

STACK = "dev"
PASSPHRASE = "galera-swarm-dev-lab"
TIMINGS: dict[str, float] = {}


class Timer:
    def __init__(self, name: str):
        self.name = name

    def __enter__(self) -> "Timer":
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        TIMINGS[self.name] = time.monotonic() - self.started


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("galera-swarm timing report")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<48} {seconds:8.1f} s")


@pytest.fixture(scope="session")
def lab_hosts() -> Iterator[Lab]:
    if LAB_JSON.exists():
        pytest.fail("a lab is already up (lab/.state/lab.json exists), perhaps from `make up`; "
                    "the integration tests need bare hosts: run `make down` first")
    try:
        with Timer("lab up (3 hosts, from nothing)"):
            lab("up", timeout=3600)
        yield Lab(json.loads(LAB_JSON.read_text()))
    finally:
        lab("down", timeout=600, check=False)


def _scratch_project(tmp: Path) -> Path:
    work = tmp / "project"
    work.mkdir()
    for name in ("__main__.py", "components", "images", "lab", ".venv"):
        (work / name).symlink_to(ROOT / name)
    for name in ("Pulumi.yaml", f"Pulumi.{STACK}.yaml"):
        shutil.copy(ROOT / name, work / name)
    return work


@pytest.fixture(scope="session")
def stack(lab_hosts: Lab, tmp_path_factory) -> Iterator[auto.Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    backend = tmp / "state"
    backend.mkdir()
    env = {
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    workspace = auto.LocalWorkspace(work_dir=str(_scratch_project(tmp)), env_vars=env)
    the_stack = auto.Stack.create_or_select(STACK, workspace)
    try:
        yield the_stack
    finally:
        try:
            the_stack.destroy(on_output=print, suppress_progress=True)
        finally:
            the_stack.workspace.remove_stack(STACK, force=True)


def pulumi_up(stack: auto.Stack, **kwargs) -> auto.UpResult:
    return stack.up(on_output=print, show_secrets=False, suppress_progress=True, **kwargs)
