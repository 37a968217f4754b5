"""GaleraLoadBalancer: HAProxy in front of the Galera tasks, routing only to Synced nodes.

Backends are discovered through swarm DNS (`tasks.<galera service>`), so it works with
endpoint mode dnsrr, where there is no virtual IP to spread connections. Each backend is
checked over HTTP on the Galera image's health port: 200 only when the node is Synced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Optional

import pulumi
import pulumi_docker as docker

from components import service_spec

TEMPLATE = Path(__file__).resolve().parent.parent / "images" / "haproxy" / "haproxy.cfg.template"
CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
STATS_PORT = 8404


@dataclass
class GaleraLoadBalancerArgs:
    provider: docker.Provider
    network_id: pulumi.Input[str]
    galera_service_name: pulumi.Input[str]
    image: str
    # Server slots HAProxy keeps for DNS-discovered tasks: room for scaling Galera up.
    max_nodes: int
    service_name: str = "galera-lb"
    replicas: int = 2
    port: int = 3306
    publish: bool = False
    endpoint_mode: str = "vip"
    publish_mode: str = "ingress"
    galera_port: int = 3306
    health_port: int = 9200


def render_config(galera_service_name: str, args: GaleraLoadBalancerArgs) -> str:
    return Template(TEMPLATE.read_text()).substitute(
        listen_port=args.galera_port,
        galera_dns=f"tasks.{galera_service_name}",
        galera_port=args.galera_port,
        health_port=args.health_port,
        max_nodes=args.max_nodes,
        stats_port=STATS_PORT,
    )


class GaleraLoadBalancer(pulumi.ComponentResource):
    service_id: pulumi.Output[str]
    service_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    config_name: pulumi.Output[str]

    def __init__(self, name: str, args: GaleraLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("galera-swarm:index:GaleraLoadBalancer", name, None, opts)
        on_swarm = pulumi.ResourceOptions(parent=self, provider=args.provider)
        # Swarm configs are immutable: a changed config is a new one, rolled into the service.
        config = docker.ServiceConfig(
            f"{name}-haproxy-cfg",
            data_raw=pulumi.Output.from_input(args.galera_service_name).apply(
                lambda svc: render_config(svc, args)),
            opts=on_swarm,
        )
        ports = [(args.port, args.galera_port)] if args.publish else []
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
            endpoint_mode=args.endpoint_mode,
            publish_mode=args.publish_mode,
            ports=ports,
            # Host-mode ports can be bound once per node.
            placement=docker.ServiceTaskSpecPlacementArgs(
                max_replicas=1 if ports and args.publish_mode == "host" else None),
            opts=on_swarm,
        )
        self.service_id = service.id
        self.service_name = service.name
        self.endpoint = service.name.apply(lambda n: f"{n}:{args.galera_port}")
        self.config_name = config.name
        self.register_outputs({"service_id": self.service_id, "service_name": self.service_name,
                               "endpoint": self.endpoint, "config_name": self.config_name})
