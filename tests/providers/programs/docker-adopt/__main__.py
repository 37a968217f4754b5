"""Conformance stack of interrupted creates for pulumi-resource-docker: a network, a secret, a
config and a service whose converge wait lasts `readyAfter` seconds (its healthcheck passes
only then), so a test can kill `pulumi up` while the service is being created. With
`squat=true` it also wants a service named `<prefix>-squatter`, which the test creates out
of band without our labels. Driven by tests/providers/test_docker_adoption.py."""

import base64
import json

import pulumi
import pulumi_docker as docker

config = pulumi.Config()
prefix = config.require("prefix")
image = config.require("image")
ready_after = config.require_int("readyAfter")
squat = config.get_bool("squat") or False

provider = docker.Provider(
    "engine",
    host=config.require("dockerHost"),
    ssh_opts=json.loads(config.require("sshOpts")),
)
on_engine = pulumi.ResourceOptions(provider=provider)

network = docker.Network("net", name=f"{prefix}-net", driver="overlay", attachable=True, opts=on_engine)
secret = docker.Secret("secret", name=f"{prefix}-secret",
                       data=base64.b64encode(f"secret of {prefix}".encode()).decode(), opts=on_engine)
service_config = docker.ServiceConfig("config", name=f"{prefix}-config", data_raw=f"config of {prefix}\n",
                                      opts=on_engine)

app = docker.Service(
    "app",
    name=f"{prefix}-app",
    task_spec=docker.ServiceTaskSpecArgs(
        container_spec=docker.ServiceTaskSpecContainerSpecArgs(
            image=image,
            commands=["sh", "-c", f"sleep {ready_after}; touch /tmp/ready; exec sleep infinity"],
            secrets=[docker.ServiceTaskSpecContainerSpecSecretArgs(
                secret_id=secret.id, secret_name=secret.name, file_name="/run/secrets/adopt")],
            configs=[docker.ServiceTaskSpecContainerSpecConfigArgs(
                config_id=service_config.id, config_name=service_config.name, file_name="/etc/adopt.conf")],
            healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
                tests=["CMD", "test", "-f", "/tmp/ready"], interval="1s", timeout="3s", retries=3,
                start_period="5m"),
            stop_grace_period="1s",
        ),
        networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=network.id)],
    ),
    mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
    converge_config=docker.ServiceConvergeConfigArgs(delay="1s", timeout="3m"),
    opts=on_engine,
)

if squat:
    docker.Service(
        "squatter",
        name=f"{prefix}-squatter",
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(image=image)),
        opts=on_engine,
    )

pulumi.export("appId", app.id)
pulumi.export("networkId", network.id)
pulumi.export("secretId", secret.id)
pulumi.export("configId", service_config.id)
