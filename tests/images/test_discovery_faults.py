"""etcd faults never make a second cluster: a node restarting while etcd is wiped or stopped
rejoins the running cluster; a failed etcd read is retried, never taken for "nothing there"."""

from __future__ import annotations

import time

from tests.images.docker_helpers import docker, run_beside_etcd, wait_until

UUID = "3b0e7c1e-0000-11ef-9a6f-0242ac120002"


def assert_one_cluster(cluster, uuid: str, node: str, since: str) -> None:
    for n in cluster.nodes:
        st = cluster.status(n)
        assert (st["wsrep_cluster_state_uuid"], st["wsrep_cluster_size"]) == (uuid, "3"), (n, st)
    assert cluster.bootstrap_nodes(since=since) == {}
    decisions = cluster.decisions(node, since=since)
    assert len(decisions) == 1 and "decision: join the running cluster" in decisions[0], decisions
    assert cluster.sql(node, "SELECT COUNT(*) FROM faults.t") == "2"


def started_cluster(cluster_factory, name):
    cluster = cluster_factory(name)
    cluster.start(*cluster.nodes)
    cluster.wait_all_synced(timeout=240)
    cluster.sql(cluster.nodes[0], "CREATE DATABASE faults; CREATE TABLE faults.t (id INT PRIMARY KEY); "
                                  "INSERT INTO faults.t VALUES (1), (2)")
    return cluster, cluster.status(cluster.nodes[0])["wsrep_cluster_state_uuid"]


def test_a_node_restarting_while_etcd_is_wiped_rejoins_the_running_cluster(cluster_factory):
    cluster, uuid = started_cluster(cluster_factory, "wipe")
    node = cluster.nodes[2]
    docker("stop", "-t", "60", node, timeout=120)
    since = str(int(time.time()))
    cluster.wipe_etcd()
    cluster.start(node)
    cluster.wait_all_synced(timeout=240)
    assert_one_cluster(cluster, uuid, node, since)
    wait_until("etcd to hold the cluster uuid again", lambda: cluster.etcd_get("uuid") == uuid, 30)


def test_a_node_restarting_while_etcd_is_stopped_rejoins_the_running_cluster(cluster_factory):
    cluster, uuid = started_cluster(cluster_factory, "stop")
    node = cluster.nodes[2]
    docker("stop", "-t", "60", node, timeout=120)
    since = str(int(time.time()))
    docker("stop", cluster.etcd)
    cluster.start(node)
    wait_until(f"{node} to wait for etcd", lambda: any(
        "waiting up to 30s for etcd" in l for l in cluster.entrypoint_lines(node, since=since)), 30)
    time.sleep(10)
    docker("start", cluster.etcd)
    cluster.wait_all_synced(timeout=240)
    assert_one_cluster(cluster, uuid, node, since)
    # The nodes that kept running register again: etcd forgot their logins' tokens when it
    # stopped, and a node that kept its old token was refused for good (seen on the lab).
    for running in cluster.nodes[:2]:
        wait_until(f"{running} registered again", lambda n=running: cluster.etcd_get(f"nodes/{n}") != "", 60)


def decide_beside_etcd(images, network, name, setup: str, during: str = "", seconds: int = 20) -> str:
    """Run `galera-agent run` for `seconds` as node g3 (10.9.9.3) of cluster t, holding data of UUID at
    seqno 42, beside a real etcd (127.0.0.1:2379) after `setup` set the scene (it may change
    DISCOVERY_SERVICE and PEERS_DNS) and while `during` runs: its log, DECIDED when it logged a
    decision, rc=124 when still deciding, then the data directory listing."""
    script = f"""
set -u
export ETCDCTL_API=3 DISCOVERY_SERVICE=127.0.0.1:2379 PEERS_DNS=
mkdir -p /var/lib/mysql/mysql
printf '%s\\n' 'version: 2.1' 'uuid: {UUID}' 'seqno: 42' 'safe_to_bootstrap: 0' >/var/lib/mysql/grastate.dat
{setup}
NODE_NAME=g3 NODE_ADDRESS=10.9.9.3 CLUSTER_NAME=t RECOVERY_WAIT_TIMEOUT=3 MYSQL_ROOT_PASSWORD=x \\
  timeout {seconds} galera-agent run >/tmp/agent.log 2>&1 &
agent=$!
{during}
wait $agent; rc=$?
cat /tmp/agent.log
if grep -q 'decision:' /tmp/agent.log; then echo "DECIDED"; fi
echo "rc=$rc"
ls /var/lib/mysql
"""
    return run_beside_etcd(images, network, name, script)


def test_failed_etcd_reads_are_retried_never_taken_for_an_empty_etcd(images, network, run_prefix):
    # etcd answers while the node registers and waits for g1's bootstrap, then stops answering
    # (its connection cut, a listener that never replies): every read fails (timeout). A read
    # that fails is never taken for an empty etcd (the agent's unit tests also have reads that
    # fail while a bootstrap transaction would succeed).
    setup = ("etcdctl --endpoints=127.0.0.1:2379 put /galera/t/bootstrap g1 >/dev/null; "
             "socat TCP-LISTEN:23790,fork,reuseaddr TCP:127.0.0.1:2379 & proxy=$!; "
             "export DISCOVERY_SERVICE=127.0.0.1:23790")
    during = ("until grep -q 'node g1 is bootstrapping' /tmp/agent.log; do sleep 0.2; done; "
              # The proxy stops first, so that it forks no new connection (the agent redials at
              # once) between the killing of its children and its own end.
              "kill -STOP $proxy; pkill -P $proxy; kill -KILL $proxy; "
              "socat TCP-LISTEN:23790,fork,reuseaddr SYSTEM:'sleep 60' &")
    # A failed read is seen after the read's own timeout and a fresh login's (5 s + 2 s, more on a
    # loaded machine): 30 s leave room for it.
    out = decide_beside_etcd(images, network, f"{run_prefix}-flap", setup, during, seconds=30)
    assert "DECIDED" not in out, out
    assert "rc=124" in out, out
    assert "etcd read failed" in out, out


def test_a_node_with_data_never_starts_a_new_cluster_because_etcd_forgot_it(images, network, run_prefix):
    # etcd answers but was wiped: it holds only this node's own registration, no cluster uuid,
    # no members; the running nodes have not registered again (yet).
    # A peer answers on the Galera port: it is found through PEERS_DNS even though etcd forgot it.
    setup = ("ip addr add 10.9.9.1/32 dev lo; "
             "socat TCP-LISTEN:4567,bind=10.9.9.1,fork,reuseaddr SYSTEM:true & "
             "echo '10.9.9.1 peers.example' >>/etc/hosts; export PEERS_DNS=peers.example")
    out = decide_beside_etcd(images, network, f"{run_prefix}-forgot", setup)
    assert "bootstrap a NEW cluster" not in out, out
    assert "DECIDED" not in out and "rc=124" in out, out
    assert "10.9.9.1 answers on port 4567" in out, out
    assert "mysql" in out.split("rc=")[1], out  # the data directory is intact
