"""Engine-only stack through the Go-built CLI and Python language host, no provider plugin.

Checks what the toolchain promises without the docker/command plugins: a Python program
runs, a passphrase-encrypted config secret stays ciphertext in the state, a second
`up --expect-no-changes` succeeds, destroy empties the stack, and nothing was downloaded
(the plugin directory holds only what bootstrap installed).
"""

import json
import secrets
from pathlib import Path

import pytest

from .pulumi_stack import REPO_ROOT, Stack

ENGINE_PROGRAM = REPO_ROOT / "toolchain" / "smoke-engine"


def installed_plugin_dirs(env: dict[str, str]) -> set[str]:
    """The plugin directories in PULUMI_HOME (not the CLI's `.lock`/`.lastused` bookkeeping
    files beside them, which any run may add)."""
    plugins = Path(env["PULUMI_HOME"]) / "plugins"
    return {p.name for p in plugins.iterdir() if p.is_dir()} if plugins.is_dir() else set()


@pytest.fixture(scope="module")
def engine_stack(tmp_path_factory, toolchain_ready):
    stack = Stack(
        ENGINE_PROGRAM, tmp_path_factory.mktemp("toolchain-engine"), f"engine-{secrets.token_hex(4)}"
    )
    stack.secret_value = f"engine-secret-{secrets.token_hex(12)}"
    stack.plugins_before = installed_plugin_dirs(stack.env)
    try:
        stack.init(secret_smokeSecret=stack.secret_value)
        stack.first_up = stack.pulumi("up", "--yes", "--skip-preview")
        yield stack
    finally:
        stack.remove()


def test_cli_reports_the_pinned_version(engine_stack):
    versions = dict(
        line.split("=", 1)
        for line in (REPO_ROOT / "toolchain" / "versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    version = engine_stack.pulumi("version", of_stack=False).stdout.strip()
    assert version == f"v{versions['PULUMI_VERSION']}"


def test_python_program_outputs_reach_the_stack(engine_stack):
    outputs = json.loads(engine_stack.pulumi("stack", "output", "--json", "--show-secrets").stdout)
    assert outputs == {
        "smokeSecret": engine_stack.secret_value,
        "secretLength": len(engine_stack.secret_value),
        "stackName": engine_stack.name,
    }


def test_stack_output_masks_the_secret_without_show_secrets(engine_stack):
    outputs = json.loads(engine_stack.pulumi("stack", "output", "--json").stdout)
    assert outputs["smokeSecret"] == "[secret]"
    assert engine_stack.secret_value not in engine_stack.first_up.stdout


def test_stack_export_shows_secret_only_as_ciphertext(engine_stack):
    exported = engine_stack.pulumi("stack", "export").stdout
    assert engine_stack.secret_value not in exported
    resources = json.loads(exported)["deployment"]["resources"]
    stack_resource = next(r for r in resources if r["type"] == "pulumi:pulumi:Stack")
    assert stack_resource["outputs"]["smokeSecret"]["ciphertext"]
    assert stack_resource["outputs"]["secretLength"]["ciphertext"]


def test_second_up_expects_no_changes(engine_stack):
    engine_stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_no_plugin_was_downloaded(engine_stack):
    assert installed_plugin_dirs(engine_stack.env) == engine_stack.plugins_before


def test_destroy_empties_the_stack(engine_stack):
    engine_stack.pulumi("destroy", "--yes", "--skip-preview")
    state = json.loads(engine_stack.pulumi("stack", "export").stdout)
    assert state["deployment"].get("resources") in (None, [])
