"""Galera image: discovery through etcd, one bootstrap, replication, a killed bootstrap node."""

from __future__ import annotations

import time

from components.galera_service import ROOT_PASSWORD_FILE
from tests.images.docker_helpers import container_ip, docker, etcdctl, wait_until


def test_three_nodes_started_at_once_form_one_cluster_with_exactly_one_bootstrap_decision(cluster):
    uuids = set()
    for node in cluster.nodes:
        st = cluster.status(node)
        assert st["wsrep_local_state_comment"] == "Synced"
        assert st["wsrep_cluster_status"] == "Primary"
        assert st["wsrep_cluster_size"] == "3"
        uuids.add(st["wsrep_cluster_state_uuid"])
    assert len(uuids) == 1

    bootstraps = cluster.bootstrap_nodes()
    assert len(bootstraps) == 1, bootstraps
    [(bootstrapper, lines)] = bootstraps.items()
    assert len(lines) == 1 and "decision: bootstrap a NEW cluster" in lines[0]
    for node in cluster.nodes:
        if node != bootstrapper:
            [decision] = cluster.decisions(node)
            assert "decision: join the running cluster" in decision

    # The second node got its passwords as files (*_FILE, like docker secrets) and took part.
    env = docker("inspect", "-f", "{{json .Config.Env}}", cluster.nodes[1]).stdout
    assert f"MYSQL_ROOT_PASSWORD_FILE=/run/secrets/{ROOT_PASSWORD_FILE}" in env
    assert "MYSQL_ROOT_PASSWORD=" not in env

    # etcd holds what the other nodes need: members, the cluster uuid, live registrations.
    # A node publishes its state every 2 s, so its registration may trail mariadbd briefly.
    def registrations():
        out = etcdctl(cluster.etcd, "get", "--prefix", "/galera/gsimg/").stdout.split("\n")
        kv = dict(zip(out[0::2], out[1::2]))
        states = [kv.get(f"/galera/gsimg/nodes/{node}", "- -").split()[1] for node in cluster.nodes]
        members = [f"/galera/gsimg/members/{node}" in kv for node in cluster.nodes]
        return kv if states == ["synced"] * len(cluster.nodes) and all(members) else None

    kv = wait_until("every node registered as synced and recorded as a member", registrations, timeout=30)
    assert kv["/galera/gsimg/uuid"] == uuids.pop()
    assert kv["/galera/gsimg/bootstrap"] == bootstrapper
    for node in cluster.nodes:
        address, state, *_ = kv[f"/galera/gsimg/nodes/{node}"].split()
        assert state == "synced"
        assert address == container_ip(node, cluster.network)
        assert f"/galera/gsimg/members/{node}" in kv


def test_rows_written_on_one_node_are_read_on_every_other_node(cluster):
    writer, *readers = cluster.nodes
    cluster.sql(writer, "CREATE DATABASE IF NOT EXISTS t2; "
                        "CREATE TABLE t2.rows_2 (id INT PRIMARY KEY, payload VARCHAR(40))")
    values = ",".join(f"({i}, 'row-{i}')" for i in range(1, 501))
    cluster.sql(writer, f"INSERT INTO t2.rows_2 VALUES {values}")
    for reader in readers:
        assert cluster.sql(reader, "SELECT COUNT(*), SUM(id), MAX(payload) FROM t2.rows_2") == "500\t125250\trow-99"


def test_killed_bootstrap_node_restarts_and_rejoins_the_same_cluster(cluster):
    [bootstrapper] = cluster.bootstrap_nodes()
    others = [n for n in cluster.nodes if n != bootstrapper]
    uuid_before = cluster.status(others[0])["wsrep_cluster_state_uuid"]

    docker("kill", "-s", "KILL", bootstrapper)
    cluster.wait_all_synced(timeout=60, nodes=others)
    # Written while it is down: it must catch up (IST) when it is back.
    cluster.sql(others[0], "CREATE DATABASE IF NOT EXISTS t3; "
                           "CREATE TABLE t3.while_down (id INT PRIMARY KEY); INSERT INTO t3.while_down VALUES (7)")

    restart_at = str(int(time.time()))
    cluster.start(bootstrapper)
    cluster.wait_all_synced(timeout=120)

    decisions = cluster.decisions(bootstrapper, since=restart_at)
    assert len(decisions) == 1 and "decision: join the running cluster" in decisions[0], decisions
    assert cluster.bootstrap_nodes(since=restart_at) == {}
    uuids = {cluster.status(n)["wsrep_cluster_state_uuid"] for n in cluster.nodes}
    assert uuids == {uuid_before}
    assert cluster.sql(bootstrapper, "SELECT id FROM t3.while_down") == "7"
    wait_until("the health endpoint of the rejoined node to say Synced",
               lambda: "Synced" in docker("exec", bootstrapper, "galera-health", check=False).stdout, 20)
