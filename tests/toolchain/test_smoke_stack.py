"""Smoke stack through the Go-built Pulumi CLI and plugins (toolchain/bootstrap.sh first).

One stack on the local file backend with passphrase secrets: up creates a Docker network on
the local engine and a local command, the secret config value shows only as ciphertext in
`pulumi stack export`, a second `up --expect-no-changes` succeeds, and destroy leaves no
network behind. Each test checks one of those promises from the outside, through the CLI
and the docker client. Needs the docker and command plugins installed by bootstrap.
"""

import json
import secrets
import subprocess

import pytest

from .pulumi_stack import REPO_ROOT, Stack

SMOKE_PROGRAM = REPO_ROOT / "toolchain" / "smoke"
NAME_PREFIX = "galera-toolchain-smoke"


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
def smoke(tmp_path_factory, toolchain_ready):
    """Stack after one successful `up`; destroyed and removed afterwards, also on failure."""
    suffix = secrets.token_hex(4)
    stack = Stack(SMOKE_PROGRAM, tmp_path_factory.mktemp("toolchain-smoke"), f"smoke-{suffix}")
    stack.network_name = f"{NAME_PREFIX}-{suffix}"
    stack.secret_value = f"smoke-secret-{secrets.token_hex(12)}"
    try:
        stack.init(networkName=stack.network_name, secret_smokeSecret=stack.secret_value)
        stack.pulumi("up", "--yes", "--skip-preview")
        yield stack
    finally:
        stack.remove()
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
    resources = json.loads(exported)["deployment"]["resources"]
    stack_resource = next(r for r in resources if r["type"] == "pulumi:pulumi:Stack")
    assert stack_resource["outputs"]["smokeSecret"]["ciphertext"]


def test_second_up_expects_no_changes(smoke):
    smoke.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_destroy_leaves_no_network_and_no_resources(smoke):
    smoke.pulumi("destroy", "--yes", "--skip-preview")
    assert docker_network_names(smoke.network_name) == []
    state = json.loads(smoke.pulumi("stack", "export").stdout)
    assert state["deployment"].get("resources") in (None, [])
