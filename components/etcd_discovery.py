"""EtcdDiscovery: the etcd that Galera nodes register in and elect their bootstrap node through.

One member runs as service `etcd`. Three (or five) members run as services `etcd-1..N`, one
task each, because an etcd member needs a stable name and peer URL that survive rescheduling;
every member also answers to the network alias `etcd`, so clients use one endpoint either way.

etcd requires authentication (images/etcd): its first start creates the users `root` and
`galera` (read and write under /galera/ only) from two swarm secrets mounted as files, and
enables auth; the Galera nodes log in as `galera`. Neither password is in any task spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import remote, service_spec

CLIENT_PORT = 2379
PEER_PORT = 2380
ALIAS = "etcd"
# The etcd user the Galera nodes log in as (created by images/etcd/etcd-entrypoint.sh).
GALERA_USER = "galera"
# Swarm secret file names (service_spec.secret_path) in every etcd member; the Galera nodes
# mount the galera user's under the same name.
ROOT_PASSWORD_FILE = "etcd-root-password"
GALERA_PASSWORD_FILE = "etcd-galera-password"


@dataclass
class EtcdDiscoveryArgs:
    """Plain where the value shapes the resources (member count, ports published or not,
    modes)."""
    network_id: pulumi.Input[str]
    image: pulumi.Input[str]
    leader_connection: pulumi.Input[command.remote.ConnectionArgs]
    replicas: int
    modes: service_spec.ServiceModes
    # The seed recipe published etcd on every node, which exposes the cluster's bootstrap
    # decisions to anyone on the hosts' network: the stack's config makes it opt-in.
    publish: bool
    # Swarm node id per member (member 1 first): each member runs only there, beside its
    # data volume. Empty: swarm places them.
    member_node_ids: Sequence[pulumi.Input[str]]
    # Secret Inputs: etcd's root user's password and the galera user's.
    root_password: pulumi.Input[str]
    galera_password: pulumi.Input[str]
    cluster_token: str = "galera-swarm-etcd"


def member_names(replicas: int) -> list[str]:
    return [ALIAS] if replicas == 1 else [f"{ALIAS}-{i}" for i in range(1, replicas + 1)]


def auth_env() -> dict[str, str]:
    """The etcd image's password variables: paths of the secret files ROOT_PASSWORD_FILE and
    GALERA_PASSWORD_FILE, never a password."""
    return {
        "ETCD_ROOT_PASSWORD_FILE": service_spec.secret_path(ROOT_PASSWORD_FILE),
        "ETCD_GALERA_PASSWORD_FILE": service_spec.secret_path(GALERA_PASSWORD_FILE),
    }


def member_env(member: str, members: list[str], cluster_token: str) -> dict[str, str]:
    """The task environment of etcd member `member` of `members`: the ETCD_* variables of a
    static cluster, hourly compaction, and auth_env(). Compaction because every Galera node
    writes its record every 2 s: without it etcd keeps every revision and reaches its 2 GiB
    quota within months, then refuses every write ("mvcc: database space exceeded"; etcd's
    maintenance guide)."""
    initial_cluster = ",".join(f"{m}=http://{m}:{PEER_PORT}" for m in members)
    return {
        "ETCD_NAME": member,
        "ETCD_DATA_DIR": "/var/lib/etcd",
        "ETCD_LISTEN_CLIENT_URLS": f"http://0.0.0.0:{CLIENT_PORT}",
        "ETCD_ADVERTISE_CLIENT_URLS": f"http://{member}:{CLIENT_PORT}",
        "ETCD_LISTEN_PEER_URLS": f"http://0.0.0.0:{PEER_PORT}",
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": f"http://{member}:{PEER_PORT}",
        "ETCD_INITIAL_CLUSTER": initial_cluster,
        "ETCD_INITIAL_CLUSTER_STATE": "new",
        "ETCD_INITIAL_CLUSTER_TOKEN": cluster_token,
        "ETCD_AUTO_COMPACTION_MODE": "periodic",
        "ETCD_AUTO_COMPACTION_RETENTION": "1h",
        **auth_env(),
    }


class EtcdDiscovery(pulumi.ComponentResource):
    """The docker provider comes through `opts` (providers=[...] or provider=)."""

    endpoint: pulumi.Output[str]
    service_names: pulumi.Output[list]
    vips: pulumi.Output[list]
    # The galera user's password secret, for GaleraService to mount into the nodes.
    galera_password_secret_id: pulumi.Output[str]
    galera_password_secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: EtcdDiscoveryArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("galera-swarm:index:EtcdDiscovery", name, None, opts)
        members = member_names(args.replicas)
        child = pulumi.ResourceOptions(parent=self)
        root_secret = service_spec.password_secret(name, ROOT_PASSWORD_FILE, args.root_password, child)
        galera_secret = service_spec.password_secret(name, GALERA_PASSWORD_FILE, args.galera_password, child)
        secrets = [service_spec.mount_secret(root_secret.id, root_secret.name, ROOT_PASSWORD_FILE),
                   service_spec.mount_secret(galera_secret.id, galera_secret.name, GALERA_PASSWORD_FILE)]
        services: list[docker.Service] = []
        for index, member in enumerate(members):
            # Ports can only be published once per swarm in ingress mode: the first member
            # takes the well-known ports.
            ports = [(CLIENT_PORT, CLIENT_PORT), (PEER_PORT, PEER_PORT)] if args.publish and index == 0 else []
            env = member_env(member, members, args.cluster_token)
            services.append(service_spec.replicated_service(
                f"{name}-{member}",
                service_name=member,
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.image,
                    hostname=member,
                    env=env,
                    secrets=secrets,
                    mounts=[docker.ServiceTaskSpecContainerSpecMountArgs(
                        type="volume", source=f"{member}-data", target="/var/lib/etcd")],
                ),
                network_id=args.network_id,
                replicas=1,
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=[
                    pulumi.Output.concat("node.id == ", args.member_node_ids[index])])
                if args.member_node_ids else None,
                modes=args.modes,
                ports=ports,
                aliases=[ALIAS],
                opts=child,
            ))

        # Derived from the services so that whoever uses the endpoint waits for etcd to run.
        self.endpoint = pulumi.Output.all(*[s.id for s in services]).apply(
            lambda _: f"{ALIAS}:{CLIENT_PORT}")
        self.service_names = pulumi.Output.all(*[s.name for s in services])
        if args.modes.has_vip:
            self.vips = pulumi.Output.all(*[
                remote.service_vips(f"{name}-{svc_name}-vips", svc.name, args.leader_connection,
                                    [svc.id], pulumi.ResourceOptions(parent=self, depends_on=[svc]))
                for svc_name, svc in zip(members, services)
            ]).apply(lambda lists: [vip for vips in lists for vip in vips])
        else:
            self.vips = pulumi.Output.from_input([])
        self.galera_password_secret_id = galera_secret.id
        self.galera_password_secret_name = galera_secret.name
        self.register_outputs({"endpoint": self.endpoint, "service_names": self.service_names,
                               "vips": self.vips, "galera_password_secret_id": self.galera_password_secret_id,
                               "galera_password_secret_name": self.galera_password_secret_name})
