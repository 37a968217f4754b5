"""etcd faults never make a second cluster: a node restarting while etcd is wiped or stopped
rejoins the running cluster; a failed etcd read is retried, never taken for "nothing there"."""

from __future__ import annotations

import time

from tests.images.docker_helpers import docker, wait_until

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


def decide_with_fake_etcd(images, fake_etcdctl: str, extra: str = "") -> str:
    """Run decide() of the entrypoint with etcdctl_ replaced for 20 s: its log, rc=124 when still deciding."""
    script = f"""
source /usr/local/bin/galera-entrypoint
NODE_NAME=g3 NODE_ADDRESS=10.9.9.3 PREFIX=/galera/t LEASE_ID=1 RECOVERY_WAIT_TIMEOUT=3 PEERS_DNS=
ETCD_ENDPOINTS=http://etcd:2379 REGISTRATION_TTL=10
MY_UUID={UUID} MY_SEQNO=42
mkdir -p /var/lib/mysql/mysql
etcdctl_() {{ {fake_etcdctl}; }}
{extra}
( decide; echo "DECIDED $DECISION" ) 2>&1 &
pid=$!
for _ in $(seq 20); do kill -0 $pid 2>/dev/null || break; sleep 1; done
if kill -0 $pid 2>/dev/null; then kill $pid; echo "rc=124"; else wait $pid; echo "rc=$?"; fi
ls /var/lib/mysql
"""
    return docker("run", "--rm", "--entrypoint", "bash", images["galera"], "-c", script, timeout=60).stdout


def test_failed_etcd_reads_are_retried_never_taken_for_an_empty_etcd(images):
    # etcd flaps: the list of nodes (this node's own registration) reads fine, every other read
    # fails (timeout), writes and the bootstrap transaction succeed.
    fake = ('case "$*" in "get --prefix /galera/t/nodes/") '
            f'printf "%s\\n" /galera/t/nodes/g3 "10.9.9.3 waiting {UUID} 42" ;; '
            'get*) echo "Error: context deadline exceeded" >&2; return 1 ;; txn*) echo SUCCESS ;; esac')
    out = decide_with_fake_etcd(images, fake)
    assert "DECIDED" not in out, out
    assert "rc=124" in out, out
    assert "etcd read failed" in out, out


def test_a_node_with_data_never_starts_a_new_cluster_because_etcd_forgot_it(images):
    # etcd answers but was wiped: it holds only this node's own registration, no cluster uuid,
    # no members; the running nodes have not registered again (yet).
    fake = ('case "$*" in "get --prefix /galera/t/nodes/" | "get --prefix /galera/t/") '
            f'printf "%s\\n" /galera/t/nodes/g3 "10.9.9.3 waiting {UUID} 42" ;; '
            'txn*) echo SUCCESS ;; *) return 0 ;; esac')
    # A peer answers on the Galera port: it is found through PEERS_DNS even though etcd forgot it.
    extra = 'PEERS_DNS=peers.example; peer_addresses() { echo 10.9.9.1; }; galera_port_open() { [[ $1 == 10.9.9.1 ]]; }'
    out = decide_with_fake_etcd(images, fake, extra)
    assert "bootstrap a NEW cluster" not in out, out
    assert "DECIDED" not in out and "rc=124" in out, out
    assert "10.9.9.1 answers on port 4567" in out, out
    assert "mysql" in out.split("rc=")[1], out  # the data directory is intact
