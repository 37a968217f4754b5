"""Smoke stack through the Go-built Pulumi CLI (toolchain/bootstrap.sh, then this test).

One stack on the local file backend with passphrase secrets: up creates a Docker network on
the local engine and a local command, the secret config value shows only as ciphertext in
`pulumi stack export`, a second `up --expect-no-changes` succeeds, and destroy leaves no
network behind. Each test checks one of those promises from the outside, through the CLI
and the docker client, as an operator would.
"""

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE_PROGRAM = REPO_ROOT / "toolchain" / "smoke"
ENV_SCRIPT = REPO_ROOT / "toolchain" / "env.sh"
NAME_PREFIX = "galera-toolchain-smoke"
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
    """A throwaway stack of the smoke program in its own directory and state backend."""

    def __init__(self, workdir: Path, name: str):
        self.workdir = workdir
        self.name = name
        self.project_dir = workdir / "program"
        self.env = toolchain_env()
        self.env.update(
            PULUMI_BACKEND_URL=f"file://{workdir / 'state'}",
            PULUMI_CONFIG_PASSPHRASE=secrets.token_hex(16),
            PULUMI_SKIP_CONFIRMATIONS="true",
            NO_COLOR="1",
        )
        (workdir / "state").mkdir()

    def copy_program(self) -> None:
        # A copy keeps Pulumi.<stack>.yaml out of the work tree; the copy's virtualenv
        # points at the repository's .venv like the original's does.
        shutil.copytree(SMOKE_PROGRAM, self.project_dir, ignore=shutil.ignore_patterns("__pycache__"))
        project_file = self.project_dir / "Pulumi.yaml"
        project_file.write_text(
            project_file.read_text().replace(
                "virtualenv: ../../.venv", f"virtualenv: {REPO_ROOT / '.venv'}"
            )
        )

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["pulumi", *args, "--stack", self.name, "--non-interactive"],
            cwd=self.project_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"pulumi {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result


def docker_network_names(name: str) -> list[str]:
    listed = subprocess.run(
        ["docker", "network", "ls", "--filter", f"name=^{name}$", "--format", "{{.Name}}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return listed.split()


@pytest.fixture(scope="module")
def toolchain_ready():
    env = toolchain_env()
    missing = [
        program
        for program in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec")
        if not (Path(env["TOOLCHAIN_BIN"]) / program).exists()
    ]
    assert not missing, f"missing {missing} in {env['TOOLCHAIN_BIN']}: run toolchain/bootstrap.sh"
    return env


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, toolchain_ready):
    """Stack after one successful `up`; destroyed and removed afterwards, also on failure."""
    suffix = secrets.token_hex(4)
    stack = Stack(tmp_path_factory.mktemp("toolchain-smoke"), f"smoke-{suffix}")
    stack.network_name = f"{NAME_PREFIX}-{suffix}"
    stack.secret_value = f"smoke-secret-{secrets.token_hex(12)}"
    stack.copy_program()
    try:
        stack.pulumi("stack", "init", "--secrets-provider", "passphrase")
        stack.pulumi("config", "set", "networkName", stack.network_name)
        stack.pulumi("config", "set", "--secret", "smokeSecret", stack.secret_value)
        stack.first_up = stack.pulumi("up", "--yes", "--skip-preview")
        yield stack
    finally:
        stack.pulumi("destroy", "--yes", "--skip-preview", check=False)
        stack.pulumi("stack", "rm", "--yes", "--force", check=False)
        # Last resort for a failed destroy: the network is ours by its unique name.
        if docker_network_names(stack.network_name):
            subprocess.run(["docker", "network", "rm", stack.network_name], check=False, timeout=60)


def test_up_creates_docker_network_on_local_engine(smoke):
    assert docker_network_names(smoke.network_name) == [smoke.network_name]
    labels = json.loads(
        subprocess.run(
            ["docker", "network", "inspect", "--format", "{{json .Labels}}", smoke.network_name],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    assert labels.get("galera-swarm.toolchain-smoke") == "true"


def test_local_command_ran_with_the_secret_in_its_environment(smoke):
    outputs = json.loads(smoke.pulumi("stack", "output", "--json", "--show-secrets").stdout)
    assert outputs["commandStdout"] == (
        f"network {smoke.network_name} secret-length {len(smoke.secret_value)}"
    )
    assert outputs["smokeSecret"] == smoke.secret_value


def test_stack_export_shows_secret_only_as_ciphertext(smoke):
    exported = smoke.pulumi("stack", "export").stdout
    assert smoke.secret_value not in exported
    state = json.loads(exported)
    stack_resource = next(
        r for r in state["deployment"]["resources"] if r["type"] == "pulumi:pulumi:Stack"
    )
    secret_output = stack_resource["outputs"]["smokeSecret"]
    assert set(secret_output) >= {"ciphertext"}, secret_output
    assert secret_output["ciphertext"]


def test_second_up_expects_no_changes(smoke):
    smoke.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_destroy_leaves_no_network_and_no_resources(smoke):
    smoke.pulumi("destroy", "--yes", "--skip-preview")
    assert docker_network_names(smoke.network_name) == []
    state = json.loads(smoke.pulumi("stack", "export").stdout)
    assert state["deployment"].get("resources") in (None, [])
