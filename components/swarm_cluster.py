"""SwarmCluster: bare Docker hosts over SSH in, one Docker Swarm out.

Per host, commands run where they must: `init` and the join tokens on the leader, `join` on
the joining host, node settings on the leader. A host's resources are named after its `key`
(its identity across deployments, galera_swarm/lifecycle.py), never its position, so renaming
or reordering hosts deletes nothing. Deleting a host's resources (the host left the config, or
`destroy`) runs in reverse: the leader checks that the node at the host's address is the one
that joined under this key, drains it until no task runs there, demotes it when that keeps a
reachable majority of managers; only then the host leaves, and the leader removes its record
once it is down (a node that is down is not waited for). The leader's own leave, last,
dissolves the swarm only when no other node is up. Each step refuses, with the reason, when its
check fails, and a swarm query that fails stops the step (`set -e` on plain assignments).
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import remote
from components.remote import host_port
from galera_swarm.placement import is_manager, leader_of

SWARM_PORT = 2377
# Swarm needs a few seconds after `join` before the leader lists the node as ready.
NODE_READY_TIMEOUT_S = 120
# A drained node's tasks stop (Galera's shut down cleanly) and are placed elsewhere.
DRAIN_TIMEOUT_S = 600
# How long a demoted manager may take before it sees itself a worker.
DEMOTED_TIMEOUT_S = 60
# How long a node that left may take before the leader sees it down.
NODE_DOWN_TIMEOUT_S = 60
# Every node carries its host's key, so a delete can tell a node still in config under another
# key from the one it joined.
HOST_KEY_LABEL = "galera-swarm.host"


@dataclass(frozen=True)
class SwarmHost:
    """A Docker host. `key` names its resources (stable across renames); `address` is what SSH
    reaches (IP or DNS name), `advertise_address` the IP literal swarm advertises and listens
    on; `role` manager or worker, `availability` active, pause or drain (swarm's words)."""
    key: str
    name: str
    address: str
    advertise_address: str
    role: str
    availability: str
    labels: Mapping[str, str]
    # The public key (`TYPE BASE64`) it must present to the commands; None: not checked (the lab).
    host_key: Optional[str] = None


@dataclass(frozen=True)
class SshLogin:
    """How the swarm commands and the docker provider log in to every host."""
    user: str
    port: int
    # A file on this machine: the docker provider's ssh reads it (the commands get the key).
    # None: both log in through the SSH agent at SSH_AUTH_SOCK.
    private_key_path: Optional[str]
    # Lab hosts are re-created with new host keys; real hosts should be in known_hosts.
    ignore_host_key: bool
    # The known_hosts file the docker provider checks the leader's key against.
    known_hosts_path: Optional[str] = None


@dataclass(frozen=True)
class LeavingHost:
    """A host of the last deployment that `hosts` no longer lists (galera_swarm.lifecycle's
    leaving_hosts): its node is drained before any service changes, so a service scaled down
    in the same `up` loses the tasks that were there (swarm removes tasks that do not run
    first), not ones on hosts that stay."""
    key: str
    name: str
    advertise_address: str


@dataclass
class SwarmClusterArgs:
    """Plain: the hosts make the resource graph (one join per host)."""
    hosts: Sequence[SwarmHost]
    ssh: SshLogin
    # The key at ssh.private_key_path, as a secret; None with the SSH agent.
    private_key: Optional[pulumi.Input[str]] = None
    # Drained one at a time, before the docker provider is used (so before every service).
    leaving: Sequence[LeavingHost] = ()


# What swarm prints for a node id (swarmkit identity.NewID: 25 base-36 digits) and a join token
# (`SWMTKN-1-<digests>`); anything else read from a host is refused before it reaches a script.
NODE_ID_PATTERN = re.compile(r"[a-z0-9]{25}")
JOIN_TOKEN_PATTERN = re.compile(r"SWMTKN-1-[a-z0-9-]+")


def node_id_from(stdout: str, host: SwarmHost, command: str) -> str:
    """The swarm node id `command` printed on `host`, stripped. Raises ValueError naming the
    host when it is not one (it is pasted into the scripts that run on the leader)."""
    node_id = stdout.strip()
    if not NODE_ID_PATTERN.fullmatch(node_id):
        raise ValueError(f"{command} on {host.name} ({host.address}) printed {node_id[:80]!r} where a swarm "
                         "node id (25 lowercase letters and digits) belongs; refusing to use it in a script. "
                         f"Check `docker info --format '{{{{.Swarm.NodeID}}}}'` on {host.name}")
    return node_id


# RFC 1123 host names, as swarm reports a node's (`.Description.Hostname`).
HOSTNAME_PATTERN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def hostnames_from(stdout: str, host: LeavingHost) -> list[str]:
    """The host names drain_script printed for `host` (one per node drained; none when its node
    had already left), in order. Raises ValueError naming the host for a line that is not an
    RFC 1123 host name (they become Galera node names in a script)."""
    names = [line.strip() for line in stdout.splitlines() if line.strip()]
    for hostname in names:
        if not HOSTNAME_PATTERN.fullmatch(hostname):
            raise ValueError(f"draining {host.name} ({host.advertise_address}): swarm reported the host name "
                             f"{hostname[:80]!r}, which is not an RFC 1123 host name; refusing to use it in a script")
    return names


def join_token_from(stdout: str, role: str, leader: SwarmHost) -> str:
    """The `role` join token printed on the leader, stripped. Raises ValueError (without the
    value: it may be a secret) when it is not a swarm join token."""
    token = stdout.strip()
    if not JOIN_TOKEN_PATTERN.fullmatch(token):
        raise ValueError(f"docker swarm join-token -q {role} on {leader.name} ({leader.address}) printed "
                         f"{len(token)} characters that are not a swarm join token (SWMTKN-1-...); refusing "
                         "to hand them to a join")
    return token


def _dq(text: str) -> str:
    """`text` for inside a double-quoted shell word: printed as is, never expanded."""
    return "".join("\\" + c if c in '\\"$`' else c for c in text)


LOCAL_STATE = "state=$(docker info --format '{{.Swarm.LocalNodeState}}')\n"


def init_script(leader: SwarmHost) -> str:
    addr = shlex.quote(leader.advertise_address)
    return (
        LOCAL_STATE
        + 'if [ "$state" = active ]; then\n'
        "  if [ \"$(docker info --format '{{.Swarm.ControlAvailable}}')\" != true ]; then\n"
        f"    echo '{leader.name} is in a swarm but is no manager; run docker swarm leave on it' >&2\n"
        "    exit 1\n"
        "  fi\n"
        "else\n"
        # Its stdout is a ready join command with the worker token: never print it.
        f"  docker swarm init --advertise-addr {addr} "
        f"--listen-addr {shlex.quote(host_port(leader.advertise_address, SWARM_PORT))} >/dev/null\n"
        "fi\n"
        "docker info --format '{{.Swarm.NodeID}}'\n"
    )


# Where a joined host records the node id it joined as, for its leave (node_leave_script): the
# join's delete is fixed before the join prints the id, so it cannot carry it.
JOINED_NODE_ID_FILE = "/var/lib/galera-swarm/swarm-node-id"


def join_script(host: SwarmHost, leader: SwarmHost) -> str:
    """Join with the token read from stdin, so it never appears in a command line or state;
    record the node id in JOINED_NODE_ID_FILE and print it."""
    addr = shlex.quote(host.advertise_address)
    record = shlex.quote(JOINED_NODE_ID_FILE)
    return (
        LOCAL_STATE
        + 'if [ "$state" != active ]; then\n'
        f"  docker swarm join --advertise-addr {addr} "
        f"--listen-addr {shlex.quote(host_port(host.advertise_address, SWARM_PORT))} "
        f"--token \"$(cat)\" {shlex.quote(host_port(leader.advertise_address, SWARM_PORT))} >&2\n"
        "fi\n"
        "id=$(docker info --format '{{.Swarm.NodeID}}')\n"
        f"mkdir -p {shlex.quote(JOINED_NODE_ID_FILE.rsplit('/', 1)[0])}\n"
        f"printf '%s\\n' \"$id\" > {record}\n"
        'printf \'%s\\n\' "$id"\n'
    )


def leave_script(leader: SwarmHost) -> str:
    """The leader's leave (the delete of its `init`): it dissolves the swarm, so it runs only
    when no other node is still up. At `destroy` every other host's steps depend on `init` and
    are deleted first (the forget step removes each record), so nothing else is listed by then;
    a delete of `init` while other nodes run (a failed first `up`, an edited state) is refused."""
    return (
        LOCAL_STATE
        + 'if [ "$state" != active ]; then\n'
        f"  echo '{leader.name} ({leader.address}) is in no swarm; nothing to dissolve' >&2; exit 0\n"
        "fi\n"
        "self=$(docker info --format '{{.Swarm.NodeID}}')\n"
        "listed=$(docker node ls --format '{{.ID}} {{.Status}}')\n"
        "up=$(printf '%s\\n' \"$listed\" | grep -v -e \"^$self \" -e ' Down$' | grep . || true)\n"
        'if [ -n "$up" ]; then\n'
        f"  echo \"refusing to dissolve the swarm on {leader.name} ({leader.address}): other nodes are still "
        "up: $(printf '%s' \"$up\" | tr '\\n' ' '); remove their hosts first (pulumi up without them), "
        "or see docker node ls\" >&2\n"
        "  exit 1\n"
        "fi\n"
        "docker swarm leave --force >&2\n"
    )


def node_leave_script(host: SwarmHost, record: str = JOINED_NODE_ID_FILE) -> str:
    """A joined host leaves, run on the host after the leader's removal gate passed
    (`removal_gate_script`: the node is the one this key joined, drained and demoted), and only
    while it is still the node it joined as (the id its join wrote to `record`): a host
    reinstalled into another swarm is left there, with a note."""
    return (
        LOCAL_STATE
        + 'if [ "$state" != active ]; then\n'
        f"  echo '{host.name} ({host.address}) is in no swarm; nothing to leave' >&2; exit 0\n"
        "fi\n"
        "current=$(docker info --format '{{.Swarm.NodeID}}')\n"
        f"joined=; if [ -r {shlex.quote(record)} ]; then joined=$(cat {shlex.quote(record)}); fi\n"
        'if [ "$current" != "$joined" ]; then\n'
        f"  echo \"{host.name} ({host.address}) is now swarm node $current, not the node it joined as "
        f"('$joined' in {_dq(record)}); leaving that swarm alone\" >&2; exit 0\n"
        "fi\n"
        # A demotion reaches the node a moment after the leader accepted it.
        "i=0\n"
        "while [ \"$(docker info --format '{{.Swarm.ControlAvailable}}')\" = true ]; do\n"
        f"  i=$((i + 1)); if [ $i -gt {DEMOTED_TIMEOUT_S // 2} ]; then\n"
        f"    echo 'refusing to make {host.name} ({host.address}) leave: it is still a manager, so the "
        "swarm would lose a Raft member without a demotion; run docker node demote on the leader, "
        "then pulumi up again' >&2\n"
        "    exit 1\n"
        "  fi\n"
        "  sleep 2\n"
        "done\n"
        "docker swarm leave --force >&2\n"
    )


def _label(label: str, node: str) -> str:
    return f"docker node inspect --format '{{{{index .Spec.Labels \"{label}\"}}}}' {node}"


def node_settings_script(host: SwarmHost, node_id: str) -> str:
    """Wait until the leader sees the node ready, then apply availability and labels, and mark
    the node with its host's key (HOST_KEY_LABEL)."""
    nid = shlex.quote(node_id)
    labels = "".join(f" --label-add {shlex.quote(f'{k}={v}')}" for k, v in sorted(host.labels.items()))
    attempts = NODE_READY_TIMEOUT_S // 2
    return (
        "i=0\n"
        f"until [ \"$(docker node inspect --format '{{{{.Status.State}}}}' {nid} 2>/dev/null)\" = ready ]; do\n"
        f"  i=$((i + 1)); if [ $i -gt {attempts} ]; then\n"
        f"    echo \"node {host.name} ({_dq(node_id)}) not ready after {NODE_READY_TIMEOUT_S} s\" >&2; exit 1\n"
        "  fi\n"
        "  sleep 2\n"
        "done\n"
        f"docker node update --availability {host.availability}{labels} {nid} >/dev/null\n"
        f"docker node update --label-add {shlex.quote(f'{HOST_KEY_LABEL}={host.key}')} {nid} >/dev/null\n"
        f"echo {nid}\n"
    )


# In a loop over `ids=$(docker node ls -q)`: the address of node $id into $a. A node removed
# since the list was read (another host's forget step runs at the same time) is skipped; any
# other failed query stops the script, so a failure never reads as "no such node".
_ADDRESS_OF_LISTED_NODE = (
    "  a=$(docker node inspect --format '{{.Status.Addr}}' \"$id\") || {\n"
    "    now=$(docker node ls -q)\n"
    "    if printf '%s\\n' \"$now\" | grep -qx \"$id\"; then\n"
    "      echo \"cannot inspect node $id (docker node inspect failed)\" >&2; exit 1\n"
    "    fi\n"
    "    continue\n"
    "  }\n"
)


def _wait_until_no_task_runs(node: str, name: str, node_id_text: str, indent: str) -> str:
    """Shell lines, each indented by `indent`, that wait up to DRAIN_TIMEOUT_S until no task
    runs on the drained `node` (a quoted id or "$id"); the messages name `name` and show
    `node_id_text`. A failed task listing stops the script: it would read as "nothing runs"."""
    return textwrap.indent(
        "i=0\n"
        "while :; do\n"
        f"  states=$(docker node ps --format '{{{{.CurrentState}}}}' {node}) || {{\n"
        f"    echo 'cannot list the tasks of node {name} (see above), so whether Galera still runs there is "
        "unknown; see docker node ls, then pulumi up again' >&2; exit 1\n"
        "  }\n"
        "  printf '%s\\n' \"$states\" | grep -q '^Running' || break\n"
        f"  i=$((i + 1)); if [ $i -gt {DRAIN_TIMEOUT_S // 2} ]; then\n"
        f"    echo \"node {name} still runs tasks {DRAIN_TIMEOUT_S} s after the drain; see docker node ps "
        f"{node_id_text}, then pulumi up again\" >&2; exit 1\n"
        "  fi\n"
        "  sleep 2\n"
        "done\n", indent)


def drain_script(host: LeavingHost) -> str:
    """Run on the leader at the start of the `up` that removes `host`: drain the node that
    joined under its key (HOST_KEY_LABEL) and wait until no task runs there (a down node is not
    waited for: swarm has placed its tasks elsewhere), then print the node's host name. A node
    with that key at another address is refused (it is not the host that left); no node with
    the key (it has left already) prints nothing. The removal gate, at the end of the `up`,
    still checks and drains before the node leaves."""
    name = f"{host.name} ({host.advertise_address})"
    addr = shlex.quote(host.advertise_address)
    return (
        "ids=$(docker node ls -q)\n"
        "for id in $ids; do\n"
        + _ADDRESS_OF_LISTED_NODE +
        "  claim=$(" + _label(HOST_KEY_LABEL, '"$id"') + ")\n"
        f"  [ \"$claim\" = {shlex.quote(host.key)} ] || continue\n"
        f"  if [ \"$a\" != {addr} ]; then\n"
        f"    echo \"refusing to drain node $id: it joined as {host.key} but is at $a, not at "
        f"{host.advertise_address} where {host.name} was; see docker node ls\" >&2; exit 1\n"
        "  fi\n"
        "  s=$(docker node inspect --format '{{.Status.State}}' \"$id\")\n"
        "  docker node update --availability drain \"$id\" >/dev/null\n"
        '  if [ "$s" != down ]; then\n'
        + _wait_until_no_task_runs('"$id"', name, "$id", "    ") +
        "  fi\n"
        "  docker node inspect --format '{{.Description.Hostname}}' \"$id\"\n"
        "done\n"
    )


def removal_gate_script(host: SwarmHost, node_id: str, join_urn: str = "", node_urn: str = "") -> str:
    """Run on the leader before a joined host leaves (the delete of its node settings):

    1. a node that swarm lists up at the host's address must be `node_id` and carry no other
       host's key, else refuse (that node is in config under another key);
    2. a manager goes only if the other managers keep a reachable majority after it is demoted
       (Raft quorum), else refuse;
    3. drain it and wait until no task runs there (DRAIN_TIMEOUT_S);
    4. demote a manager (swarm refuses a demotion that loses quorum; refused, so do we).
    A node already gone from the swarm needs none of it; a node that is down is not waited for
    (step 3), and the note names `join_urn`/`node_urn` (the host's join and node resources) for
    `pulumi state delete` when its host cannot be reached any more. Every swarm query is a plain
    assignment, so a failed one stops the script (`set -e`) rather than reading as "nothing
    there". `node_id` is shell-quoted wherever it
    appears (SwarmCluster also refuses one that is not a swarm node id, node_id_from)."""
    nid, key, name = shlex.quote(node_id), shlex.quote(host.key), f"{host.name} ({host.address})"
    addr = shlex.quote(host.advertise_address)
    return (
        # Each query in a plain assignment: under `set -e` a failed one stops the script instead
        # of reading as "no such node".
        "ids=$(docker node ls -q)\n"
        "for id in $ids; do\n"
        + _ADDRESS_OF_LISTED_NODE +
        f"  [ \"$a\" = {addr} ] || continue\n"
        # A down record of an earlier node at this address is no one's (forget_script removes it).
        "  s=$(docker node inspect --format '{{.Status.State}}' \"$id\")\n"
        '  [ "$s" != down ] || continue\n'
        "  claim=$(" + _label(HOST_KEY_LABEL, '"$id"') + ")\n"
        f"  if [ \"$id\" != {nid} ] || {{ [ -n \"$claim\" ] && [ \"$claim\" != {key} ]; }}; then\n"
        f"    echo \"refusing to remove {name}: the node at {host.advertise_address} is $id (host key "
        f"'$claim'), not {_dq(node_id)} that joined as {host.key}; it is in hosts under another name. "
        f"Drop this host's stale swarm-*-{host.key} resources with pulumi state delete (the node "
        "stays), then pulumi up\" >&2\n"
        "    exit 1\n"
        "  fi\n"
        "done\n"
        f"if ! docker node inspect {nid} >/dev/null 2>&1; then\n"
        f"  echo \"node {name} ({_dq(node_id)}) is no longer in the swarm; nothing to drain\" >&2; exit 0\n"
        "fi\n"
        f"role=$(docker node inspect --format '{{{{.Spec.Role}}}}' {nid})\n"
        f"node_state=$(docker node inspect --format '{{{{.Status.State}}}}' {nid})\n"
        'if [ "$role" = manager ]; then\n'
        "  managers=$(docker node ls --filter role=manager -q)\n"
        "  others=$(($(printf '%s\\n' \"$managers\" | grep -c .) - 1))\n"
        "  statuses=$(docker node ls --filter role=manager --format '{{.ID}} {{.ManagerStatus}}')\n"
        # Only a manager that answers counts (`Unreachable` is not `Reachable`).
        f"  reachable=$(printf '%s\\n' \"$statuses\" | grep -v \"^{_dq(node_id)} \" | grep -c -E ' (Leader|Reachable)$' || true)\n"
        # Raft: after the demotion the remaining managers need a majority that answers.
        '  if [ $((reachable * 2)) -le "$others" ]; then\n'
        f"    echo \"refusing to remove manager {name}: only $reachable of the $others other managers "
        "are reachable, so the swarm would lose quorum; bring them back (docker node ls), then pulumi "
        "up again\" >&2\n"
        "    exit 1\n"
        "  fi\n"
        "fi\n"
        f"docker node update --availability drain {nid} >/dev/null\n"
        # The tasks of a down node keep their last state (`Running`) for ever; swarm has already
        # placed them elsewhere. Its leave step cannot reach a host that is gone: say the way out.
        'if [ "$node_state" = down ]; then\n'
        f"  echo \"node {name} is down: not waiting for its tasks (swarm placed them elsewhere). If the "
        f"host is gone for good, its leave step cannot reach it over SSH; then drop that step from the "
        f"stack with pulumi state delete '{_dq(join_urn)}' (and pulumi state delete "
        f"'{_dq(node_urn)}' if it is still listed), then pulumi up again\" >&2\n"
        "else\n"
        + _wait_until_no_task_runs(nid, name, _dq(node_id), "  ") +
        "fi\n"
        'if [ "$role" = manager ]; then\n'
        "  i=0\n"
        f"  until docker node demote {nid} >/dev/null; do\n"
        "    i=$((i + 1)); if [ $i -gt 5 ]; then\n"
        f"      echo 'refusing to remove manager {name}: swarm refused to demote it (see above); fix the "
        "managers (docker node ls), then pulumi up again' >&2; exit 1\n"
        "    fi\n"
        "    sleep 3\n"
        "  done\n"
        "fi\n"
    )


def forget_script(host: SwarmHost) -> str:
    """Remove the record of a host that has left, found by address once swarm sees it down; a
    node there that carries another host's key is kept, one still up is refused."""
    addr = shlex.quote(host.advertise_address)
    attempts = NODE_DOWN_TIMEOUT_S // 2
    return (
        "ids=$(docker node ls -q)\n"
        "for id in $ids; do\n"
        + _ADDRESS_OF_LISTED_NODE +
        f"  [ \"$a\" = {addr} ] || continue\n"
        "  claim=$(" + _label(HOST_KEY_LABEL, '"$id"') + ")\n"
        f"  if [ -n \"$claim\" ] && [ \"$claim\" != {shlex.quote(host.key)} ]; then\n"
        f"    echo \"keeping node $id at {host.advertise_address}: it is in hosts as $claim\" >&2; continue\n"
        "  fi\n"
        "  i=0\n"
        "  while [ \"$(docker node inspect --format '{{.Status.State}}' \"$id\")\" != down ] "
        f"&& [ $i -lt {attempts} ]; do sleep 2; i=$((i + 1)); done\n"
        "  if [ \"$(docker node inspect --format '{{.Status.State}}' \"$id\")\" != down ]; then\n"
        f"    echo \"refusing to remove the record of node $id at {host.advertise_address}: it is not down "
        f"{NODE_DOWN_TIMEOUT_S} s after leaving; see docker node ls, then pulumi up again\" >&2; exit 1\n"
        "  fi\n"
        "  docker node rm --force \"$id\" >&2\n"
        "done\n"
    )


class SwarmCluster(pulumi.ComponentResource):
    """Initialises a swarm on the first manager and joins every other host with its role's token."""

    manager_address: pulumi.Output[str]
    node_ids: pulumi.Output[dict]
    hosts: pulumi.Output[dict]
    leader_key: pulumi.Output[str]
    drained_hostnames: pulumi.Output[list]
    manager_join_token: pulumi.Output[str]
    worker_join_token: pulumi.Output[str]
    provider: docker.Provider

    def __init__(self, name: str, args: SwarmClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("galera-swarm:index:SwarmCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        leader = leader_of(args.hosts)

        def conn(host: SwarmHost) -> command.remote.ConnectionArgs:
            return remote.connection(host.address, args.ssh.user, args.ssh.port, args.private_key,
                                     None if args.ssh.ignore_host_key else host.host_key)

        leader_conn = conn(leader)
        init = remote.run(f"{name}-init-{leader.key}", leader_conn, init_script(leader), child,
                          delete=leave_script(leader))
        leader_id = init.stdout.apply(lambda out: node_id_from(out, leader, "docker swarm init"))

        def token(role: str) -> pulumi.Output[str]:
            cmd = remote.run(f"{name}-{role}-token", leader_conn,
                             f"docker swarm join-token -q {role}\n",
                             pulumi.ResourceOptions(parent=self, depends_on=[init]),
                             triggers=[leader_id], secret_stdout=True)
            return pulumi.Output.secret(cmd.stdout.apply(lambda out: join_token_from(out, role, leader)))

        self.manager_join_token = token("manager")
        self.worker_join_token = token("worker")

        # Hosts that leave are drained first, one at a time, before the provider is used.
        settled: list[pulumi.Resource] = []
        drained: list[pulumi.Output[list[str]]] = []
        for host in args.leaving:
            drain = remote.run(f"{name}-drain-{host.key}", leader_conn, drain_script(host),
                               pulumi.ResourceOptions(parent=self, depends_on=settled[-1:] or [init]))
            drained.append(drain.stdout.apply(lambda out, h=host: hostnames_from(out, h)))
            settled.append(drain)
        node_ids: dict[str, pulumi.Output[str]] = {}
        for host in args.hosts:
            if host == leader:
                node_id = leader_id
                after: list[pulumi.Resource] = [init]
            else:
                # Deleted last (after the join), so it removes the record of a node that has left.
                forget = remote.run(f"{name}-forget-{host.key}", leader_conn, "true\n",
                                    pulumi.ResourceOptions(parent=self, depends_on=[init]),
                                    delete=forget_script(host))
                join = remote.run(
                    f"{name}-join-{host.key}", conn(host), join_script(host, leader),
                    pulumi.ResourceOptions(parent=self, depends_on=[forget]),
                    delete=node_leave_script(host),
                    stdin=self.manager_join_token if is_manager(host) else self.worker_join_token)
                node_id = join.stdout.apply(lambda out, h=host: node_id_from(out, h, "docker swarm join"))
                after = [join]
            # Deleted first: for a joined host its delete is the removal gate (check, drain, demote).
            settings = remote.run(
                f"{name}-node-{host.key}", leader_conn,
                node_id.apply(lambda nid, h=host: node_settings_script(h, nid)),
                pulumi.ResourceOptions(parent=self, depends_on=after),
                delete=None if host == leader else pulumi.Output.all(node_id, join.urn).apply(
                    lambda args, h=host: removal_gate_script(
                        h, args[0], join_urn=args[1],
                        node_urn=args[1].replace(f"::{name}-join-{h.key}", f"::{name}-node-{h.key}"))))
            node_ids[host.name] = settings.stdout.apply(
                lambda out, h=host: node_id_from(out, h, "the node settings on the leader"))
            settled.append(settings)

        # Without a key file the provider logs in through the agent at SSH_AUTH_SOCK.
        key_opts = ["-i", args.ssh.private_key_path] if args.ssh.private_key_path else []
        if args.ssh.ignore_host_key:
            key_opts += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                         "-o", "LogLevel=ERROR"]
        elif args.ssh.known_hosts_path:
            key_opts += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={args.ssh.known_hosts_path}"]
        # Bound to the leader; created only once every node has joined, so services that use it
        # are scheduled on the whole swarm.
        self.provider = docker.Provider(
            f"{name}-docker",
            host=f"ssh://{args.ssh.user}@{host_port(leader.address, args.ssh.port)}",
            ssh_opts=key_opts,
            opts=pulumi.ResourceOptions(parent=self, depends_on=settled),
        )
        self.manager_address = pulumi.Output.from_input(leader.address)
        self.node_ids = pulumi.Output.all(**node_ids)
        # What the next deployment finds each host's key by (galera_swarm/lifecycle.py).
        self.hosts = pulumi.Output.from_input({
            h.key: {"name": h.name, "address": h.address, "advertise_address": h.advertise_address,
                    "role": h.role} for h in args.hosts})
        self.leader_key = pulumi.Output.from_input(leader.key)
        # The host names of the nodes drained for `leaving` (their Galera nodes' names follow).
        self.drained_hostnames = pulumi.Output.all(*drained).apply(
            lambda lists: [n for names in lists for n in names])
        # Not an output (it holds the key): what other components use to ask the leader things.
        self.leader_connection = leader_conn
        self.register_outputs({
            "manager_address": self.manager_address,
            "node_ids": self.node_ids,
            "hosts": self.hosts,
            "leader_key": self.leader_key,
            "drained_hostnames": self.drained_hostnames,
            "manager_join_token": self.manager_join_token,
            "worker_join_token": self.worker_join_token,
        })
