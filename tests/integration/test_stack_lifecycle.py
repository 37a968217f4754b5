"""One `pulumi up` on bare lab hosts converges the whole architecture; a second changes
nothing; a change rolls one node at a time; `destroy` leaves bare hosts. Checked from the
outside, as an operator would: over SSH with the docker and mariadb clients, and over HTTP.

The tests share one stack and run in file order.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.request

import pytest
from pulumi import automation as auto

from tests.integration.conftest import Timer, pulumi_up
from lab_helpers import Lab, wait_until

SERVICES = {"etcd": 1, "mysql-galera": 3, "galera-lb": 2, "wordpress": 2}
GALERA_FILTER = "label=com.docker.swarm.service.name=mysql-galera"


def galera_sql(lab: Lab, host: str, sql: str) -> str:
    """Run SQL as root on the Galera node whose task runs on `host` (local socket)."""
    return lab.sh(host, f"docker exec $(docker ps -q --filter {GALERA_FILTER}) "
                        f"mariadb -uroot -N -B -e \"{sql}\"", timeout=60)


def app_sql(lab: Lab, sql: str) -> str:
    """Run SQL as the application user through the load balancer, as WordPress does; the
    client runs in the Galera task on docker1, which is on the overlay network."""
    login = 'mariadb -uwordpress -p\\"\\$(cat /run/secrets/mysql-app-password)\\" -h galera-lb wordpress'
    return lab.sh("docker1", f"docker exec $(docker ps -q --filter {GALERA_FILTER}) "
                             f"sh -c \"{login} -N -B -e \\\"{sql}\\\"\"", timeout=60)


def service_replicas(lab: Lab) -> dict[str, str]:
    out = lab.sh("docker1", "docker service ls --format '{{.Name}} {{.Replicas}}'")
    return dict(line.split() for line in out.splitlines())


def wsrep(lab: Lab, host: str) -> dict[str, str]:
    out = galera_sql(lab, host, "SHOW GLOBAL STATUS WHERE Variable_name IN "
                                "('wsrep_cluster_size','wsrep_local_state_comment','wsrep_cluster_status')")
    return dict(line.split("\t") for line in out.splitlines())


def test_up_from_bare_hosts_converges_everything(stack: auto.Stack, lab_hosts: Lab):
    for host in lab_hosts.hosts:
        assert lab_hosts.sh(host, "docker info --format '{{.Swarm.LocalNodeState}}'") == "inactive"
    with Timer("pulumi up from bare hosts"):
        pulumi_up(stack)
    with Timer("  ...then until every check is green"):
        nodes = lab_hosts.sh("docker1", "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")
        print(nodes)
        rows = [line.split() for line in nodes.splitlines()]
        assert sorted(r[0] for r in rows) == ["docker1", "docker2", "docker3"]
        assert all(r[1] == "Ready" for r in rows)
        assert sorted(r[2] for r in rows) == ["Leader", "Reachable", "Reachable"]

        expected = {name: f"{n}/{n}" for name, n in SERVICES.items()}
        wait_until("all services converged", lambda: service_replicas(lab_hosts),
                   lambda r: all(r.get(k) == v for k, v in expected.items()), timeout=300)
        print(lab_hosts.sh("docker1", "docker service ls"))
        for host in lab_hosts.hosts:
            status = wait_until(f"{host} Synced in a cluster of 3", lambda h=host: wsrep(lab_hosts, h),
                                lambda s: s.get("wsrep_cluster_size") == "3"
                                and s.get("wsrep_local_state_comment") == "Synced", timeout=300)
            assert status["wsrep_cluster_status"] == "Primary"


def test_load_balancer_spreads_connections_and_writes_replicate(lab_hosts: Lab):
    seen = [app_sql(lab_hosts, "SELECT @@wsrep_node_address") for _ in range(30)]
    print(f"30 connections through galera-lb reached: {sorted(set(seen))}")
    assert len(set(seen)) == 3, f"the load balancer reached only {sorted(set(seen))}"

    app_sql(lab_hosts, "CREATE TABLE IF NOT EXISTS lbcheck (id INT PRIMARY KEY, note VARCHAR(40)); "
            "REPLACE INTO lbcheck VALUES " + ",".join(f"({i}, 'row {i}')" for i in range(1, 51)))
    for host in lab_hosts.hosts:
        assert galera_sql(lab_hosts, host, "SELECT COUNT(*), SUM(id) FROM wordpress.lbcheck") == "50\t1275"


def test_wordpress_installer_renders_against_the_cluster(stack: auto.Stack):
    urls = stack.outputs()["wordpress_urls"].value
    assert len(urls) == 2
    for url in urls:
        with urllib.request.urlopen(url + "wp-admin/install.php", timeout=30) as response:
            page = response.read().decode()
        assert response.status == 200
        assert "WordPress" in page and "Error establishing a database connection" not in page


def test_second_up_and_refresh_change_nothing(stack: auto.Stack):
    with Timer("pulumi up, no changes"):
        result = pulumi_up(stack, expect_no_changes=True)
    assert set(result.summary.resource_changes) == {"same"}
    with Timer("pulumi preview"):
        stack.preview(expect_no_changes=True, on_output=print)
    stack.refresh(expect_no_changes=True, on_output=print, suppress_progress=True)


def test_no_password_or_token_in_plain_text(stack: auto.Stack, lab_hosts: Lab):
    config = stack.get_all_config()
    passwords = [config[f"galera-swarm:{k}"].value for k in ("rootPassword", "sstPassword", "appPassword")]
    tokens = [lab_hosts.sh("docker1", f"docker swarm join-token -q {role}") for role in ("manager", "worker")]
    exported = json.dumps(stack.export_stack().deployment)
    inspected = lab_hosts.sh("docker1", "docker service inspect " + " ".join(SERVICES))
    for value in passwords + tokens:
        encoded = base64.b64encode(value.encode()).decode()
        for text, where in ((exported, "pulumi stack export"), (inspected, "docker service inspect")):
            assert value not in text and encoded not in text, f"a secret in plain text in {where}"
    assert exported.count('"4dabf18193072939515e22adb298388d"') >= 5  # secrets are stored encrypted


def test_a_change_rolls_one_node_at_a_time_and_the_cluster_stays_primary(stack: auto.Stack, lab_hosts: Lab):
    stack.set_config("galera-swarm:galera.memory", auto.ConfigValue("1g"), path=True)
    stack.set_config("galera-swarm:galera.replicas", auto.ConfigValue("3"), path=True)
    observations: list[str] = []
    done = threading.Event()

    def poll():
        while not done.is_set():
            try:
                observations.append(app_sql(lab_hosts, "SELECT VARIABLE_VALUE FROM "
                                            "information_schema.GLOBAL_STATUS WHERE "
                                            "VARIABLE_NAME='wsrep_cluster_status'"))
            except Exception as failure:  # the polling node itself may be the one restarting
                observations.append(f"error: {str(failure).splitlines()[0]}")
            time.sleep(1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        with Timer("pulumi up, rolling Galera update"):
            pulumi_up(stack)
    finally:
        done.set()
        poller.join(timeout=60)
    primary = [o for o in observations if o == "Primary"]
    print(f"{len(observations)} polls: {len(primary)} Primary; others: {sorted(set(observations) - {'Primary'})}")
    assert primary and all(o == "Primary" or o.startswith("error:") for o in observations)
    limits = lab_hosts.sh("docker1", "docker service inspect -f '{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}' mysql-galera")
    assert limits == str(1024**3)
    for host in lab_hosts.hosts:
        wait_until(f"{host} Synced after the update", lambda h=host: wsrep(lab_hosts, h),
                   lambda s: s.get("wsrep_local_state_comment") == "Synced" and s.get("wsrep_cluster_size") == "3",
                   timeout=300)


def test_destroy_leaves_bare_hosts_and_up_works_again(stack: auto.Stack, lab_hosts: Lab):
    with Timer("pulumi destroy"):
        stack.destroy(on_output=print, suppress_progress=True)
    for host in lab_hosts.hosts:
        assert lab_hosts.sh(host, "docker info --format '{{.Swarm.LocalNodeState}}'") == "inactive"
        assert lab_hosts.sh(host, "docker service ls -q 2>/dev/null || true") == ""
        networks = lab_hosts.sh(host, "docker network ls --format '{{.Name}}'").split()
        assert "mynet" not in networks
    with Timer("pulumi up again after destroy"):
        pulumi_up(stack)
    assert service_replicas(lab_hosts).keys() >= SERVICES.keys()
