"""The plugins the engine uses are ours, at the SDK versions: what `pulumi plugin ls` lists
and what the installed binaries say of themselves (README, "Provider plugins")."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.providers.conftest import installed_plugins


@pytest.mark.parametrize("name", ["docker", "command"])
def test_installed_plugin_is_ours_at_the_sdk_version(plugins_ready, name):
    version = installed_plugins(plugins_ready)[name]
    binary = Path(plugins_ready["PULUMI_HOME"]) / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"
    identity = subprocess.run([str(binary), "-version"], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()
    assert identity.startswith(f"pulumi-resource-{name} {version} (galera-swarm providers/, pulumi-go-provider v1.0.0)")
