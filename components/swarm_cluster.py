"""SwarmCluster: bare Docker hosts over SSH in, one Docker Swarm out.

Per host, commands run where they must: `init` and the join tokens on the leader, `join` on
the joining host, node settings on the leader. Destroy runs them in reverse, so a host is
demoted, leaves, and then its record is removed from the node list.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Mapping, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import remote
from galera_swarm.placement import is_manager, leader_of

SWARM_PORT = 2377
# Swarm needs a few seconds after `join` before the leader lists the node as ready.
NODE_READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class SwarmHost:
    """A Docker host: `address` is what SSH reaches and the swarm advertise address; `role`
    manager or worker, `availability` active, pause or drain (swarm's words)."""
    name: str
    address: str
    role: str
    availability: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class SshLogin:
    """How the swarm commands and the docker provider log in to every host."""
    user: str
    port: int
    # A file on this machine: the docker provider's ssh reads it (the commands get the key).
    private_key_path: str
    # Lab hosts are re-created with new host keys; real hosts should be in known_hosts.
    ignore_host_key: bool


@dataclass
class SwarmClusterArgs:
    """Plain: the hosts make the resource graph (one join per host)."""
    hosts: Sequence[SwarmHost]
    ssh: SshLogin
    # The key at ssh.private_key_path, as a secret.
    private_key: pulumi.Input[str]


LOCAL_STATE = "state=$(docker info --format '{{.Swarm.LocalNodeState}}')\n"


def init_script(leader: SwarmHost) -> str:
    addr = shlex.quote(leader.address)
    return (
        LOCAL_STATE
        + 'if [ "$state" = active ]; then\n'
        "  if [ \"$(docker info --format '{{.Swarm.ControlAvailable}}')\" != true ]; then\n"
        f"    echo '{leader.name} is in a swarm but is no manager; run docker swarm leave on it' >&2\n"
        "    exit 1\n"
        "  fi\n"
        "else\n"
        # Its stdout is a ready join command with the worker token: never print it.
        f"  docker swarm init --advertise-addr {addr} --listen-addr {addr}:{SWARM_PORT} >/dev/null\n"
        "fi\n"
        "docker info --format '{{.Swarm.NodeID}}'\n"
    )


def join_script(host: SwarmHost, leader: SwarmHost) -> str:
    """Join with the token read from stdin, so it never appears in a command line or state."""
    addr = shlex.quote(host.address)
    return (
        LOCAL_STATE
        + 'if [ "$state" != active ]; then\n'
        f"  docker swarm join --advertise-addr {addr} --listen-addr {addr}:{SWARM_PORT} "
        f"--token \"$(cat)\" {shlex.quote(leader.address)}:{SWARM_PORT} >&2\n"
        "fi\n"
        "docker info --format '{{.Swarm.NodeID}}'\n"
    )


def leave_script() -> str:
    return "docker swarm leave --force >&2 || true\n"


def node_settings_script(host: SwarmHost, node_id: str) -> str:
    """Wait until the leader sees the node ready, then apply availability and labels."""
    nid = shlex.quote(node_id)
    labels = "".join(f" --label-add {shlex.quote(f'{k}={v}')}" for k, v in sorted(host.labels.items()))
    attempts = NODE_READY_TIMEOUT_S // 2
    return (
        "i=0\n"
        f"until [ \"$(docker node inspect --format '{{{{.Status.State}}}}' {nid} 2>/dev/null)\" = ready ]; do\n"
        f"  i=$((i + 1)); if [ $i -gt {attempts} ]; then\n"
        f"    echo 'node {host.name} ({node_id}) not ready after {NODE_READY_TIMEOUT_S} s' >&2; exit 1\n"
        "  fi\n"
        "  sleep 2\n"
        "done\n"
        f"docker node update --availability {host.availability}{labels} {nid} >/dev/null\n"
        f"echo {nid}\n"
    )


def demote_script(node_id: str) -> str:
    # A manager that leaves without being demoted first leaves a dead Raft member behind.
    return f"docker node demote {shlex.quote(node_id)} >/dev/null 2>&1 || true\n"


def forget_script(host: SwarmHost) -> str:
    """Remove the record of a host that has left: found by address, once swarm sees it down."""
    addr = shlex.quote(host.address)
    return (
        "for id in $(docker node ls -q); do\n"
        f"  [ \"$(docker node inspect --format '{{{{.Status.Addr}}}}' \"$id\")\" = {addr} ] || continue\n"
        "  i=0\n"
        "  while [ \"$(docker node inspect --format '{{.Status.State}}' \"$id\")\" != down ] "
        "&& [ $i -lt 30 ]; do sleep 2; i=$((i + 1)); done\n"
        "  docker node rm --force \"$id\" >&2 || true\n"
        "done\n"
    )


class SwarmCluster(pulumi.ComponentResource):
    """Initialises a swarm on the first manager and joins every other host with its role's token."""

    manager_address: pulumi.Output[str]
    node_ids: pulumi.Output[dict]
    manager_join_token: pulumi.Output[str]
    worker_join_token: pulumi.Output[str]
    provider: docker.Provider

    def __init__(self, name: str, args: SwarmClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("galera-swarm:index:SwarmCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        leader = leader_of(args.hosts)

        def conn(host: SwarmHost) -> command.remote.ConnectionArgs:
            return remote.connection(host.address, args.ssh.user, args.ssh.port, args.private_key)

        leader_conn = conn(leader)
        init = remote.run(f"{name}-init-{leader.name}", leader_conn, init_script(leader), child,
                          delete=leave_script())
        leader_id = init.stdout.apply(str.strip)

        def token(role: str) -> pulumi.Output[str]:
            cmd = remote.run(f"{name}-{role}-token", leader_conn,
                             f"docker swarm join-token -q {role}\n",
                             pulumi.ResourceOptions(parent=self, depends_on=[init]),
                             triggers=[leader_id], secret_stdout=True)
            return pulumi.Output.secret(cmd.stdout.apply(str.strip))

        self.manager_join_token = token("manager")
        self.worker_join_token = token("worker")

        node_ids: dict[str, pulumi.Output[str]] = {}
        settled: list[pulumi.Resource] = []
        for host in args.hosts:
            if host == leader:
                node_id = leader_id
                after: list[pulumi.Resource] = [init]
            else:
                forget = remote.run(f"{name}-forget-{host.name}", leader_conn, "true\n",
                                    pulumi.ResourceOptions(parent=self, depends_on=[init]),
                                    delete=forget_script(host))
                join = remote.run(
                    f"{name}-join-{host.name}", conn(host), join_script(host, leader),
                    pulumi.ResourceOptions(parent=self, depends_on=[forget]),
                    delete=leave_script(),
                    stdin=self.manager_join_token if is_manager(host) else self.worker_join_token)
                node_id = join.stdout.apply(str.strip)
                after = [join]
            settings = remote.run(
                f"{name}-node-{host.name}", leader_conn,
                node_id.apply(lambda nid, h=host: node_settings_script(h, nid)),
                pulumi.ResourceOptions(parent=self, depends_on=after),
                delete=None if host == leader else node_id.apply(demote_script))
            node_ids[host.name] = settings.stdout.apply(str.strip)
            settled.append(settings)

        key_opts = ["-i", args.ssh.private_key_path]
        if args.ssh.ignore_host_key:
            key_opts += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                         "-o", "LogLevel=ERROR"]
        # Bound to the leader; created only once every node has joined, so services that use it
        # are scheduled on the whole swarm.
        self.provider = docker.Provider(
            f"{name}-docker",
            host=f"ssh://{args.ssh.user}@{leader.address}:{args.ssh.port}",
            ssh_opts=key_opts,
            opts=pulumi.ResourceOptions(parent=self, depends_on=settled),
        )
        self.manager_address = pulumi.Output.from_input(leader.address)
        self.node_ids = pulumi.Output.all(**node_ids)
        # Not an output (it holds the key): what other components use to ask the leader things.
        self.leader_connection = leader_conn
        self.register_outputs({
            "manager_address": self.manager_address,
            "node_ids": self.node_ids,
            "manager_join_token": self.manager_join_token,
            "worker_join_token": self.worker_join_token,
        })
