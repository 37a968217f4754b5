"""Placement: which host does what, decided from the configured hosts alone.

Pure functions over hosts (anything with `name`, `role`, `availability` and `labels`, such as
`galera_swarm.settings.Host`), so the rules are table-tested without Pulumi. The stack's
validation (settings.py) and its wiring (__main__.py) both ask here; nothing else decides
placement.
"""

from __future__ import annotations

import re
from typing import Mapping, Optional, Protocol, Sequence


class PlacedHost(Protocol):
    name: str
    role: str
    availability: str
    labels: Mapping[str, str]


def is_manager(host: PlacedHost) -> bool:
    return host.role == "manager"


def is_active(host: PlacedHost) -> bool:
    """Whether swarm schedules new tasks on the host (`pause` and `drain` do not)."""
    return host.availability == "active"


def leader_of(hosts: Sequence[PlacedHost]) -> PlacedHost:
    """The host that initialises the swarm: the first manager listed.

    Raises StopIteration when there is none (validation refuses such a config first)."""
    return next(h for h in hosts if is_manager(h))


def etcd_member_hosts(hosts: Sequence[PlacedHost], replicas: int,
                      keep: Sequence[Optional[str]] = ()) -> list[str]:
    """The name of the host each etcd member runs on, member 1 first.

    Candidates are the active managers in the order listed (all hosts when no manager is
    active). `keep[i]` (a host name, or None) is where member i+1 ran in the last deployment:
    it stays there while that host is a candidate, whatever the hosts' order. Every other
    member goes to the candidate with the fewest members, the first listed on a tie; with
    nothing to keep that is round robin over the candidates, the leader (first manager) first.

    A member stays on its host because its data is a local volume there; moved elsewhere it
    would start empty and forget the cluster."""
    candidates = [h.name for h in hosts if is_manager(h) and is_active(h)] or [h.name for h in hosts]
    chosen: list[Optional[str]] = [
        keep[i] if i < len(keep) and keep[i] in candidates else None for i in range(replicas)]
    for i in range(replicas):
        if chosen[i] is None:
            chosen[i] = min(candidates, key=lambda name: (chosen.count(name), candidates.index(name)))
    return [name for name in chosen if name is not None]


# The constraints whose outcome config alone decides; swarm's full grammar has more
# (node.id, node.platform.*, engine.labels.*), which pass here and are judged by swarm.
_CONSTRAINT = re.compile(r"^\s*node\.(labels\.[\w.-]+|hostname|role)\s*(==|!=)\s*(\S+)\s*$")


def allowed_by(host: PlacedHost, constraints: Sequence[str]) -> bool:
    """Whether swarm may place a task on `host` under `constraints` (swarm's `node.labels.K`,
    `node.hostname`, `node.role` with `==`/`!=`); constraints on other attributes pass."""
    for constraint in constraints:
        m = _CONSTRAINT.match(constraint)
        if not m:
            continue
        attr, op, expected = m.groups()
        if attr.startswith("labels."):
            actual = host.labels.get(attr[len("labels."):])
        else:
            actual = host.name if attr == "hostname" else host.role
        if (actual == expected) != (op == "=="):
            return False
    return True


def galera_hosts(hosts: Sequence[PlacedHost], constraints: Sequence[str]) -> list[str]:
    """Names of the hosts a Galera node may run on: active and allowed by `constraints`.
    Galera runs at most one node per host (each beside its own data volume)."""
    return [h.name for h in hosts if is_active(h) and allowed_by(h, constraints)]


def active_hosts(hosts: Sequence[PlacedHost]) -> list[str]:
    """Names of the hosts that take new tasks: where host-mode ports can be bound, one per host."""
    return [h.name for h in hosts if is_active(h)]


def one_per_active_host(hosts: Sequence[PlacedHost]) -> int:
    """The default task count of the load balancer and WordPress: one per active host (at
    least one), so with host-mode ports every host answers on their ports, as in the seed
    recipe; with at most one task per host, a task whose host is lost waits for it instead of
    moving, so the hosts that answer stay the same."""
    return max(1, len(active_hosts(hosts)))
