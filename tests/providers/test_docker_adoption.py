"""Interrupted creates converge (providers/CONTRACT.md#docker-adoption), through the real CLI
on this machine's engine in single-node swarm mode reached over SSH: a `pulumi up` killed
(SIGKILL, with its plugins) while the service is being created leaves a pending create, and
the next `up` adopts the service instead of failing on its name; objects the state forgot are
adopted, once each; a same-named object we did not create fails `up`, named with the fix.
Tests run in file order on one stack."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from tests.providers.conftest import OWN_LABEL_PREFIX, docker
from tests.toolchain.pulumi_stack import REPO_ROOT, Stack, killed_when

PROGRAM = REPO_ROOT / "tests" / "providers" / "programs" / "docker-adopt"


def ids_named(kind: str, name: str) -> list[str]:
    """Full IDs of the objects of a kind (service, secret, config, network) named exactly `name`."""
    listed = [line.split() for line in docker(kind, "ls", "--format", "{{.ID}} {{.Name}}").splitlines()]
    return sorted(docker(kind, "inspect", "--format", "{{.ID}}", row[0]).strip()
                  for row in listed if row[1:] == [name])


# The program's objects: kind and resource name; each is named `<prefix>-<resource name>`.
OBJECTS = (("service", "app"), ("secret", "secret"), ("config", "config"), ("network", "net"))


def objects_of(prefix: str) -> dict[str, list[str]]:
    """IDs of this stack's objects by kind, found by the program's names."""
    return {kind: ids_named(kind, f"{prefix}-{resource}") for kind, resource in OBJECTS}


def up_killed_while_creating(stack: Stack, service: str, timeout: float = 120) -> str:
    """`pulumi up`, killed with its plugins (killed_when) as soon as Docker lists `service` and
    2 s on (its converge wait is then running). Returns the CLI's output."""
    return killed_when(stack, ["up", "--yes", "--skip-preview"], lambda: bool(ids_named("service", service)),
                       f"{service} existed", timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, plugins_ready, sshd, swarm_engine, conformance_image):
    prefix = f"gsadopt-{secrets.token_hex(3)}"
    stack = Stack(PROGRAM, tmp_path_factory.mktemp("docker-adoption"), f"adopt-{prefix}")
    stack.prefix = prefix
    try:
        stack.init(prefix=prefix, image=conformance_image, readyAfter="25",
                   dockerHost=f"ssh://{sshd.user}@{sshd.host}:{sshd.port}", sshOpts=json.dumps(sshd.ssh_opts))
        yield stack
    finally:
        stack.remove()
        for kind, resource in (*OBJECTS, ("service", "squatter")):
            for object_id in ids_named(kind, f"{prefix}-{resource}"):
                docker(kind, "rm", object_id, check=False)


def test_an_up_killed_while_creating_a_service_converges_on_the_next_up(stack):
    up_killed_while_creating(stack, f"{stack.prefix}-app")
    exported = json.loads(stack.pulumi("stack", "export").stdout)
    pending = [(op["type"], op["resource"]["urn"]) for op in exported["deployment"].get("pending_operations", [])]
    assert [urn.rsplit("::", 1)[1] for kind, urn in pending if kind == "creating"] == ["app"], pending
    left_behind = objects_of(stack.prefix)["service"]
    assert len(left_behind) == 1

    # The killed CLI left its lock on the file backend; the CLI's error says to cancel.
    stack.pulumi("cancel", "--yes")
    stack.pulumi("up", "--yes", "--skip-preview")

    assert objects_of(stack.prefix)["service"] == left_behind
    assert json.loads(stack.pulumi("stack", "output", "--json").stdout)["appId"] == left_behind[0]
    stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")
    stack.pulumi("refresh", "--yes", "--skip-preview", "--expect-no-changes")


def test_every_object_carries_its_owner_label_which_the_state_never_shows(stack):
    for kind, resource in OBJECTS:
        field = "{{json .Labels}}" if kind == "network" else "{{json .Spec.Labels}}"
        labels = json.loads(docker(kind, "inspect", "--format", field, f"{stack.prefix}-{resource}"))
        assert labels[OWN_LABEL_PREFIX + "urn"].endswith(f"::{resource}"), labels
    assert OWN_LABEL_PREFIX not in stack.pulumi("stack", "export", "--show-secrets").stdout


def test_objects_the_state_forgot_are_adopted_once_each(stack):
    before = objects_of(stack.prefix)
    assert all(len(ids) == 1 for ids in before.values()), before
    stack.pulumi("state", "delete", "--all", "--force", "--yes")
    stack.pulumi("up", "--yes", "--skip-preview")
    assert objects_of(stack.prefix) == before
    stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_a_same_named_service_we_did_not_create_fails_up_naming_it(stack, conformance_image):
    squatter = f"{stack.prefix}-squatter"
    squatter_id = docker("service", "create", "--quiet", "--detach", "--name", squatter, conformance_image).strip()
    stack.set_config("squat", "true")
    try:
        result = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    finally:
        stack.pulumi("config", "rm", "squat")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f'service "{squatter}" ({squatter_id}) already exists and was not created by' in output, output
    assert f"docker service rm {squatter}" in output, output
    assert f"pulumi import docker:index/service:Service squatter {squatter_id}" in output, output
    assert ids_named("service", squatter) == [squatter_id]


def test_an_up_after_refresh_clear_pending_creates_adopts_the_service(stack):
    app = f"{stack.prefix}-app"
    urn = next(r["urn"] for r in json.loads(stack.pulumi("stack", "export").stdout)["deployment"]["resources"]
               if r["urn"].endswith("::app"))
    stack.pulumi("state", "delete", urn, "--force", "--yes")
    docker("service", "rm", app)
    while ids_named("service", app):
        time.sleep(0.5)
    up_killed_while_creating(stack, app)
    left_behind = ids_named("service", app)
    stack.pulumi("cancel", "--yes")
    stack.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
    assert not json.loads(stack.pulumi("stack", "export").stdout)["deployment"].get("pending_operations")

    up = stack.pulumi("up", "--yes", "--skip-preview")
    assert f'adopting service "{app}" ({left_behind[0]})' in up.stdout, up.stdout
    assert ids_named("service", app) == left_behind
    stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")
