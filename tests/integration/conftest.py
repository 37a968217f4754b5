"""The slow parts, shared: one lab of three bare Docker hosts for the session, the stack
deployed on it once per module, and a timing report printed at the end of the run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from lab_helpers import LAB_JSON, Lab, lab  # noqa: E402  (shared with the lab's own tests)

SEED_RECIPE = ROOT / "bench" / "seed-recipe.sh"
TIMINGS: dict[str, float] = {}


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


@pytest.fixture(scope="session")
def lab_hosts() -> Iterator[Lab]:
    """Three bare lab hosts. A lab this fixture started is removed at the end; one that was
    already up is left as it was found, and one in use by a swarm is not touched at all."""
    already_up = LAB_JSON.exists()
    with Timer("lab up (3 hosts)"):
        lab("up", timeout=3600)
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


def seed_recipe(action: str) -> None:
    result = subprocess.run([str(SEED_RECIPE), action], capture_output=True, text=True,
                            timeout=1200, stdin=subprocess.DEVNULL)
    print(result.stderr, end="")
    assert result.returncode == 0, f"seed-recipe {action} failed:\n{result.stdout}\n{result.stderr}"
