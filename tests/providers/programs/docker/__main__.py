"""Conformance stack for pulumi-resource-docker: every Network, Secret, ServiceConfig and
Service property the galera-swarm components set, on a real swarm engine reached over SSH
(as the program reaches its leader). Driven by tests/providers/test_docker_plugin.py, which
changes the config between runs: replicas and env (in place), the secret (replacement),
`badInput` (properties this plugin refuses)."""

import base64
import json

import pulumi
import pulumi_docker as docker

config = pulumi.Config()
prefix = config.require("prefix")
image = config.require("image")
replicas = config.require_int("replicas")
env_value = config.require("envValue")
secret_value = config.require_secret("secretValue")
web_port = config.require_int("webPort")
bad_input = config.get_bool("badInput") or False

provider = docker.Provider(
    "engine",
    host=config.require("dockerHost"),
    ssh_opts=json.loads(config.require("sshOpts")),
)
on_engine = pulumi.ResourceOptions(provider=provider)
labels = [docker.NetworkLabelArgs(label="galera-swarm.conformance", value=prefix)]

network = docker.Network(
    "net",
    name=f"{prefix}-net",
    driver="overlay",
    attachable=True,
    ipam_configs=[docker.NetworkIpamConfigArgs(subnet="10.213.77.0/24")],
    labels=labels,
    opts=on_engine,
)

# Autonamed (no `name`): a changed value makes a new secret before the old one goes.
secret = docker.Secret(
    "secret",
    data=secret_value.apply(lambda v: base64.b64encode(v.encode()).decode()),
    labels=[docker.SecretLabelArgs(label="galera-swarm.conformance", value=prefix)],
    opts=on_engine,
)

service_config = docker.ServiceConfig(
    "config",
    data_raw=f"listen {web_port}\n",
    labels=[docker.ServiceConfigLabelArgs(label="galera-swarm.conformance", value=prefix)],
    opts=on_engine,
)

# The same payload as base64 `data`, which the plugin keeps secret in the state.
encoded_config = docker.ServiceConfig(
    "encoded-config",
    data=base64.b64encode(f"listen {web_port}\n".encode()).decode(),
    labels=[docker.ServiceConfigLabelArgs(label="galera-swarm.conformance", value=prefix)],
    opts=on_engine,
)

update = docker.ServiceUpdateConfigArgs(parallelism=1, delay="1s", failure_action="rollback",
                                        monitor="5s", order="stop-first", max_failure_ratio="0")
rollback = docker.ServiceRollbackConfigArgs(parallelism=1, delay="1s", failure_action="pause",
                                            monitor="5s", order="stop-first", max_failure_ratio="0")
converge = docker.ServiceConvergeConfigArgs(delay="1s", timeout="2m")

container = docker.ServiceTaskSpecContainerSpecArgs(
    image=image,
    hostname="{{.Service.Name}}-{{.Task.Slot}}",
    env={"CONFORMANCE_VALUE": env_value, "CONFORMANCE_PREFIX": prefix},
    secrets=[docker.ServiceTaskSpecContainerSpecSecretArgs(
        secret_id=secret.id, secret_name=secret.name, file_name="/run/secrets/conformance-secret")],
    configs=[docker.ServiceTaskSpecContainerSpecConfigArgs(
        config_id=service_config.id, config_name=service_config.name, file_name="/etc/conformance.conf")],
    mounts=[docker.ServiceTaskSpecContainerSpecMountArgs(
        type="volume", source=f"{prefix}-data-{{{{.Task.Slot}}}}", target="/data")],
    healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
        tests=["CMD", "test", "-s", "/run/secrets/conformance-secret"],
        interval="1s", timeout="3s", retries=3, start_period="30s"),
    stop_grace_period="5s",
    # Refused by this plugin: proves Check names what it does not implement.
    privileges=docker.ServiceTaskSpecContainerSpecPrivilegesArgs(
        se_linux_context=docker.ServiceTaskSpecContainerSpecPrivilegesSeLinuxContextArgs(disable=True),
    ) if bad_input else None,
)

app = docker.Service(
    "app",
    name=f"{prefix}-app",
    labels=[docker.ServiceLabelArgs(label="galera-swarm.conformance", value=prefix)],
    task_spec=docker.ServiceTaskSpecArgs(
        container_spec=container,
        networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=network.id, aliases=["app"])],
        placement=docker.ServiceTaskSpecPlacementArgs(constraints=["node.role == manager"], max_replicas=3),
        resources=docker.ServiceTaskSpecResourcesArgs(
            limits=docker.ServiceTaskSpecResourcesLimitsArgs(nano_cpus=500_000_000, memory_bytes=64 * 2**20),
            reservation=docker.ServiceTaskSpecResourcesReservationArgs(nano_cpus=10_000_000,
                                                                       memory_bytes=8 * 2**20)),
        restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="5s", window="60s"),
    ),
    mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=replicas)),
    endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
    update_config=update,
    rollback_config=rollback,
    converge_config=converge,
    opts=on_engine,
)

# Published in host mode (no IPVS here), so it runs once per node: one replica.
web = docker.Service(
    "web",
    name=f"{prefix}-web",
    task_spec=docker.ServiceTaskSpecArgs(
        container_spec=docker.ServiceTaskSpecContainerSpecArgs(image=image),
        networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=network.id)],
        restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="5s", window="60s"),
    ),
    mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
    endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr", ports=[docker.ServiceEndpointSpecPortArgs(
        target_port=8080, published_port=web_port, publish_mode="host", protocol="tcp")]),
    converge_config=converge,
    opts=on_engine,
)

pulumi.export("networkId", network.id)
pulumi.export("networkName", network.name)
pulumi.export("networkScope", network.scope)
pulumi.export("secretId", secret.id)
pulumi.export("secretName", secret.name)
pulumi.export("configId", service_config.id)
pulumi.export("configName", service_config.name)
pulumi.export("appId", app.id)
pulumi.export("appName", app.name)
pulumi.export("webId", web.id)
pulumi.export("secretValue", secret_value)
