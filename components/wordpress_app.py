"""WordPressApp: the application on top of the cluster (`wordpress`, port 80; by default one
task per active host, galera_swarm.placement.one_per_active_host).

It connects as the application user, never root, to the load balancer's writer port (MySQL's
3306, so every replica writes to the same Galera node), or straight to the Galera service when
there is none, with the password from the swarm secret Galera created, which
PasswordRotation hands on once the cluster accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import remote, service_spec

HTTP_PORT = 80
PASSWORD_FILE = "wordpress-db-password"


@dataclass
class WordPressAppArgs:
    """Plain where the value shapes the resources (name, published port, modes)."""
    network_id: pulumi.Input[str]
    db_host: pulumi.Input[str]
    db_name: pulumi.Input[str]
    db_user: pulumi.Input[str]
    db_password_secret_id: pulumi.Input[str]
    db_password_secret_name: pulumi.Input[str]
    image: pulumi.Input[str]
    leader_connection: pulumi.Input[command.remote.ConnectionArgs]
    manager_address: pulumi.Input[str]
    service_name: str
    replicas: pulumi.Input[int]
    port: int
    modes: service_spec.ServiceModes
    # Connect to the database over TLS (the Galera nodes run it: ClusterCertificates).
    db_tls: bool = False


def wordpress_env(*, db_host: str, db_name: str, db_user: str, host_mode: bool, db_tls: bool = False) -> dict[str, str]:
    """The task environment of a WordPress replica (images/wordpress's variables); the database
    password is the secret file PASSWORD_FILE. `host_mode`: its port is published on the
    node that runs it (publish mode host). `db_tls`: its database sessions are encrypted."""
    env = {
        "WORDPRESS_DB_HOST": db_host,
        "WORDPRESS_DB_NAME": db_name,
        "WORDPRESS_DB_USER": db_user,
        "WORDPRESS_DB_PASSWORD_FILE": service_spec.secret_path(PASSWORD_FILE),
    }
    if db_tls:
        env["WORDPRESS_DB_SSL"] = "true"
    if host_mode:
        # No single address fronts host-mode ports: each node's replica answers under the
        # address a visitor used, instead of redirecting to the one the site was installed on.
        env["WORDPRESS_SITE_URL"] = "from-request"
    return env


def site_url(address: str, port: int) -> str:
    """The URL a browser uses for WordPress on `address`: without `:80`, which browsers drop.
    WordPress keeps the address of its install as the site's canonical URL and redirects to
    it, so an install made through `http://host:80/` sends browsers round in a loop."""
    return f"http://{address}/" if port == HTTP_PORT else f"http://{address}:{port}/"


class WordPressApp(pulumi.ComponentResource):
    """The docker provider comes through `opts` (providers=[...] or provider=)."""

    service_id: pulumi.Output[str]
    service_name: pulumi.Output[str]
    urls: pulumi.Output[list]

    def __init__(self, name: str, args: WordPressAppArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("galera-swarm:index:WordPressApp", name, None, opts)
        host_mode = args.modes.host_ports
        service = service_spec.replicated_service(
            f"{name}-{args.service_name}",
            service_name=args.service_name,
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=args.image,
                env=pulumi.Output.all(args.db_host, args.db_name, args.db_user).apply(
                    lambda v: wordpress_env(db_host=v[0], db_name=v[1], db_user=v[2], host_mode=host_mode,
                                            db_tls=args.db_tls)),
                secrets=[service_spec.mount_secret(args.db_password_secret_id, args.db_password_secret_name,
                                                   PASSWORD_FILE)],
            ),
            network_id=args.network_id,
            replicas=args.replicas,
            modes=args.modes,
            ports=[(args.port, HTTP_PORT)],
            # Host-mode ports can be bound once per node.
            placement=docker.ServiceTaskSpecPlacementArgs(max_replicas=1 if host_mode else None),
            opts=pulumi.ResourceOptions(parent=self),
        )
        addresses = remote.published_addresses(f"{name}-nodes", service, host_mode,
                                               args.leader_connection, args.manager_address, self)
        self.urls = addresses.apply(lambda addrs: [site_url(a, args.port) for a in addrs])
        self.service_id = service.id
        self.service_name = service.name
        self.register_outputs({"service_id": self.service_id, "service_name": self.service_name,
                               "urls": self.urls})
