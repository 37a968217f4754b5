"""GaleraLoadBalancer: HAProxy in front of the Galera tasks, routing only to Synced nodes.

Backends are discovered through swarm DNS (`tasks.<galera service>`), so it works with
endpoint mode dnsrr, where there is no virtual IP to spread connections. Each backend is
checked over HTTP on the Galera image's health port: 200 only when the node is Synced. Two
ports: the WRITER (Galera's MySQL port, 3306) sends every connection to one Synced node, the
same from every replica, so writes never conflict at certification; the READER (READ_PORT,
3307) spreads connections over all Synced nodes. The config is rendered by
components/haproxy_config.py and shipped as a swarm config; the writer script it loads ships
in the haproxy image (same owner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import remote, service_spec
from components.galera_service import HEALTH_PORT, MYSQL_PORT
from components.haproxy_config import CONFIG_PATH, READ_PORT, STATS_PORT, render_haproxy_config

# Server slots beyond the Galera replicas: the cluster can grow by this many nodes before the
# load balancer needs a new config (and a rolling restart) to reach them.
SPARE_SERVER_SLOTS = 2


@dataclass
class GaleraLoadBalancerArgs:
    """Plain where the value shapes the resources (names, ports published or not, modes)."""
    network_id: pulumi.Input[str]
    galera_service_name: pulumi.Input[str]
    # How many Galera nodes there are, and how many hosts could run one (at most one each).
    galera_replicas: pulumi.Input[int]
    host_count: pulumi.Input[int]
    image: pulumi.Input[str]
    service_name: str
    replicas: pulumi.Input[int]
    # Published ports (with `publish`) of the writer and of the reader.
    port: int
    read_port: int
    publish: bool
    modes: service_spec.ServiceModes
    # To ask swarm where host-mode ports answer, and the address of the ingress mesh.
    leader_connection: pulumi.Input[command.remote.ConnectionArgs]
    manager_address: pulumi.Input[str]


def server_slots(galera_replicas: int, host_count: int) -> int:
    """How many servers HAProxy keeps for the Galera tasks it finds by DNS (`server-template
    galera 1-N`): the replicas plus SPARE_SERVER_SLOTS, and at least one per host, since Galera
    runs at most one task per host and may be scaled onto every one of them. A task beyond the
    slots would get no connection. Raises ValueError when either count is below 1."""
    if galera_replicas < 1 or host_count < 1:
        raise ValueError(f"server_slots needs at least one Galera replica and one host, got "
                         f"galera_replicas={galera_replicas!r}, host_count={host_count!r}")
    return max(galera_replicas + SPARE_SERVER_SLOTS, host_count)


def lb_haproxy_config(galera_service_name: str, galera_replicas: int, host_count: int) -> str:
    """The haproxy.cfg of the load balancer for Galera service `galera_service_name`: the writer
    listens on Galera's MySQL port, the reader on READ_PORT; it checks each node's health port."""
    return render_haproxy_config(
        listen_port=MYSQL_PORT, read_port=READ_PORT, galera_dns=service_spec.tasks_dns(galera_service_name),
        galera_port=MYSQL_PORT, health_port=HEALTH_PORT,
        max_nodes=server_slots(galera_replicas, host_count), stats_port=STATS_PORT)


class GaleraLoadBalancer(pulumi.ComponentResource):
    """The docker provider comes through `opts` (providers=[...] or provider=)."""

    service_id: pulumi.Output[str]
    service_name: pulumi.Output[str]
    # Inside the swarm: the writer `<service>:3306` and the reader `<service>:3307`.
    endpoint: pulumi.Output[str]
    read_endpoint: pulumi.Output[str]
    # Outside (with `publish`): `address:port` of the writer and of the reader on each host that
    # answers (host mode: those running a task; ingress: the manager); [] when not published.
    addresses: pulumi.Output[list]
    read_addresses: pulumi.Output[list]
    config_name: pulumi.Output[str]

    def __init__(self, name: str, args: GaleraLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("galera-swarm:index:GaleraLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Swarm configs are immutable: a changed config is a new one, rolled into the service.
        config = docker.ServiceConfig(
            f"{name}-haproxy-cfg",
            data_raw=pulumi.Output.all(args.galera_service_name, args.galera_replicas, args.host_count).apply(
                lambda v: lb_haproxy_config(*v)),
            opts=child,
        )
        ports = [(args.port, MYSQL_PORT), (args.read_port, READ_PORT)] if args.publish else []
        service = service_spec.replicated_service(
            f"{name}-{args.service_name}",
            service_name=args.service_name,
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=args.image,
                configs=[docker.ServiceTaskSpecContainerSpecConfigArgs(
                    config_id=config.id, config_name=config.name, file_name=CONFIG_PATH)],
            ),
            network_id=args.network_id,
            replicas=args.replicas,
            modes=args.modes,
            ports=ports,
            # Host-mode ports can be bound once per node.
            placement=docker.ServiceTaskSpecPlacementArgs(
                max_replicas=1 if ports and args.modes.host_ports else None),
            opts=child,
        )
        if not ports:
            hosts: pulumi.Output[list] = pulumi.Output.from_input([])
        else:
            hosts = remote.published_addresses(f"{name}-nodes", service, args.modes.host_ports,
                                               args.leader_connection, args.manager_address, self)
        self.service_id = service.id
        self.service_name = service.name
        self.endpoint = service.name.apply(lambda n: f"{n}:{MYSQL_PORT}")
        self.read_endpoint = service.name.apply(lambda n: f"{n}:{READ_PORT}")
        self.addresses = hosts.apply(lambda addrs: [remote.host_port(a, args.port) for a in addrs])
        self.read_addresses = hosts.apply(lambda addrs: [remote.host_port(a, args.read_port) for a in addrs])
        self.config_name = config.name
        self.register_outputs({"service_id": self.service_id, "service_name": self.service_name,
                               "endpoint": self.endpoint, "read_endpoint": self.read_endpoint,
                               "addresses": self.addresses, "read_addresses": self.read_addresses,
                               "config_name": self.config_name})
