"""The stack's architecture on three real (nested) Docker hosts, deployed with the docker CLI
the way bench/seed-recipe.sh does it, checked from the outside as an operator would: over
SSH with the docker and mariadb clients, and over HTTP.

This is the deployment the Pulumi program declares (same images, service names, dnsrr and
host-mode ports, secrets as files, etcd discovery, one Galera task per node). `pulumi up`
itself cannot run here yet: the docker and command provider plugins cannot be built from
the Go module proxy this machine reaches (toolchain/README.md, "Known gap").

The tests share one deployment and run in file order.
"""

from __future__ import annotations

import urllib.request
from typing import Iterator

import pytest

from lab_helpers import Lab, lab, wait_until
from tests.integration.conftest import Timer, seed_recipe

SERVICES = {"etcd": 1, "mysql-galera": 3, "galera-lb": 2, "wordpress": 2}
GALERA_TASK = "$(docker ps -q --filter label=com.docker.swarm.service.name=mysql-galera)"
APP_LOGIN = 'mariadb -uwordpress -p\\"\\$(cat /run/secrets/mysql-app-password)\\" -h galera-lb wordpress'


def galera_sql(lab_hosts: Lab, host: str, sql: str) -> str:
    """SQL as root over the local socket of the Galera node whose task runs on `host`."""
    return lab_hosts.sh(host, f'docker exec {GALERA_TASK} mariadb -uroot -N -B -e "{sql}"', timeout=60)


def app_sql(lab_hosts: Lab, sql: str, host: str = "docker1") -> str:
    """SQL as the application user through the load balancer, as WordPress connects; the
    client runs in the Galera task on `host`, which sits on the overlay network."""
    return lab_hosts.sh(host, f'docker exec {GALERA_TASK} sh -c "{APP_LOGIN} -N -B -e \\"{sql}\\""',
                        timeout=60)


def wsrep(lab_hosts: Lab, host: str) -> dict[str, str]:
    out = galera_sql(lab_hosts, host, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size',"
                                      "'wsrep_local_state_comment','wsrep_cluster_status','wsrep_cluster_state_uuid')")
    return dict(line.split("\t") for line in out.splitlines())


def service_replicas(lab_hosts: Lab) -> dict[str, str]:
    out = lab_hosts.sh("docker1", "docker service ls --format '{{.Name}} {{.Replicas}}'")
    return {line.split()[0]: line.split()[1] for line in out.splitlines()}


def synced_in_cluster_of(size: int):
    return lambda s: s.get("wsrep_cluster_size") == str(size) and s.get("wsrep_local_state_comment") == "Synced"


@pytest.fixture(scope="module")
def deployed(lab_hosts: Lab) -> Iterator[Lab]:
    try:
        with Timer("seed recipe: bare hosts to 3 Synced + WordPress"):
            seed_recipe("up")
        yield lab_hosts
    finally:
        seed_recipe("down")


def test_three_ready_managers_one_leader(deployed: Lab):
    nodes = deployed.sh("docker1", "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")
    print(nodes)
    rows = sorted(line.split() for line in nodes.splitlines())
    assert [r[0] for r in rows] == ["docker1", "docker2", "docker3"]
    assert [r[1] for r in rows] == ["Ready"] * 3
    assert sorted(r[2] for r in rows) == ["Leader", "Reachable", "Reachable"]


def test_every_service_converges(deployed: Lab):
    expected = {name: f"{n}/{n}" for name, n in SERVICES.items()}
    replicas = wait_until("services converged", lambda: service_replicas(deployed),
                          lambda r: all(r.get(k) == v for k, v in expected.items()), timeout=300)
    print(deployed.sh("docker1", "docker service ls"))
    assert {k: replicas[k] for k in SERVICES} == expected


def test_one_cluster_of_three_synced_nodes(deployed: Lab):
    states = {h: wait_until(f"{h} Synced", lambda h=h: wsrep(deployed, h), synced_in_cluster_of(3), timeout=300)
              for h in deployed.hosts}
    print(states)
    assert {s["wsrep_cluster_status"] for s in states.values()} == {"Primary"}
    assert len({s["wsrep_cluster_state_uuid"] for s in states.values()}) == 1


def test_load_balancer_reaches_every_node_and_writes_replicate(deployed: Lab):
    seen = [app_sql(deployed, "SELECT @@wsrep_node_address") for _ in range(30)]
    print(f"30 connections through galera-lb reached: {sorted(set(seen))}")
    assert len(set(seen)) == 3

    app_sql(deployed, "CREATE TABLE IF NOT EXISTS lbcheck (id INT PRIMARY KEY, note VARCHAR(40)); "
            "REPLACE INTO lbcheck VALUES " + ",".join(f"({i}, 'row {i}')" for i in range(1, 51)))
    for host in deployed.hosts:
        assert galera_sql(deployed, host, "SELECT COUNT(*), SUM(id) FROM wordpress.lbcheck") == "50\t1275"


def test_wordpress_installer_renders_on_both_replicas(deployed: Lab):
    hosts = deployed.sh("docker1", "docker service ps wordpress --filter desired-state=running "
                                   "--format '{{.Node}}'").split()
    assert len(hosts) == 2
    for host in hosts:
        url = f"http://{deployed.address[host]}/wp-admin/install.php"
        with urllib.request.urlopen(url, timeout=30) as response:
            page = response.read().decode()
        assert response.status == 200, url
        assert "WordPress" in page and "Error establishing a database connection" not in page


def test_passwords_are_files_not_service_environment(deployed: Lab):
    password = deployed.sh("docker1", f"docker exec {GALERA_TASK} cat /run/secrets/mysql-app-password")
    assert len(password) >= 16
    spec = deployed.sh("docker1", "docker service inspect " + " ".join(SERVICES))
    assert password not in spec
    assert "MYSQL_PASSWORD_FILE=/run/secrets/mysql-app-password" in spec


def test_losing_a_host_keeps_the_cluster_primary_and_it_rejoins(deployed: Lab):
    lab("stop", "docker3", timeout=300)
    try:
        status = wait_until("two nodes left in the Primary component",
                            lambda: wsrep(deployed, "docker1"), synced_in_cluster_of(2), timeout=120)
        assert status["wsrep_cluster_status"] == "Primary"
        assert app_sql(deployed, "SELECT COUNT(*) FROM lbcheck") == "50"
        app_sql(deployed, "INSERT INTO lbcheck VALUES (51, 'written while docker3 was down')")
    finally:
        with Timer("docker3 back to Synced after a host stop"):
            lab("start", "docker3", timeout=300)
            wait_until("docker3 rejoined and Synced", lambda: wsrep(deployed, "docker3"),
                       synced_in_cluster_of(3), timeout=600, interval=5)
    # It caught up with what was written while it was away (IST or SST).
    assert galera_sql(deployed, "docker3", "SELECT note FROM wordpress.lbcheck WHERE id = 51") == \
        "written while docker3 was down"
    uuids = {wsrep(deployed, h)["wsrep_cluster_state_uuid"] for h in deployed.hosts}
    assert len(uuids) == 1


def test_teardown_leaves_bare_hosts(deployed: Lab):
    seed_recipe("down")
    for host in deployed.hosts:
        assert deployed.sh(host, "docker info --format '{{.Swarm.LocalNodeState}}'") == "inactive"
        assert "mynet" not in deployed.sh(host, "docker network ls --format '{{.Name}}'").split()
