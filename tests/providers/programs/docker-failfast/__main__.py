"""Conformance stack of the converge wait's fail-fast rule: one service that cannot run, with
a converge timeout far longer than the test allows. `failure=crash`: its container prints
`message` and exits 1 at once; `failure=missing`: its image tag does not exist. Driven by
tests/providers/test_docker_failfast.py."""

import json

import pulumi
import pulumi_docker as docker

config = pulumi.Config()
prefix = config.require("prefix")
image = config.require("image")
failure = config.require("failure")
message = config.require("message")

provider = docker.Provider(
    "engine",
    host=config.require("dockerHost"),
    ssh_opts=json.loads(config.require("sshOpts")),
)

if failure == "crash":
    # With a healthcheck swarm holds the task in `starting` until its first healthy result, so
    # a container that exits at once is never seen `running` (without one, a poll could land
    # in the moment it ran and count the service as converged, as CI saw once).
    container = docker.ServiceTaskSpecContainerSpecArgs(
        image=image, commands=["sh", "-c", f"echo '{message}' >&2; exit 1"],
        healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
            tests=["CMD", "true"], interval="2s", timeout="1s", retries=1, start_period="0s"))
elif failure == "missing":
    container = docker.ServiceTaskSpecContainerSpecArgs(image=f"{image.split(':')[0]}:no-such-tag")
else:
    raise ValueError(f"failure={failure!r}: expected crash or missing")

docker.Service(
    "failing",
    name=f"{prefix}-{failure}",
    task_spec=docker.ServiceTaskSpecArgs(
        container_spec=container,
        restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="5s", window="60s"),
    ),
    mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
    converge_config=docker.ServiceConvergeConfigArgs(delay="1s", timeout="30m"),
    opts=pulumi.ResourceOptions(provider=provider),
)
