"""HAProxy image: MySQL connections go only to Synced Galera nodes found through Docker DNS."""

from __future__ import annotations

import csv
import io
from collections import Counter

from components.haproxy_config import HAPROXY_DEFAULTS, render_haproxy_config
from tests.images.docker_helpers import ROOT_PASSWORD, container_ip, docker, http_get, published_port, wait_until

CONNECTIONS = 12


def test_image_ships_the_template_rendered_with_the_default_values(images):
    shipped = docker("run", "--rm", images["haproxy"], "cat", "/usr/local/etc/haproxy/haproxy.cfg").stdout
    assert shipped == render_haproxy_config(**HAPROXY_DEFAULTS)
    assert "nameserver dns 127.0.0.11:53" in shipped
    assert "server-template galera 1-5 tasks.mysql-galera:3306" in shipped


def node_ips(cluster) -> dict[str, str]:
    """Addresses of the running nodes (a stopped container has none: take them before)."""
    return {node: container_ip(node, cluster.network) for node in cluster.nodes}


def server_states(haproxy: str, ips: dict[str, str]) -> dict[str, str]:
    """Galera node name -> HAProxy server status at its address ('absent': no server has it)."""
    status, body, _ = http_get(f"http://{published_port(haproxy, 8404)}/;csv")
    assert status == 200
    rows = csv.DictReader(io.StringIO(body.lstrip("# ")))
    by_addr = {r["addr"].split(":")[0]: r["status"] for r in rows
               if r["pxname"] == "galera" and r["svname"].startswith("galera") and r["addr"]}
    return {node: by_addr.get(ip, "absent") for node, ip in ips.items()}


def route(cluster, haproxy, via: str) -> Counter:
    """Open CONNECTIONS connections through HAProxy; count the node each one landed on."""
    hits = Counter()
    for _ in range(CONNECTIONS):
        hits[cluster.sql(via, "SELECT @@wsrep_node_name", host=haproxy, password=ROOT_PASSWORD)] += 1
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
