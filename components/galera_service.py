"""GaleraService: the MariaDB Galera cluster (`mysql-galera`) as one swarm service.

One task per node, each with a local named volume for its data. Nodes find each other and
decide who bootstraps through etcd (see images/galera), so the service spec carries no
bootstrap flag that would break the next restart. Passwords reach the tasks only as swarm
secrets mounted as files (`*_FILE`), never as environment values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import remote, service_spec
from components.config import GaleraSettings, Passwords
from components.password_rotation import rotation_step

MYSQL_PORT = 3306
HEALTH_PORT = 9200
DATA_DIR = "/var/lib/mysql"
# Time a task has to become Synced before failed health checks count (10 minutes).
HEALTH_START_PERIOD_SECONDS = 600
UPDATE_MONITOR_SECONDS = 60
# Swarm secret file names inside every Galera task (and the app's password file).
ROOT_PASSWORD_FILE = "mysql-root-password"
APP_PASSWORD_FILE = "mysql-app-password"


@dataclass
class GaleraServiceArgs:
    provider: docker.Provider
    network_id: pulumi.Input[str]
    discovery_endpoint: pulumi.Input[str]
    settings: GaleraSettings
    passwords: Passwords
    leader_connection: pulumi.Input[command.remote.ConnectionArgs]
    endpoint_mode: str = "vip"
    publish_mode: str = "ingress"


def galera_env(settings: GaleraSettings, discovery_endpoint: str) -> dict[str, str]:
    """The task environment: names and paths only, never a password. State transfers need
    none (mariabackup logs in through unix_socket); PEERS_DNS lets a node find running peers
    even when etcd has lost what it knew, so it never bootstraps a second cluster."""
    return {
        "CLUSTER_NAME": settings.cluster_name,
        "DISCOVERY_SERVICE": discovery_endpoint,
        "PEERS_DNS": f"tasks.{settings.service_name}",
        "CLUSTER_SIZE": str(settings.replicas),
        "MYSQL_ROOT_PASSWORD_FILE": f"/run/secrets/{ROOT_PASSWORD_FILE}",
        "MYSQL_DATABASE": settings.database,
        "MYSQL_USER": settings.user,
        "MYSQL_PASSWORD_FILE": f"/run/secrets/{APP_PASSWORD_FILE}",
    }


def resource_limits(settings: GaleraSettings) -> Optional[docker.ServiceTaskSpecResourcesArgs]:
    if settings.cpus is None and settings.memory_bytes is None:
        return None
    return docker.ServiceTaskSpecResourcesArgs(limits=docker.ServiceTaskSpecResourcesLimitsArgs(
        nano_cpus=int(settings.cpus * 1e9) if settings.cpus is not None else None,
        memory_bytes=settings.memory_bytes,
    ))


class GaleraService(pulumi.ComponentResource):
    service_id: pulumi.Output[str]
    service_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    vips: pulumi.Output[list]
    app_password_secret_id: pulumi.Output[str]
    app_password_secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: GaleraServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("galera-swarm:index:GaleraService", name, None, opts)
        s = args.settings
        on_swarm = pulumi.ResourceOptions(parent=self, provider=args.provider)

        def secret(file_name: str, value: pulumi.Output[str]) -> docker.Secret:
            # No fixed name: a changed password makes a new secret (swarm secrets are immutable),
            # which Pulumi creates before it retires the old one.
            return docker.Secret(f"{name}-{file_name}", data=service_spec.secret_data(value),
                                 opts=on_swarm)

        root = secret(ROOT_PASSWORD_FILE, args.passwords.root)
        app = secret(APP_PASSWORD_FILE, args.passwords.app)

        ports = [(s.publish_port, MYSQL_PORT)] if s.publish_port else []
        service = service_spec.replicated_service(
            f"{name}-{s.service_name}",
            service_name=s.service_name,
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=s.image,
                # The Galera node's identity (in etcd and in Galera) is the swarm node it runs
                # on, like its data: swarm does not keep a slot on the same node across a
                # destroy/up or a rescheduling, so a per-slot name would meet another slot's
                # data (or none) and a full-cluster recovery would find no data to elect.
                hostname="{{.Service.Name}}-{{.Node.Hostname}}",
                env=pulumi.Output.from_input(args.discovery_endpoint).apply(
                    lambda endpoint: galera_env(s, endpoint)),
                secrets=[service_spec.mount_secret(root, ROOT_PASSWORD_FILE),
                         service_spec.mount_secret(app, APP_PASSWORD_FILE)],
                # One local volume per swarm node (at most one task per node), so a node's data
                # always belongs to the same Galera node name.
                mounts=[docker.ServiceTaskSpecContainerSpecMountArgs(
                    type="volume", source="{{.Service.Name}}-data", target=DATA_DIR)],
                # A donor stays healthy: swarm would otherwise replace it in the middle of an
                # SST. A joiner turns healthy once Synced, so a rolling update waits for it,
                # or, in a transfer longer than the start period, at its end, so it is not
                # killed. The load balancer's HTTP check still takes both out of rotation.
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
                    tests=["CMD", "/usr/local/bin/galera-health", "--check", "--donor-ok",
                           "--transfer-ok-after", str(HEALTH_START_PERIOD_SECONDS)],
                    interval="5s", timeout="3s", retries=3, start_period=f"{HEALTH_START_PERIOD_SECONDS}s"),
                # Give mysqld time to flush and leave the cluster cleanly.
                stop_grace_period="60s",
            ),
            network_id=args.network_id,
            replicas=s.replicas,
            endpoint_mode=args.endpoint_mode,
            publish_mode=args.publish_mode,
            ports=ports,
            # One task per node: each node holds its own copy of the data in its volume.
            placement=docker.ServiceTaskSpecPlacementArgs(
                max_replicas=1, constraints=list(s.constraints) or None),
            resources=resource_limits(s),
            # A node needs a while after start to sync; judge an update only after that.
            monitor=f"{UPDATE_MONITOR_SECONDS}s",
            # A rolling update waits for each node to be Synced, for up to the start period.
            converge_timeout=f"{s.replicas * (HEALTH_START_PERIOD_SECONDS + UPDATE_MONITOR_SECONDS)}s",
            opts=on_swarm,
        )

        self.service_id = service.id
        self.service_name = service.name
        self.endpoint = service.name.apply(lambda n: f"{n}:{MYSQL_PORT}")
        self.vips = (remote.service_vips(f"{name}-vips", service.name, args.leader_connection, [service.id],
                                         pulumi.ResourceOptions(parent=self, depends_on=[service]))
                     if args.endpoint_mode == "vip" else pulumi.Output.from_input([]))
        # The application's password secret is handed out only once the cluster accepts it: in
        # a rotation, WordPress rolls onto the new password while the old one still works.
        accepted = rotation_step(f"{name}-new-passwords-accepted", "await-accepted", s, args.passwords,
                                 args.network_id, args.leader_connection, pulumi.ResourceOptions(parent=self))
        self.app_password_secret_id = pulumi.Output.all(app.id, accepted.id).apply(lambda v: v[0])
        self.app_password_secret_name = pulumi.Output.all(app.name, accepted.id).apply(lambda v: v[0])
        self.register_outputs({
            "service_id": self.service_id, "service_name": self.service_name,
            "endpoint": self.endpoint, "vips": self.vips,
            "app_password_secret_id": self.app_password_secret_id,
            "app_password_secret_name": self.app_password_secret_name,
        })
