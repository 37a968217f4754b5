"""The slow parts, shared: one lab of bare Docker hosts for the session, the project's `dev`
stack driven through the Go-built CLI, and a timing report printed at the end of the run.

The stack runs from a scratch copy of the project (symlinks to the code, copies of the stack
files) with its own file backend, so config changes made by the tests never touch the
checkout and a developer's own `make up` state is left alone."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from lab_helpers import LAB_JSON, Lab, lab  # noqa: E402  (shared with the lab's own tests)

from tests.toolchain.pulumi_stack import Stack  # noqa: E402

STACK = "dev"
# The dev stack runs on docker1..3; the integration suite scales it onto docker4 and docker5.
LAB_HOSTS = 5
# The dev stack's passwords are encrypted with the lab's public passphrase (README).
DEV_PASSPHRASE = "galera-swarm-dev-lab"
PROJECT_CODE = ("__main__.py", "components", "galera_swarm", "images", "lab", ".venv", "requirements.txt")
PROJECT_FILES = ("Pulumi.yaml", f"Pulumi.{STACK}.yaml")
TIMINGS: dict[str, float] = {}
# One line per failure case: rows written and lost, outage, time to heal.
FIGURES: list[str] = []


class Timer:
    """Records how long a block took under `name` for the timing report."""

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
            terminalreporter.write_line(f"{name:<52} {seconds:8.1f} s")
    if FIGURES:
        terminalreporter.section("galera-swarm failure figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def lab_hosts() -> Iterator[Lab]:
    """LAB_HOSTS bare lab hosts: the dev stack's three, and two more to scale onto. A lab
    this fixture started is removed at the end; one that was already up is left up (with
    LAB_HOSTS hosts), and one in use by a swarm is not touched at all."""
    already_up = LAB_JSON.exists()
    with Timer(f"lab up ({LAB_HOSTS} hosts)"):
        lab("up", "--hosts", str(LAB_HOSTS), timeout=3600)
    the_lab = Lab(json.loads(LAB_JSON.read_text()))
    in_swarm = [h for h in the_lab.hosts
                if the_lab.sh(h, "docker info --format '{{.Swarm.LocalNodeState}}'") != "inactive"]
    if in_swarm:
        pytest.fail(f"lab hosts {in_swarm} are already in a swarm (from `make up`?); the "
                    "integration tests start from bare hosts: run `make down` first")
    try:
        yield the_lab
    finally:
        if not already_up:
            lab("down", timeout=600, check=False)


def scratch_project(tmp: Path) -> Path:
    """A project directory whose code is the checkout's (symlinks) and whose stack files are
    copies the tests may change."""
    project = tmp / "project"
    project.mkdir()
    for name in PROJECT_CODE:
        (project / name).symlink_to(ROOT / name)
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, project / name)
    return project


@pytest.fixture(scope="module")
def dev_stack(lab_hosts: Lab, tmp_path_factory) -> Iterator[Stack]:
    """The dev stack, initialised but not deployed; destroyed and removed at the end."""
    tmp = tmp_path_factory.mktemp("dev-stack")
    stack = Stack(scratch_project(tmp), tmp, STACK, passphrase=DEV_PASSPHRASE)
    stack.init()
    try:
        yield stack
    finally:
        stack.remove()
