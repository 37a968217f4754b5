"""OverlayNetwork: the attachable, swarm-scoped overlay every service joins (`mynet`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker


@dataclass
class OverlayNetworkArgs:
    # Plain: part of the resource's name.
    network_name: str
    # CIDR; None: swarm picks one.
    subnet: Optional[pulumi.Input[str]]


class OverlayNetwork(pulumi.ComponentResource):
    """The docker provider comes through `opts` (providers=[...] or provider=)."""

    network_id: pulumi.Output[str]
    network_name: pulumi.Output[str]

    def __init__(self, name: str, args: OverlayNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("galera-swarm:index:OverlayNetwork", name, None, opts)
        network = docker.Network(
            f"{name}-{args.network_name}",
            name=args.network_name,
            driver="overlay",
            # Attachable so an operator can `docker run --network mynet` a mysql client to debug.
            # Not `encrypted`: overlay encryption is IPsec, which silently drops traffic between
            # hosts on kernels without XFRM; encryption has to come from the application (TLS).
            attachable=True,
            ipam_configs=[docker.NetworkIpamConfigArgs(subnet=args.subnet)] if args.subnet else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.network_id = network.id
        self.network_name = network.name
        self.register_outputs({"network_id": self.network_id, "network_name": self.network_name})
