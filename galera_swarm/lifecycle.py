"""Host identity across deployments: which swarm resources each configured host keeps, and which
changes of `hosts` are refused before anything runs.

A host's swarm resources (`swarm-join-<key>`, `swarm-node-<key>`, ...) are named after its
*key*: the name the host had when it first joined. The last deployment's `hosts` output records
every key with its addresses; a host found there by address keeps its key under a new name and
in any position, so a rename or a reorder changes no resource name and Pulumi deletes nothing
(a delete of a host's resources drains the node and makes it leave the swarm). Stacks made
before keys existed named the resources after the host names, which are their keys, so they
keep every resource without an alias.

Refused at preview, each with its fix (`galera-swarm:<key>: what is wrong; the fix`):
- a change of the host that initialised the swarm (the leader): moved from the first manager's
  place, made a worker or removed. The docker provider and every join connect there, and its
  `init` resource's delete dissolves the swarm.
- a host that keeps its name but moves to another address: a swarm node keeps the address it
  joined with, so the old node would never leave and a new one would join under the same key.
- a new host under the key of another one (a name taken by a renamed host).
- on a stack whose last deployment has no `hosts` output (made by an older version), any host
  leaving `nodes`: that version's delete runs `docker swarm leave --force` unchecked.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Protocol, Sequence

import pulumi
import tenacity

from galera_swarm import placement
from galera_swarm.settings import NAMESPACE, ConfigError

# The builtin provider's invoke that returns a stack's outputs; asked for this stack itself it
# returns the outputs of the last deployment ({} for a new stack), at preview too, without a
# resource in the state (unlike a pulumi.StackReference).
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
# What the file backend's invoke answers when it read the checkpoint while the engine was saving
# it: the engine saves one as the run starts, and gocloud's fileblob rewrites the checkpoint's
# `.attrs` sidecar in place (os.Create, then the JSON), so a read in between decodes an empty
# file ("failed to load checkpoint: EOF"). The checkpoint itself is replaced atomically: the
# next read finds both whole.
CHECKPOINT_READ_RACE = "failed to load checkpoint: EOF"
CHECKPOINT_READ_ATTEMPTS = 5
CHECKPOINT_READ_WAIT_S = 0.2
# The outputs this module reads back (__main__.py exports them).
HOSTS_OUTPUT = "hosts"
LEADER_OUTPUT = "leader_host"
ETCD_HOSTS_OUTPUT = "etcd_hosts"
NODES_OUTPUT = "nodes"
MANAGER_ADDRESS_OUTPUT = "manager_address"
# Exported when the cluster runs with TLS (ClusterCertificates' expiry dates; no secret).
TLS_EXPIRY_OUTPUT = "tls_expiry"


class KeyedHost(Protocol):
    name: str
    address: str
    advertise_address: str
    role: str


@dataclass(frozen=True)
class KnownHost:
    """A host as the last deployment recorded it under `key`."""
    key: str
    name: str
    address: str
    advertise_address: str
    role: str


@dataclass(frozen=True)
class PreviousDeployment:
    """What the last deployment says about the hosts. `hosts` empty and `legacy_names` empty: a
    new stack. `legacy_names` (from `nodes`) and `legacy_leader_address` (`manager_address`):
    a stack made before the `hosts` output, whose keys are the host names."""
    hosts: tuple[KnownHost, ...] = ()
    leader: Optional[str] = None
    legacy_names: tuple[str, ...] = ()
    legacy_leader_address: Optional[str] = None
    # etcd member name -> the key of the host it ran on.
    etcd_hosts: Mapping[str, str] = field(default_factory=dict)
    # The cluster ran with TLS (the TLS_EXPIRY_OUTPUT output).
    tls: bool = False

    @property
    def existed(self) -> bool:
        """A deployment is recorded (not a new stack, nor one after `destroy`)."""
        return bool(self.hosts or self.legacy_names)

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> "PreviousDeployment":
        """From a stack's outputs (name -> value, as `pulumi stack output --json` shows them)."""
        recorded = outputs.get(HOSTS_OUTPUT)
        if isinstance(recorded, Mapping) and recorded:
            return cls(hosts=tuple(
                KnownHost(key=key, name=str(h.get("name", key)), address=str(h.get("address", "")),
                          advertise_address=str(h.get("advertise_address", h.get("address", ""))),
                          role=str(h.get("role", "manager")))
                for key, h in recorded.items() if isinstance(h, Mapping)),
                leader=outputs.get(LEADER_OUTPUT),
                etcd_hosts=dict(outputs.get(ETCD_HOSTS_OUTPUT) or {}), tls=TLS_EXPIRY_OUTPUT in outputs)
        nodes = outputs.get(NODES_OUTPUT)
        if isinstance(nodes, Mapping) and nodes:
            return cls(legacy_names=tuple(nodes), legacy_leader_address=outputs.get(MANAGER_ADDRESS_OUTPUT),
                       tls=TLS_EXPIRY_OUTPUT in outputs)
        return cls()


def read_previous_deployment() -> PreviousDeployment:
    """The last deployment of the running stack, read through the engine (READ_STACK_OUTPUTS).
    Only the outputs about hosts are kept: the others hold secrets (join tokens)."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    outputs = _read_stack_outputs(name)
    wanted = (HOSTS_OUTPUT, LEADER_OUTPUT, ETCD_HOSTS_OUTPUT, NODES_OUTPUT, MANAGER_ADDRESS_OUTPUT, TLS_EXPIRY_OUTPUT)
    return PreviousDeployment.from_outputs({k: outputs[k] for k in wanted if k in outputs})


@tenacity.retry(retry=tenacity.retry_if_exception(lambda e: CHECKPOINT_READ_RACE in str(e)),
                stop=tenacity.stop_after_attempt(CHECKPOINT_READ_ATTEMPTS),
                wait=tenacity.wait_fixed(CHECKPOINT_READ_WAIT_S), reraise=True)
def _read_stack_outputs(name: str) -> dict[str, Any]:
    """The outputs (name -> value) of stack `name`'s last deployment through READ_STACK_OUTPUTS;
    a read that met the engine saving the checkpoint (CHECKPOINT_READ_RACE) is tried again, up
    to CHECKPOINT_READ_ATTEMPTS times, CHECKPOINT_READ_WAIT_S apart. Raises the invoke's
    Exception when it fails otherwise, or every time."""
    result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": name})
    return (result.value or {}).get("outputs") or {}


def tls_change(enabled: bool, chosen: bool, previous: PreviousDeployment) -> tuple[Optional[str], Optional[str]]:
    """(problem, warning) of `tls.enabled` = `enabled` (`chosen`: set in config, not the
    default) against the last deployment. Galera nodes with and without TLS cannot talk, so a
    switch either way is no rolling change: each restarted node finds no peer it can talk to,
    the update fails and swarm rolls it back (README: TLS inside the cluster). The default
    turning TLS on for a cluster that runs without it is a problem (the stack predates TLS:
    the operator chooses); a switch set in config is a warning. (None, None): no switch."""
    if not previous.existed or previous.tls == enabled:
        return None, None
    if enabled and not chosen:
        return (f"{NAMESPACE}:tls.enabled: this stack's Galera cluster runs without TLS, and turning TLS on "
                "is no rolling change (README: TLS inside the cluster); choose: `pulumi config set --path "
                f"{NAMESPACE}:tls.enabled false` keeps the cluster as it is, `true` turns TLS on"), None
    now, before = ("on", "off") if enabled else ("off", "on")
    return None, (f"{NAMESPACE}:tls.enabled turns TLS {now} for a cluster that runs with it {before}: no rolling "
                  "change; the nodes need to restart all at once (README: TLS inside the cluster)")


def same_address(a: str, b: str) -> bool:
    """Whether two configured addresses name the same thing: IP literals compared as addresses
    (2001:db8::2 is 2001:0db8:0:0::2), DNS names without case."""
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a.lower() == b.lower()


@dataclass
class HostPlan:
    """`keys[i]` is the key of `hosts[i]`; `problems` the refusals, in our error form."""
    keys: list[str]
    problems: list[str] = field(default_factory=list)


def _known_at(host: KeyedHost, previous: PreviousDeployment) -> Optional[KnownHost]:
    for known in previous.hosts:
        if any(same_address(mine, theirs) for mine in (host.address, host.advertise_address)
               for theirs in (known.address, known.advertise_address)):
            return known
    return None


def plan_hosts(hosts: Sequence[KeyedHost], previous: PreviousDeployment) -> HostPlan:
    """Each configured host's key, and every change of `hosts` that is refused (see the module
    docstring). A host keeps the key of the recorded host at its address (configured or
    advertised); any other host's key is its name."""
    plan = HostPlan(keys=[])
    problems = plan.problems
    known_by_key = {k.key: k for k in previous.hosts}
    owner: dict[str, int] = {}
    for i, host in enumerate(hosts):
        known = _known_at(host, previous)
        key = known.key if known else host.name
        if known is None and key in known_by_key:
            was = known_by_key[key]
            problems.append(
                f"{NAMESPACE}:hosts[{i}].address: {host.name} was at {was.address} in the last "
                f"deployment and is now at {host.address}; a swarm node keeps the address it joined "
                f"with: remove {host.name} from hosts and `pulumi up` (its node is drained and "
                f"leaves), then add it at {host.address} in the next `up`, or give the new host "
                "another name")
        elif key in owner:
            j = owner[key]
            problems.append(
                f"{NAMESPACE}:hosts[{i}].name: {host.name!r} is the key of hosts[{j}] ({hosts[j].name}, "
                f"{hosts[j].address}), which joined under that name; give this host another name")
        owner.setdefault(key, i)
        plan.keys.append(key)
    problems += _leader_problems(hosts, plan.keys, previous)
    problems += _legacy_problems(hosts, previous)
    return plan


def _leader_problems(hosts: Sequence[KeyedHost], keys: Sequence[str],
                     previous: PreviousDeployment) -> list[str]:
    leader_key = previous.leader
    if leader_key is None and previous.legacy_leader_address is not None:
        leader_key = next((h.name for h in hosts if same_address(h.address, previous.legacy_leader_address)), "")
    if leader_key is None or not hosts or not any(placement.is_manager(h) for h in hosts):
        return []
    first = placement.leader_of(hosts)
    if keys[list(hosts).index(first)] == leader_key:
        return []
    known = {k.key: k for k in previous.hosts}.get(leader_key)
    where = (f"{known.name} ({known.address})" if known else
             f"{leader_key or 'the host'} ({previous.legacy_leader_address})")
    fix_first = (f"list it first among the managers again (the order of the others is free); "
                 "the first manager is where the docker provider and every join connect, and its "
                 "`init` step's delete dissolves the swarm")
    if leader_key not in keys:
        return [f"{NAMESPACE}:hosts: the host that initialised the swarm, {where}, is missing; put it "
                f"back and {fix_first}. `up` cannot hand the swarm to another host; to stop running "
                "tasks on it, set its `availability: drain`"]
    i = list(keys).index(leader_key)
    if not placement.is_manager(hosts[i]):
        return [f"{NAMESPACE}:hosts[{i}].role: {hosts[i].name} initialised the swarm, so it must stay "
                f"a manager; set `role: manager` and {fix_first}"]
    return [f"{NAMESPACE}:hosts: {first.name} is now the first manager, but the swarm was initialised "
            f"on {hosts[i].name} (hosts[{i}]); {fix_first}"]


def _legacy_problems(hosts: Sequence[KeyedHost], previous: PreviousDeployment) -> list[str]:
    names = {h.name for h in hosts}
    gone = sorted(n for n in previous.legacy_names if n not in names)
    if not gone:
        return []
    return [f"{NAMESPACE}:hosts: {', '.join(gone)} left hosts, but the last deployment was made by a "
            "version whose delete step runs `docker swarm leave --force` unchecked (no `hosts` "
            "output in the stack); run `pulumi up` once with the hosts as they were "
            f"({', '.join(sorted(previous.legacy_names))}), then rename or remove hosts"]


def host_keys(hosts: Sequence[KeyedHost], previous: PreviousDeployment) -> list[str]:
    """The keys of plan_hosts; raises ConfigError with every refusal."""
    plan = plan_hosts(hosts, previous)
    if plan.problems:
        raise ConfigError(plan.problems)
    return plan.keys


def leaving_hosts(keys: Sequence[str], previous: PreviousDeployment) -> list[KnownHost]:
    """The hosts of the last deployment whose key is not among `keys` (those of host_keys),
    sorted by key (the engine hands the recorded hosts back in no fixed order, and the order is
    the order they are drained in): their nodes leave in this `up`. The leader is never one
    (plan_hosts refuses its removal)."""
    kept = set(keys)
    return sorted((known for known in previous.hosts if known.key not in kept and known.key != previous.leader),
                  key=lambda known: known.key)


def kept_etcd_hosts(members: Sequence[str], previous: PreviousDeployment, hosts: Sequence[KeyedHost],
                    keys: Sequence[str]) -> list[Optional[str]]:
    """Per etcd member, the name (now) of the host it ran on in the last deployment, or None:
    the `keep` of placement.etcd_member_hosts, so a rename or reorder moves no member."""
    name_of = {key: host.name for key, host in zip(keys, hosts)}
    return [name_of.get(previous.etcd_hosts.get(member, "")) for member in members]
