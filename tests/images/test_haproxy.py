"""HAProxy image: MySQL connections go only to Synced Galera nodes found through Docker DNS;
the reader port spreads them, the writer port sends all of them to one node, the same one on
every HAProxy replica, so transactions never conflict at certification."""

from __future__ import annotations

import csv
import io
import ipaddress
import re
import time
from collections import Counter

from components.haproxy_config import (HAPROXY_DEFAULTS, READER_PROXY, WRITER_HOLD_SECONDS, WRITER_PROXY,
                                       WRITER_SCRIPT_PATH, render_haproxy_config, writer_script)
from tests.bank_workload import ACCOUNTS, OPENING_BALANCE, BankWorkload
from tests.images.conftest import MEASUREMENTS
from tests.images.docker_helpers import ROOT_PASSWORD, container_ip, docker, http_get, published_port, wait_until

CONNECTIONS = 12
WRITER_PORT = HAPROXY_DEFAULTS["listen_port"]
READER_PORT = HAPROXY_DEFAULTS["read_port"]
# Connections per HAProxy replica in the writer tests, and how long the bank workload runs.
WRITER_CONNECTIONS = 50
BANK_SECONDS = 20


def test_image_ships_the_template_rendered_with_the_default_values(images):
    shipped = docker("run", "--rm", images["haproxy"], "cat", "/usr/local/etc/haproxy/haproxy.cfg").stdout
    assert shipped == render_haproxy_config(**HAPROXY_DEFAULTS)
    assert "nameserver dns 127.0.0.11:53" in shipped
    assert "server-template galera 1-5 tasks.mysql-galera:3306" in shipped


def test_image_ships_the_writer_script_its_config_loads(images):
    shipped = docker("run", "--rm", images["haproxy"], "cat", WRITER_SCRIPT_PATH).stdout
    assert shipped == writer_script()
    assert f"lua-load {WRITER_SCRIPT_PATH}\n" in render_haproxy_config(**HAPROXY_DEFAULTS)
    assert '"@{' not in shipped and f'"{READER_PROXY}", "{WRITER_PROXY}"' in shipped


def node_ips(cluster) -> dict[str, str]:
    """Addresses of the running nodes (a stopped container has none: take them before)."""
    return {node: container_ip(node, cluster.network) for node in cluster.nodes}


def stats_rows(haproxy: str, proxy: str) -> list[dict[str, str]]:
    """The stats page's rows (CSV) of the servers of listener `proxy` that have an address."""
    status, body, _ = http_get(f"http://{published_port(haproxy, 8404)}/;csv")
    assert status == 200
    rows = csv.DictReader(io.StringIO(body.lstrip("# ")))
    return [r for r in rows if r["pxname"] == proxy and r["svname"].startswith("galera") and r["addr"]]


def server_states(haproxy: str, ips: dict[str, str], proxy: str = READER_PROXY) -> dict[str, str]:
    """Galera node name -> HAProxy server status at its address ('absent': no server has it)."""
    by_addr = {r["addr"].split(":")[0]: r["status"] for r in stats_rows(haproxy, proxy)}
    return {node: by_addr.get(ip, "absent") for node, ip in ips.items()}


def writer_weights(haproxy: str, ips: dict[str, str]) -> dict[str, int]:
    """Galera node name -> its server's weight in the writer listener (-1: no server has it)."""
    by_addr = {r["addr"].split(":")[0]: int(r["weight"]) for r in stats_rows(haproxy, WRITER_PROXY)}
    return {node: by_addr.get(ip, -1) for node, ip in ips.items()}


def route(cluster, haproxy, via: str, port: int = READER_PORT, connections: int = CONNECTIONS) -> Counter:
    """Open `connections` connections through HAProxy's `port`; count the node each one landed on."""
    hits = Counter()
    for _ in range(connections):
        hits[cluster.sql(via, "SELECT @@wsrep_node_name", host=haproxy, password=ROOT_PASSWORD, port=port)] += 1
    return hits


def test_haproxy_routes_only_to_synced_nodes(cluster, haproxy):
    g1, g2, g3 = cluster.nodes
    ips = node_ips(cluster)
    wait_until("all three servers UP in HAProxy",
               lambda: set(server_states(haproxy, ips).values()) == {"UP"}, 60)
    assert set(route(cluster, haproxy, g1)) == {g1, g2, g3}

    # A desynced node (wsrep_local_state 2, Donor/Desynced) gets no connection.
    cluster.sql(g2, "SET GLOBAL wsrep_desync = ON")
    try:
        assert "503" in docker("exec", g1, "bash", "-c",
                               f"exec 3<>/dev/tcp/{g2}/9200; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; head -n1 <&3").stdout
        # The Docker HEALTHCHECK (--donor-ok) keeps a donor alive; the endpoint does not route to it.
        assert docker("exec", g2, "galera-health", "--check", check=False).returncode == 1
        assert docker("exec", g2, "galera-health", "--check", "--donor-ok", check=False).returncode == 0
        wait_until("the desynced node DOWN in HAProxy",
                   lambda: server_states(haproxy, ips)[g2].startswith("DOWN"), 30)
        hits = route(cluster, haproxy, g1)
        assert set(hits) == {g1, g3}, hits
    finally:
        cluster.sql(g2, "SET GLOBAL wsrep_desync = OFF")
    wait_until("the re-synced node UP again", lambda: server_states(haproxy, ips)[g2] == "UP", 30)

    # A stopped node gets no connection either.
    docker("stop", "-t", "30", g3)
    try:
        # Out for good: not "UP" nor "UP 1/2" (going down), but DOWN, MAINT or gone.
        wait_until("the stopped node out of HAProxy",
                   lambda: not server_states(haproxy, ips)[g3].startswith("UP"), 30)
        hits = route(cluster, haproxy, g1)
        assert set(hits) == {g1, g2}, hits
    finally:
        cluster.start(g3)
        cluster.wait_all_synced(timeout=120)
    ips = node_ips(cluster)  # the restarted node may have a new address
    wait_until("all three servers UP again", lambda: set(server_states(haproxy, ips).values()) == {"UP"}, 60)


def the_writer(haproxies: list[str], ips: dict[str, str]) -> str | None:
    """The node every HAProxy gives the writer role (weight 1 in its writer listener, 0 for
    the others), or None while they do not agree yet."""
    chosen = set()
    for haproxy in haproxies:
        weights = writer_weights(haproxy, ips)
        ones = [node for node, weight in weights.items() if weight == 1]
        if len(ones) != 1 or sorted(weights.values()).count(0) != len(weights) - 1:
            return None
        chosen.add(ones[0])
    return chosen.pop() if len(chosen) == 1 else None


def haproxy_log(haproxy: str) -> str:
    logs = docker("logs", haproxy)
    return logs.stdout + logs.stderr


def lowest_address(ips: dict[str, str]) -> str:
    return min(ips, key=lambda node: ipaddress.ip_address(ips[node]))


def test_two_haproxies_send_every_writer_connection_to_one_and_the_same_node(cluster, haproxy_replicas):
    ips = node_ips(cluster)
    for haproxy in haproxy_replicas:
        wait_until(f"all three servers UP in {haproxy}",
                   lambda: set(server_states(haproxy, ips).values()) == {"UP"}, 60)
    writer = wait_until("both HAProxies agreeing on one writer", lambda: the_writer(haproxy_replicas, ips), 30)
    # The rule (components/galera_writer.lua): the lowest address among the Synced nodes.
    assert writer == lowest_address(ips), (writer, ips)

    for haproxy in haproxy_replicas:
        hits = route(cluster, haproxy, cluster.nodes[0], port=WRITER_PORT, connections=WRITER_CONNECTIONS)
        assert hits == {writer: WRITER_CONNECTIONS}, (haproxy, hits)
        # The reader port still spreads over every Synced node.
        spread = route(cluster, haproxy, cluster.nodes[0], port=READER_PORT, connections=WRITER_CONNECTIONS)
        assert set(spread) == set(cluster.nodes), (haproxy, spread)
        # The choice is one greppable log line.
        assert re.search(rf"galera writer: \S+ -> {re.escape(ips[writer])} ", haproxy_log(haproxy)), haproxy


def test_when_the_writer_node_stops_every_haproxy_moves_to_one_other_node(cluster, haproxy_replicas):
    ips = node_ips(cluster)
    writer = wait_until("one writer", lambda: the_writer(haproxy_replicas, ips), 30)
    docker("stop", "-t", "30", writer)
    stopped = time.monotonic()
    try:
        others = {node: ip for node, ip in ips.items() if node != writer}
        successor = wait_until("both HAProxies agreeing on a new writer",
                               lambda: the_writer(haproxy_replicas, others), 30, interval=0.2)
        MEASUREMENTS.append(f"writer failover: both HAProxies on the new writer "
                            f"{time.monotonic() - stopped:.1f}s after `docker stop` of the old one returned")
        assert successor == lowest_address(others)
        via = next(iter(others))
        for haproxy in haproxy_replicas:
            hits = route(cluster, haproxy, via, port=WRITER_PORT, connections=WRITER_CONNECTIONS)
            assert hits == {successor: WRITER_CONNECTIONS}, (haproxy, hits)
            assert f"galera writer: {ips[writer]} -> {ips[successor]} " in haproxy_log(haproxy), haproxy
    finally:
        cluster.start(writer)
        cluster.wait_all_synced(timeout=120)
    ips = node_ips(cluster)  # the restarted node may have a new address
    for haproxy in haproxy_replicas:
        wait_until(f"all three servers UP again in {haproxy}",
                   lambda: set(server_states(haproxy, ips).values()) == {"UP"}, 60)


def test_bank_transfers_through_the_writer_of_two_haproxies_never_deadlock(cluster, haproxy_replicas):
    ips = node_ips(cluster)
    # Steady state: every HAProxy back on the lowest address. (The node stopped by the test
    # before came back; each HAProxy hands it the role once it saw it Synced for the hold, and
    # they see that up to a check interval apart: writes meeting on two nodes meanwhile can
    # give 1213s, issue 19.)
    wait_until("both HAProxies on the lowest address", lambda: the_writer(haproxy_replicas, ips) == lowest_address(ips),
               WRITER_HOLD_SECONDS + 30)
    # Two of the four writer threads through each HAProxy, as clients of two replicas would.
    addresses = [tuple(published_port(h, WRITER_PORT).split(":")) for h in haproxy_replicas]
    with BankWorkload([(host, int(port)) for host, port in addresses], "root", ROOT_PASSWORD, cluster.ca_file) as bank:
        time.sleep(BANK_SECONDS)
    report = bank.report()
    MEASUREMENTS.append(report.summary(f"bank workload through the writer of two HAProxies, {BANK_SECONDS}s"))
    assert report.committed > 0, report
    assert report.deadlocks == 0, report
    assert report.total == ACCOUNTS * OPENING_BALANCE, report
