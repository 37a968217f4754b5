"""Shared parts of the toolchain tests: the toolchain's environment and throwaway stacks
driven through the Go-built `pulumi` CLI on the local file backend."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_SCRIPT = REPO_ROOT / "toolchain" / "env.sh"
CLI_TIMEOUT_S = 600


def toolchain_env() -> dict[str, str]:
    """The environment toolchain/env.sh sets up, read back from a bash that sourced it."""
    dump = subprocess.run(
        ["bash", "-c", f'. "{ENV_SCRIPT}" && env -0'],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return dict(item.split("=", 1) for item in dump.decode().split("\0") if "=" in item)


class Stack:
    """A throwaway stack of one of toolchain/'s programs, in its own directory and backend."""

    def __init__(self, program: Path, workdir: Path, name: str, passphrase: str | None = None):
        """`program`: a Pulumi project directory, copied (symlinks kept as symlinks) into
        `workdir`, which also holds the stack's file backend; `passphrase` encrypts its
        secrets (a random one when None)."""
        self.name = name
        self.project_dir = workdir / "program"
        self.env = toolchain_env()
        self.env.update(
            PULUMI_BACKEND_URL=f"file://{workdir / 'state'}",
            PULUMI_CONFIG_PASSPHRASE=passphrase or secrets.token_hex(16),
            PULUMI_SKIP_CONFIRMATIONS="true",
            NO_COLOR="1",
        )
        (workdir / "state").mkdir()
        # A copy keeps Pulumi.<stack>.yaml out of the work tree; the copy's virtualenv
        # points at the repository's .venv like the original's does.
        shutil.copytree(program, self.project_dir, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        project_file = self.project_dir / "Pulumi.yaml"
        project_file.write_text(
            project_file.read_text().replace(
                "virtualenv: ../../.venv", f"virtualenv: {REPO_ROOT / '.venv'}"
            )
        )

    def pulumi(
        self, *args: str, check: bool = True, of_stack: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run the CLI in the program's copy; `of_stack=False` for commands without --stack;
        `stdin` is fed to the command (values that must not appear on a command line)."""
        stack_args = ["--stack", self.name, "--non-interactive"] if of_stack else []
        result = subprocess.run(
            ["pulumi", *args, *stack_args],
            cwd=self.project_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            input=stdin if stdin is not None else "",
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"pulumi {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def init(self, **config: str) -> None:
        """Create (or, when its stack file exists, select) the stack with passphrase secrets;
        `secret_*` keys are set as secrets."""
        self.pulumi("stack", "select", "--create", "--secrets-provider", "passphrase")
        for key, value in config.items():
            if key.startswith("secret_"):
                self.set_config(key.removeprefix("secret_"), value, secret=True)
            else:
                self.set_config(key, value)

    def set_config(self, key: str, value: str, secret: bool = False, path: bool = False) -> None:
        """`pulumi config set`, the value on stdin: it may start with `-`, and a secret stays
        off the command line. `path`: the key is a path into a structured value
        (`galera-swarm:hosts[3].name`)."""
        flags = (["--secret"] if secret else []) + (["--path"] if path else [])
        self.pulumi("config", "set", *flags, key, stdin=value)

    def remove(self) -> None:
        """Destroy and forget the stack; never raises, for use in finalizers."""
        self.pulumi("destroy", "--yes", "--skip-preview", check=False)
        self.pulumi("stack", "rm", "--yes", "--force", check=False)


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (children, their children, ...), from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def signal_quietly(pid: int, signum: int) -> None:
    """Send a signal to a process that may already be gone."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def killed_when(stack: Stack, args: Sequence[str], moment: Callable[[], bool], what: str,
                timeout: float, settle: float = 2) -> str:
    """Run `pulumi <args>` on `stack` and SIGKILL it together with every process it started
    (language host, plugins: the CLI puts plugins in process groups of their own, and a plugin
    that outlives the CLI would finish or undo its step), as a lost machine or runner would,
    `settle` seconds after `moment()` (polled every 0.5 s) is first true; `what` names that
    moment. Returns the CLI's output. Raises AssertionError when the CLI ends before, or the
    moment does not come within `timeout` seconds."""
    process = subprocess.Popen(
        ["pulumi", *args, "--stack", stack.name, "--non-interactive"],
        cwd=stack.project_dir, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not moment():
            assert process.poll() is None, f"pulumi {' '.join(args)} ended before {what}: {process.stdout.read()}"
            assert time.monotonic() < deadline, f"not {what} within {timeout} s"
            time.sleep(0.5)
        time.sleep(settle)
        assert process.poll() is None, f"pulumi {' '.join(args)} ended before it could be interrupted ({what})"
    finally:
        # Freeze the tree first (so nothing in it reacts or starts more), until no new
        # process shows up, then kill it all.
        frozen: set[int] = set()
        while new := {process.pid, *descendants(process.pid)} - frozen:
            for pid in new:
                signal_quietly(pid, signal.SIGSTOP)
            frozen |= new
        for pid in frozen:
            signal_quietly(pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=60)
    return output
