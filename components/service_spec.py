"""Pieces of a swarm service spec that every service of the stack shares."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

# How long `pulumi up` waits for a service's tasks to run, and how often it looks.
CONVERGE_DELAY = "2s"
CONVERGE_TIMEOUT = "10m"
# Where swarm mounts a task's secrets.
SECRETS_DIR = "/run/secrets"


@dataclass(frozen=True)
class ServiceModes:
    """How every service of the stack is reached (swarm's words): `endpoint_mode` vip or dnsrr,
    `publish_mode` (of published ports) ingress or host. Plain: they shape the resources."""
    endpoint_mode: str
    publish_mode: str

    @property
    def has_vip(self) -> bool:
        return self.endpoint_mode == "vip"

    @property
    def host_ports(self) -> bool:
        """Published ports are bound on the node that runs the task, once per node."""
        return self.publish_mode == "host"


def endpoint_spec(modes: ServiceModes,
                  ports: Sequence[tuple[int, int]] = ()) -> docker.ServiceEndpointSpecArgs:
    """Endpoint spec; `ports` are (published, target) pairs.

    dnsrr has no virtual IP, so swarm refuses ingress publishing with it; config validation
    has already made sure the two modes fit together.
    """
    return docker.ServiceEndpointSpecArgs(
        mode=modes.endpoint_mode,
        ports=[docker.ServiceEndpointSpecPortArgs(target_port=target, published_port=published,
                                                  publish_mode=modes.publish_mode, protocol="tcp")
               for published, target in ports] or None,
    )


def tasks_dns(service_name: str) -> str:
    """The name swarm's DNS resolves to the address of every task of `service_name` (one A
    record each, whatever the endpoint mode): how peers and the load balancer find the nodes."""
    return f"tasks.{service_name}"


def attach(network_id: pulumi.Input[str],
           aliases: Optional[Sequence[str]] = None) -> list[docker.ServiceTaskSpecNetworksAdvancedArgs]:
    # By id: attaching by name makes the provider see a change on every run.
    return [docker.ServiceTaskSpecNetworksAdvancedArgs(id=network_id, aliases=list(aliases) if aliases else None)]


def restart_on_failure() -> docker.ServiceTaskSpecRestartPolicyArgs:
    return docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="5s", window="60s")


def one_at_a_time(monitor: str = "30s") -> tuple[docker.ServiceUpdateConfigArgs, docker.ServiceRollbackConfigArgs]:
    """Update config (and the matching rollback config): one task at a time, stop the old task
    first (a node holds one task and its volume), roll back when a new task fails its checks."""
    update = docker.ServiceUpdateConfigArgs(parallelism=1, delay="5s", failure_action="rollback",
                                            monitor=monitor, order="stop-first", max_failure_ratio="0")
    rollback = docker.ServiceRollbackConfigArgs(parallelism=1, delay="5s", failure_action="pause",
                                                monitor=monitor, order="stop-first", max_failure_ratio="0")
    return update, rollback


def secret_data(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """docker.Secret wants base64; the result stays a secret Output."""
    return pulumi.Output.secret(value).apply(lambda v: base64.b64encode(v.encode()).decode())


def password_secret(component_name: str, file_name: str, value: pulumi.Input[str],
                    opts: pulumi.ResourceOptions) -> docker.Secret:
    """The swarm secret `<component_name>-<file_name>` holding `value` (a secret Input), to be
    mounted as `file_name` (mount_secret). No fixed name: a changed value makes a new secret
    (swarm secrets are immutable), which Pulumi creates before it retires the old one."""
    return docker.Secret(f"{component_name}-{file_name}", data=secret_data(value), opts=opts)


def secret_path(file_name: str) -> str:
    """Where a task reads the secret mounted as `file_name`."""
    return f"{SECRETS_DIR}/{file_name}"


def mount_secret(secret_id: pulumi.Input[str], secret_name: pulumi.Input[str],
                 file_name: str, file_mode: Optional[int] = None) -> docker.ServiceTaskSpecContainerSpecSecretArgs:
    """The swarm secret (`secret_id`, `secret_name`) mounted at secret_path(file_name), owned
    by root, with `file_mode` (None: swarm's 0o444)."""
    return docker.ServiceTaskSpecContainerSpecSecretArgs(
        secret_id=secret_id, secret_name=secret_name, file_name=secret_path(file_name), file_mode=file_mode)


def replicated_service(resource_name: str, *, service_name: str,
                       container_spec: docker.ServiceTaskSpecContainerSpecArgs,
                       network_id: pulumi.Input[str], replicas: pulumi.Input[int],
                       modes: ServiceModes, opts: pulumi.ResourceOptions,
                       ports: Sequence[tuple[int, int]] = (),
                       placement: Optional[docker.ServiceTaskSpecPlacementArgs] = None,
                       resources: Optional[docker.ServiceTaskSpecResourcesArgs] = None,
                       aliases: Optional[Sequence[str]] = None,
                       labels: Optional[dict[str, str]] = None,
                       monitor: str = "30s", converge_timeout: str = CONVERGE_TIMEOUT) -> docker.Service:
    """A replicated service on the overlay that restarts failed tasks, updates one task at a
    time with rollback, and makes `pulumi up` wait until its tasks run (or its update has
    rolled), up to `converge_timeout` (a Go duration). `labels` are the service's own (not its
    tasks'): changing one restarts no task."""
    update, rollback = one_at_a_time(monitor)
    return docker.Service(
        resource_name,
        name=service_name,
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=container_spec,
            networks_advanceds=attach(network_id, aliases),
            placement=placement,
            resources=resources,
            restart_policy=restart_on_failure(),
        ),
        labels=[docker.ServiceLabelArgs(label=k, value=v) for k, v in sorted(labels.items())] if labels else None,
        mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=replicas)),
        endpoint_spec=endpoint_spec(modes, ports),
        update_config=update,
        rollback_config=rollback,
        converge_config=docker.ServiceConvergeConfigArgs(delay=CONVERGE_DELAY, timeout=converge_timeout),
        opts=opts,
    )
