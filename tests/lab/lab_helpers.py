"""Helpers for the lab tests: run commands, read lab.json, SSH to the hosts, poll."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab" / "lab"
LAB_JSON = REPO / "lab" / ".state" / "lab.json"
PROBE_CONTEXT = Path(__file__).resolve().parent / "probe"
# Pushed through the registry's published port, pulled by the hosts through its lab address.
PROBE_PUSH = "127.0.0.1:5000/galera-swarm/lab-probe:dev"
PROBE_REPO = "galera-swarm/lab-probe"

T = TypeVar("T")


def run(args: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command; with check, fail with its output when it exits non-zero."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def lab(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = run([str(LAB), *args], timeout=timeout, check=check)
    print(result.stderr, end="")
    return result


class Lab:
    """What lab.json says, and SSH to the hosts with it (as the stack reaches them)."""

    def __init__(self, info: dict) -> None:
        self.info = info
        self.hosts = [host["name"] for host in info["hosts"]]
        self.address = {host["name"]: host["address"] for host in info["hosts"]}
        self.registry = info["registry"]
        self.image_prefix = info["image_prefix"]

    def ssh_args(self, host: str) -> list[str]:
        return [
            "ssh", "-i", self.info["ssh_key"],
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-p", str(self.info["ssh_port"]),
            f"{self.info['ssh_user']}@{self.address[host]}",
        ]

    def sh(self, host: str, command: str, timeout: float = 120, check: bool = True) -> str:
        """Run one shell command line on a host over SSH; return its stdout, stripped."""
        return run([*self.ssh_args(host), command], timeout=timeout, check=check).stdout.strip()


def wait_until(what: str, probe: Callable[[], T], ready: Callable[[T], bool], timeout: float, interval: float = 2) -> T:
    """Poll probe() until ready(value); fail naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except (AssertionError, subprocess.TimeoutExpired) as failure:
            value = failure  # type: ignore[assignment]
        else:
            if ready(value):
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s; last seen: {value!r}")
        time.sleep(interval)


def build_probe_image() -> None:
    """The tests' own small image, pushed to the lab registry for the hosts to pull."""
    # The CLI here has no buildx plugin: ask for the legacy builder explicitly.
    run(["env", "DOCKER_BUILDKIT=0", "docker", "build", "-q", "-t", PROBE_PUSH, str(PROBE_CONTEXT)], timeout=900)
    run(["docker", "push", "-q", PROBE_PUSH], timeout=300)
