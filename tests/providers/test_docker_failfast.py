"""The converge wait fails fast with the real reason (providers/CONTRACT.md#docker-converge),
through the real CLI on this machine's engine in single-node swarm mode: a service whose
container exits 1 at once fails `up` within two minutes quoting the line it printed, and one
whose image tag does not exist fails within two minutes quoting swarm's error, although
their converge timeout is 30 minutes. Neither leaves the service behind."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from tests.providers.conftest import MEASUREMENTS, docker
from tests.toolchain.pulumi_stack import REPO_ROOT, Stack

PROGRAM = REPO_ROOT / "tests" / "providers" / "programs" / "docker-failfast"
FAIL_WITHIN_S = 120
MESSAGE = "CLUSTER_NAME=my cluster may hold only letters, digits and -"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, plugins_ready, sshd, swarm_engine, conformance_image):
    prefix = f"gsfail-{secrets.token_hex(3)}"
    stack = Stack(PROGRAM, tmp_path_factory.mktemp("docker-failfast"), f"failfast-{prefix}")
    stack.prefix = prefix
    try:
        stack.init(prefix=prefix, image=conformance_image, failure="crash", message=MESSAGE,
                   dockerHost=f"ssh://{sshd.user}@{sshd.host}:{sshd.port}", sshOpts=json.dumps(sshd.ssh_opts))
        yield stack
    finally:
        stack.remove()
        for failure in ("crash", "missing"):
            docker("service", "rm", f"{prefix}-{failure}", check=False)


@pytest.mark.parametrize("failure, quoted", [
    ("crash", MESSAGE),
    ("missing", "No such image: galera-swarm-conformance:no-such-tag"),
])
def test_a_service_that_cannot_run_fails_up_fast_with_the_reason(stack, failure, quoted):
    stack.set_config("failure", failure)
    started = time.monotonic()
    result = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    seconds = time.monotonic() - started
    MEASUREMENTS.append(f"fail-fast up ({failure}): {seconds:.0f} s")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert seconds < FAIL_WITHIN_S, output
    assert "its tasks keep failing" in output, output
    assert quoted in output, output
    assert not docker("service", "ls", "-q", "--filter", f"name={stack.prefix}-{failure}").strip()
