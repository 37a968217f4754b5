"""Placement rules as tables: hosts in, which host does what out."""

from __future__ import annotations

import pytest

from galera_swarm import placement
from galera_swarm.settings import Host


def hosts(spec: str) -> list[Host]:
    """'a b:w c:d e:p' -> hosts a (manager), b (worker), c (drained manager), e (paused manager);
    '=k' suffixes add the label db=k (e.g. 'a=true')."""
    out = []
    for i, item in enumerate(spec.split()):
        item, _, db = item.partition("=")
        name, _, flags = item.partition(":")
        out.append(Host(name=name, address=f"192.0.2.{i + 1}", role="worker" if "w" in flags else "manager",
                        availability="drain" if "d" in flags else "pause" if "p" in flags else "active",
                        labels={"db": db} if db else {}))
    return out


@pytest.mark.parametrize("spec,leader", [
    ("a b c", "a"),
    ("w:w a b", "a"),
    ("d:d a", "d"),  # a drained manager still initialises the swarm: draining moves tasks only
])
def test_leader_is_the_first_manager_listed(spec, leader):
    assert placement.leader_of(hosts(spec)).name == leader


@pytest.mark.parametrize("spec,replicas,members", [
    ("a b c", 1, ["a"]),
    ("a b c", 3, ["a", "b", "c"]),
    ("a b c", 5, ["a", "b", "c", "a", "b"]),
    ("a w:w d:d b", 3, ["a", "b", "a"]),
    ("a p:p b", 3, ["a", "b", "a"]),
    ("w:w v:w", 3, ["w", "v", "w"]),  # no active manager: every host, in order
])
def test_etcd_members_go_to_active_managers_round_robin(spec, replicas, members):
    assert placement.etcd_member_hosts(hosts(spec), replicas) == members


@pytest.mark.parametrize("spec,replicas,keep,members", [
    ("a c b", 3, ["a", "b", "c"], ["a", "b", "c"]),  # reordered: every member stays
    ("a b c d e", 3, ["a", "b", "c"], ["a", "b", "c"]),  # hosts added: none moves
    ("a b", 3, ["a", "b", "c"], ["a", "b", "a"]),  # c gone: its member to the least loaded
    ("a b c:d", 3, ["a", "b", "c"], ["a", "b", "a"]),  # c drained: the same
    ("a b c", 3, [None, None, None], ["a", "b", "c"]),  # nothing recorded: round robin
    ("a b c", 3, ["x", "c", None], ["a", "c", "b"]),  # unknown host ignored, the rest filled
])
def test_etcd_members_stay_where_they_ran(spec, replicas, keep, members):
    assert placement.etcd_member_hosts(hosts(spec), replicas, keep) == members


@pytest.mark.parametrize("constraints,eligible", [
    ([], ["a", "b", "w"]),
    (["node.labels.db == true"], ["a", "w"]),
    (["node.labels.db != true"], ["b"]),
    (["node.role == manager"], ["a", "b"]),
    (["node.role != manager", "node.labels.db == true"], ["w"]),
    (["node.hostname == b"], ["b"]),
    (["node.platform.os == linux"], ["a", "b", "w"]),  # not decided by config: swarm judges it
])
def test_galera_hosts_are_active_and_allowed_by_the_constraints(constraints, eligible):
    assert placement.galera_hosts(hosts("a=true b w:w=true d:d=true"), constraints) == eligible


@pytest.mark.parametrize("spec,active", [
    ("a b c", ["a", "b", "c"]),
    ("a d:d p:p w:w", ["a", "w"]),
])
def test_host_mode_ports_have_the_active_hosts(spec, active):
    assert placement.active_hosts(hosts(spec)) == active
