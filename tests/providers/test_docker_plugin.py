"""Conformance of our pulumi-resource-docker, through the real CLI and the unchanged
pulumi-docker SDK, on this machine's engine in single-node swarm mode reached over SSH.

One stack goes through the lifecycle in file order: up, a no-change up, refresh and preview
without drift, an in-place change (replicas, env), a replacing change (secret data) with the
service running afterwards, secrets only as ciphertext in the state, a refused property
named in the error, and destroy leaving nothing on the engine.
"""

from __future__ import annotations

import json
import secrets
import time

import pytest

from tests.providers.conftest import MEASUREMENTS, assert_refused_by_name, docker, free_port, user_labels
from tests.toolchain.pulumi_stack import REPO_ROOT, Stack

PROGRAM = REPO_ROOT / "tests" / "providers" / "programs" / "docker"
LABEL = "galera-swarm.conformance"


def inspect(kind: str, name: str) -> dict:
    """`docker inspect` of one object of a kind (service, secret, config, network, container, task)."""
    return json.loads(docker("inspect", "--type", kind, name))[0]


def objects_labelled(prefix: str) -> dict[str, list[str]]:
    """Services, secrets, configs, networks and containers of this run left on the engine."""
    found = {}
    for kind in ("service", "secret", "config", "network"):
        found[kind] = docker(kind, "ls", "-q", "--filter", f"label={LABEL}={prefix}").split()
    found["service"] += docker("service", "ls", "-q", "--filter", f"name={prefix}-").split()
    found["container"] = docker("ps", "-aq", "--filter", f"name={prefix}-").split()
    return found


def running_tasks(service: str) -> list[dict]:
    ids = docker("service", "ps", "-q", "--filter", "desired-state=running", service).split()
    tasks = [inspect("task", task_id) for task_id in ids]
    return [t for t in tasks if t["Status"]["State"] == "running"]


def container_env(task: dict) -> dict[str, str]:
    container = inspect("container", task["Status"]["ContainerStatus"]["ContainerID"])
    return dict(item.split("=", 1) for item in container["Config"]["Env"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory, plugins_ready, sshd, swarm_engine, conformance_image):
    prefix = f"gsconf-{secrets.token_hex(3)}"
    stack = Stack(PROGRAM, tmp_path_factory.mktemp("docker-conformance"), f"docker-{prefix}")
    stack.prefix = prefix
    stack.secret_value = f"first-{secrets.token_hex(12)}"
    try:
        stack.init(
            prefix=prefix, image=conformance_image, replicas="1", envValue="one",
            webPort=str(free_port()), secret_secretValue=stack.secret_value,
            dockerHost=f"ssh://{sshd.user}@{sshd.host}:{sshd.port}",
            sshOpts=json.dumps(sshd.ssh_opts),
        )
        started = time.monotonic()
        stack.first_up = stack.pulumi("up", "--yes", "--skip-preview")
        stack.first_up_seconds = time.monotonic() - started
        stack.outputs = lambda: json.loads(stack.pulumi("stack", "output", "--json", "--show-secrets").stdout)
        yield stack
    finally:
        stack.remove()
        for volume in docker("volume", "ls", "-q", "--filter", f"name={prefix}-").split():
            docker("volume", "rm", "-f", volume, check=False)


def test_up_creates_the_network_secret_config_and_services(stack):
    out = stack.outputs()
    network = inspect("network", out["networkName"])
    assert (network["Driver"], network["Attachable"], network["Scope"]) == ("overlay", True, "swarm")
    assert network["IPAM"]["Config"][0]["Subnet"] == "10.213.77.0/24"
    assert out["networkScope"] == "swarm"
    assert out["secretName"].startswith("secret-") and inspect("secret", out["secretId"])["Spec"]["Name"] == out["secretName"]
    assert user_labels(inspect("config", out["configId"])["Spec"]["Labels"]) == {LABEL: stack.prefix}

    spec = inspect("service", out["appName"])["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Hostname"] == "{{.Service.Name}}-{{.Task.Slot}}"
    assert sorted(container["Env"]) == ["CONFORMANCE_PREFIX=" + stack.prefix, "CONFORMANCE_VALUE=one"]
    assert container["Secrets"][0]["File"]["Name"] == "/run/secrets/conformance-secret"
    assert container["Secrets"][0]["SecretID"] == out["secretId"]
    assert container["Configs"][0]["ConfigID"] == out["configId"]
    assert container["Mounts"][0] == {"Type": "volume", "Source": f"{stack.prefix}-data-{{{{.Task.Slot}}}}",
                                      "Target": "/data"}
    assert container["Healthcheck"] == {"Test": ["CMD", "test", "-s", "/run/secrets/conformance-secret"],
                                        "Interval": 10**9, "Timeout": 3 * 10**9,
                                        "StartPeriod": 30 * 10**9, "Retries": 3}
    assert container["StopGracePeriod"] == 5 * 10**9
    task = spec["TaskTemplate"]
    assert task["Networks"] == [{"Target": out["networkId"], "Aliases": ["app"]}]
    assert task["Placement"]["Constraints"] == ["node.role == manager"]
    assert task["Placement"]["MaxReplicas"] == 3
    assert task["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 2**20}
    assert task["RestartPolicy"]["Condition"] == "any"
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    assert spec["RollbackConfig"]["Order"] == "stop-first"

    web = inspect("service", f"{stack.prefix}-web")["Spec"]["EndpointSpec"]["Ports"][0]
    assert (web["PublishMode"], web["TargetPort"]) == ("host", 8080)


def test_up_waits_until_the_tasks_run_healthy(stack):
    # convergeConfig: `up` returns only once the desired task runs; with a healthcheck,
    # swarm reports `running` only after the container is healthy.
    tasks = running_tasks(stack.outputs()["appName"])
    assert len(tasks) == 1
    health = inspect("container", tasks[0]["Status"]["ContainerStatus"]["ContainerID"])["State"]["Health"]
    assert health["Status"] == "healthy"
    MEASUREMENTS.append(f"docker conformance stack: first up (a network, a secret, 2 configs and "
                        f"2 services, converged and healthy) took {stack.first_up_seconds:.1f} s")


def test_second_up_reports_no_changes(stack):
    stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_refresh_and_preview_report_no_drift(stack):
    stack.pulumi("refresh", "--yes", "--skip-preview", "--expect-no-changes")
    stack.pulumi("preview", "--expect-no-changes")


def test_replicas_and_env_change_in_place(stack):
    before = stack.outputs()
    stack.set_config("replicas", "2")
    stack.set_config("envValue", "two")
    preview = stack.pulumi("preview", "--diff").stdout
    assert "~ docker:index/service:Service" in preview and "replace" not in preview.split("Resources:")[-1]
    stack.pulumi("up", "--yes", "--skip-preview")
    after = stack.outputs()
    assert after["appId"] == before["appId"]
    tasks = running_tasks(after["appName"])
    assert len(tasks) == 2
    assert {container_env(t)["CONFORMANCE_VALUE"] for t in tasks} == {"two"}


def test_secret_change_replaces_the_secret_and_the_service_runs_it(stack):
    before = stack.outputs()
    stack.secret_value = f"second-{secrets.token_hex(12)}"
    stack.set_config("secretValue", stack.secret_value, secret=True)
    stack.pulumi("up", "--yes", "--skip-preview")
    after = stack.outputs()
    assert after["secretId"] != before["secretId"] and after["appId"] == before["appId"]
    assert docker("secret", "ls", "-q", "--filter", f"id={before['secretId']}").strip() == ""
    spec = inspect("service", after["appName"])["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec["Secrets"][0]["SecretID"] == after["secretId"]
    tasks = running_tasks(after["appName"])
    assert len(tasks) == 2
    assert all(inspect("container", t["Status"]["ContainerStatus"]["ContainerID"])["State"]["Health"]["Status"]
               == "healthy" for t in tasks)
    stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_stack_export_shows_secrets_only_as_ciphertext(stack):
    exported = stack.pulumi("stack", "export").stdout
    assert stack.secret_value not in exported
    state = json.loads(exported)
    secret_resource = next(r for r in state["deployment"]["resources"]
                           if r["type"] == "docker:index/secret:Secret")
    for section in ("inputs", "outputs"):
        assert "ciphertext" in secret_resource[section]["data"], secret_resource[section]["data"]
    encoded_config = next(r for r in state["deployment"]["resources"]
                          if r["type"] == "docker:index/serviceConfig:ServiceConfig" and "data" in r["outputs"])
    assert "ciphertext" in encoded_config["outputs"]["data"], encoded_config["outputs"]


def test_unsupported_property_is_refused_by_name(stack):
    assert_refused_by_name(stack, "badInput", "taskSpec.containerSpec.privileges")


def test_destroy_leaves_nothing_on_the_engine(stack):
    stack.pulumi("destroy", "--yes", "--skip-preview")
    assert objects_labelled(stack.prefix) == {"service": [], "secret": [], "config": [],
                                              "network": [], "container": []}
