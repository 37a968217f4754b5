"""GaleraService: the MariaDB Galera cluster (`mysql-galera`) as one swarm service.

One task per node, each with a local named volume for its data. Nodes find each other and
decide who bootstraps through etcd (see images/galera), so the service spec carries no
bootstrap flag that would break the next restart. Passwords reach the tasks only as swarm
secrets mounted as files (`*_FILE`), never as environment values; so does the etcd user's
(`galera`, EtcdDiscovery's secret). A password rotation's steps are PasswordRotation's
(components/password_rotation.py). With backups, the nodes also get GaleraBackup's
environment and secrets (components/galera_backup.py: galera-agent runs the schedule), and
with TLS ClusterCertificates' (components/cluster_certificates.py).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import etcd_discovery, remote, service_spec
from components.cluster_certificates import TlsTaskSpec
from components.galera_backup import BackupTaskSpec

# The component's type token: part of every URN under it (password_rotation aliases one).
RESOURCE_TYPE = "galera-swarm:index:GaleraService"

MYSQL_PORT = 3306
HEALTH_PORT = 9200
DATA_DIR = "/var/lib/mysql"
# Time a task has to become Synced before failed health checks count (10 minutes).
HEALTH_START_PERIOD_SECONDS = 600
UPDATE_MONITOR_SECONDS = 60
# Swarm secret file names inside every Galera task (service_spec.secret_path).
ROOT_PASSWORD_FILE = "mysql-root-password"
APP_PASSWORD_FILE = "mysql-app-password"
# The etcd user `galera`'s password, mounted under the name the etcd members use.
ETCD_PASSWORD_FILE = etcd_discovery.GALERA_PASSWORD_FILE
# What `galera-agent forget` reads its etcd password from: the script's stdin, passed on by
# `docker run -i` (forget_nodes_script).
STDIN_FILE = "/dev/stdin"


@dataclass
class ResourceLimits:
    """Per task; None: no limit."""
    cpus: Optional[float]
    memory_bytes: Optional[int]


@dataclass
class GaleraServiceArgs:
    """Plain where the value shapes the resources (names, counts, ports published or not,
    modes); the passwords are secret Inputs."""
    network_id: pulumi.Input[str]
    discovery_endpoint: pulumi.Input[str]
    image: pulumi.Input[str]
    service_name: str
    replicas: int
    cluster_name: pulumi.Input[str]
    database: pulumi.Input[str]
    user: pulumi.Input[str]
    root_password: pulumi.Input[str]
    app_password: pulumi.Input[str]
    # The etcd user galera's password: EtcdDiscovery's secret (mounted into the nodes) and its
    # value (the forget step's stdin).
    etcd_password_secret_id: pulumi.Input[str]
    etcd_password_secret_name: pulumi.Input[str]
    etcd_password: pulumi.Input[str]
    limits: ResourceLimits
    # Published as the MySQL port on the hosts; None: reachable on the overlay only.
    publish_port: Optional[int]
    constraints: Sequence[str]
    leader_connection: pulumi.Input[command.remote.ConnectionArgs]
    modes: service_spec.ServiceModes
    # Host names of swarm nodes drained because their hosts leave the stack
    # (SwarmCluster.drained_hostnames): their Galera nodes' etcd records are removed once the
    # service has converged without them. None: no host leaves.
    forget_hostnames: Optional[pulumi.Input[Sequence[str]]] = None
    # GaleraBackup's environment and secrets for the nodes (GaleraBackup.task_spec()); None: no
    # backups, and the service spec is what it is without them.
    backup: Optional[BackupTaskSpec] = None
    # ClusterCertificates' environment and secrets (ClusterCertificates.task_spec()); None: no
    # TLS between the nodes.
    tls: Optional[TlsTaskSpec] = None


# Swarm names each task's container after the node it runs on (see the hostname below); the
# Galera node name (in etcd and wsrep_node_name) is that container hostname.
NODE_HOSTNAME_TEMPLATE = "{{.Service.Name}}-{{.Node.Hostname}}"


# The service label that carries the replicas, and the swarm template that renders it into a
# task's CLUSTER_SIZE when swarm creates the task. A label change updates the service without
# restarting a task (it is not part of the task spec), so a scale-up or scale-down restarts no
# node; every task swarm starts (a new slot, a restart after a crash, a rescheduling) reads
# the count at that moment, which is when galera-agent uses it (a full recovery's wait).
CLUSTER_SIZE_LABEL = "com.galera-swarm.cluster-size"
CLUSTER_SIZE_TEMPLATE = '{{index .Service.Labels "%s"}}' % CLUSTER_SIZE_LABEL


def node_name(service_name: str, hostname: str) -> str:
    """The Galera node name of the task of `service_name` on the swarm node `hostname`
    (NODE_HOSTNAME_TEMPLATE rendered)."""
    return f"{service_name}-{hostname}"


def forget_nodes_script(*, image: str, network: str, cluster_name: str, discovery_endpoint: str,
                        node_names: Sequence[str]) -> str:
    """Run on the leader: `galera-agent forget` in a one-off container of the Galera image on
    the overlay `network` (a name or id) removes the etcd records (members/, nodes/) of
    `node_names`, so a later full-cluster recovery does not wait for nodes that left for good;
    it prints the members it removed. The agent logs in to etcd as `galera` with the password
    on the script's stdin (ETCD_PASSWORD_FILE=/dev/stdin, `docker run -i`): never on a command
    line. Nothing to forget: a no-op."""
    if not node_names:
        return "true\n"
    env = " ".join(f"-e {shlex.quote(f'{k}={v}')}" for k, v in
                   (("CLUSTER_NAME", cluster_name), ("DISCOVERY_SERVICE", discovery_endpoint),
                    ("ETCD_PASSWORD_FILE", STDIN_FILE)))
    names = " ".join(shlex.quote(n) for n in node_names)
    return (f"docker run --rm -i --network {shlex.quote(network)} {env} --entrypoint galera-agent "
            f"{shlex.quote(image)} forget {names}\n")


def galera_env(*, cluster_name: str, discovery_endpoint: str, peers_dns: str, cluster_size: int | str,
               database: str, user: str) -> dict[str, str]:
    """The task environment of a Galera node (images/galera's variables): names and paths
    only, never a password; the passwords are the secret files ROOT_PASSWORD_FILE,
    APP_PASSWORD_FILE and ETCD_PASSWORD_FILE (the etcd user galera's). State transfers need
    no password (mariabackup logs in through unix_socket); `peers_dns` (a name resolving to every node, `tasks.<service>` in a
    swarm) lets a node find running peers even when etcd has lost what it knew, so it never
    bootstraps a second cluster; `cluster_size` (the replicas, or in the service
    CLUSTER_SIZE_TEMPLATE) lets a full recovery act as soon as every node's position is in."""
    return {
        "CLUSTER_NAME": cluster_name,
        "DISCOVERY_SERVICE": discovery_endpoint,
        "PEERS_DNS": peers_dns,
        "CLUSTER_SIZE": str(cluster_size),
        "MYSQL_ROOT_PASSWORD_FILE": service_spec.secret_path(ROOT_PASSWORD_FILE),
        "MYSQL_DATABASE": database,
        "MYSQL_USER": user,
        "MYSQL_PASSWORD_FILE": service_spec.secret_path(APP_PASSWORD_FILE),
        "ETCD_PASSWORD_FILE": service_spec.secret_path(ETCD_PASSWORD_FILE),
    }


def resource_limits(limits: ResourceLimits) -> Optional[docker.ServiceTaskSpecResourcesArgs]:
    if limits.cpus is None and limits.memory_bytes is None:
        return None
    return docker.ServiceTaskSpecResourcesArgs(limits=docker.ServiceTaskSpecResourcesLimitsArgs(
        nano_cpus=int(limits.cpus * 1e9) if limits.cpus is not None else None,
        memory_bytes=limits.memory_bytes,
    ))


class GaleraService(pulumi.ComponentResource):
    """The docker provider comes through `opts` (providers=[...] or provider=). The
    application's password secret (`app_password_secret_*`) is for PasswordRotation, which
    hands it to the clients once the cluster accepts it."""

    service_id: pulumi.Output[str]
    service_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    vips: pulumi.Output[list]
    app_password_secret_id: pulumi.Output[str]
    app_password_secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: GaleraServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        root = service_spec.password_secret(name, ROOT_PASSWORD_FILE, args.root_password, child)
        app = service_spec.password_secret(name, APP_PASSWORD_FILE, args.app_password, child)

        env = pulumi.Output.all(args.cluster_name, args.discovery_endpoint, args.database, args.user).apply(
            lambda v: galera_env(cluster_name=v[0], discovery_endpoint=v[1],
                                 peers_dns=service_spec.tasks_dns(args.service_name),
                                 cluster_size=CLUSTER_SIZE_TEMPLATE,
                                 database=v[2], user=v[3]))
        secrets = [service_spec.mount_secret(root.id, root.name, ROOT_PASSWORD_FILE),
                   service_spec.mount_secret(app.id, app.name, APP_PASSWORD_FILE),
                   service_spec.mount_secret(args.etcd_password_secret_id, args.etcd_password_secret_name,
                                             ETCD_PASSWORD_FILE)]
        for extra in (args.tls, args.backup):
            if extra is not None:
                env = pulumi.Output.all(env, extra.env).apply(lambda v: {**v[0], **v[1]})
                secrets += extra.secret_mounts
        ports = [(args.publish_port, MYSQL_PORT)] if args.publish_port else []
        service = service_spec.replicated_service(
            f"{name}-{args.service_name}",
            service_name=args.service_name,
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=args.image,
                # The Galera node's identity (in etcd and in Galera) is the swarm node it runs
                # on, like its data: swarm does not keep a slot on the same node across a
                # destroy/up or a rescheduling, so a per-slot name would meet another slot's
                # data (or none) and a full-cluster recovery would find no data to elect.
                hostname=NODE_HOSTNAME_TEMPLATE,
                env=env,
                secrets=secrets,
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
            replicas=args.replicas,
            labels={CLUSTER_SIZE_LABEL: str(args.replicas)},
            modes=args.modes,
            ports=ports,
            # One task per node: each node holds its own copy of the data in its volume.
            placement=docker.ServiceTaskSpecPlacementArgs(
                max_replicas=1, constraints=list(args.constraints) or None),
            resources=resource_limits(args.limits),
            # A node needs a while after start to sync; judge an update only after that.
            monitor=f"{UPDATE_MONITOR_SECONDS}s",
            # A rolling update waits for each node to be Synced, for up to the start period.
            converge_timeout=f"{args.replicas * (HEALTH_START_PERIOD_SECONDS + UPDATE_MONITOR_SECONDS)}s",
            opts=child,
        )

        if args.forget_hostnames is not None:
            # After the scale-down: the nodes that left do not register again.
            remote.run(f"{name}-forget-nodes", args.leader_connection,
                       pulumi.Output.all(args.image, args.network_id, args.cluster_name, args.discovery_endpoint,
                                         args.forget_hostnames).apply(
                           lambda v: forget_nodes_script(
                               image=v[0], network=v[1], cluster_name=v[2], discovery_endpoint=v[3],
                               node_names=[node_name(args.service_name, h) for h in v[4]])),
                       pulumi.ResourceOptions(parent=self, depends_on=[service]),
                       stdin=pulumi.Output.secret(args.etcd_password))

        self.service_id = service.id
        self.service_name = service.name
        self.endpoint = service.name.apply(lambda n: f"{n}:{MYSQL_PORT}")
        self.vips = (remote.service_vips(f"{name}-vips", service.name, args.leader_connection, [service.id],
                                         pulumi.ResourceOptions(parent=self, depends_on=[service]))
                     if args.modes.has_vip else pulumi.Output.from_input([]))
        self.app_password_secret_id = app.id
        self.app_password_secret_name = app.name
        self.register_outputs({
            "service_id": self.service_id, "service_name": self.service_name,
            "endpoint": self.endpoint, "vips": self.vips,
            "app_password_secret_id": self.app_password_secret_id,
            "app_password_secret_name": self.app_password_secret_name,
        })
