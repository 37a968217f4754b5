"""The main job, end to end: one `pulumi up` of the dev stack turns three bare lab hosts into
a swarm running etcd, a 3-node Galera cluster, the Galera-aware load balancer and WordPress;
a second `up`, `refresh` and `preview` change nothing; no secret shows in plain text; a host
loss is survived; `destroy` leaves bare hosts and a new `up` works again.

Checked from the outside as an operator would: the seed recipe's own docker commands over
SSH, the mariadb client from this machine through the published load balancer, HTTP. The
tests share one stack and run in file order.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import threading
import time
import urllib.request
from typing import Iterator

import pytest

from lab_helpers import Lab, lab, wait_until
from tests.integration.conftest import Timer
from tests.toolchain.pulumi_stack import Stack
from tests.wordpress_site import install, login, publish_post, render_in_chromium

SERVICES = {"etcd": 1, "mysql-galera": 3, "galera-lb": 2, "wordpress": 2}
STACK_HOSTS = ["docker1", "docker2", "docker3"]
SCALE_HOSTS = {"docker4": "172.30.213.14", "docker5": "172.30.213.15"}
CLUSTER_STATUS = ("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                  "WHERE VARIABLE_NAME = 'wsrep_cluster_status'")
GALERA_TASK = "$(docker ps -q --filter label=com.docker.swarm.service.name=mysql-galera)"
MYSQL_PORT = 3306


def galera_sql(lab_hosts: Lab, host: str, sql: str) -> str:
    """SQL as root over the local socket of the Galera node whose task runs on `host`."""
    return lab_hosts.sh(host, f'docker exec {GALERA_TASK} mariadb -uroot -N -B -e "{sql}"', timeout=60)


def lb_sql(deployed: "Deployed", sql: str, host: str | None = None, timeout: float = 30) -> str:
    """SQL as root from this machine through the load balancer's port published (host mode)
    on `host`, by default the first host that runs a load balancer task."""
    host = host or deployed.load_balancer_hosts()[0]
    result = subprocess.run(
        ["mariadb", f"-h{deployed.lab.address[host]}", f"-P{MYSQL_PORT}", "-uroot",
         f"-p{deployed.root_password}", "--connect-timeout=5", "-N", "-B", "-e", sql],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise AssertionError(f"mariadb through galera-lb on {host}: {result.stderr.strip()}")
    return result.stdout.strip()


def wsrep(lab_hosts: Lab, host: str) -> dict[str, str]:
    out = galera_sql(lab_hosts, host, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size',"
                                      "'wsrep_local_state_comment','wsrep_cluster_status','wsrep_cluster_state_uuid')")
    return dict(line.split("\t") for line in out.splitlines())


def service_replicas(lab_hosts: Lab) -> dict[str, str]:
    out = lab_hosts.sh("docker1", "docker service ls --format '{{.Name}} {{.Replicas}}'")
    return {line.split()[0]: line.split()[1] for line in out.splitlines()}


def synced_in_cluster_of(size: int):
    return lambda s: s.get("wsrep_cluster_size") == str(size) and s.get("wsrep_local_state_comment") == "Synced"


def wait_all_synced(lab_hosts: Lab, hosts: list[str], size: int) -> dict[str, dict[str, str]]:
    return {h: wait_until(f"{h} Synced in a cluster of {size}", lambda h=h: wsrep(lab_hosts, h),
                          synced_in_cluster_of(size), timeout=300) for h in hosts}


class Deployed:
    """The dev stack after `up`, with what the checks need from it."""

    def __init__(self, stack: Stack, lab_hosts: Lab):
        self.stack = stack
        self.lab = lab_hosts
        self.cli_output: list[str] = []
        self.root_password = self.config_secret("rootPassword")
        # The hosts in the stack's config (the lab may have more).
        self.hosts = list(STACK_HOSTS)

    def config_secret(self, key: str) -> str:
        return self.stack.pulumi("config", "get", f"galera-swarm:{key}").stdout.strip()

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """The CLI on the stack; its output is kept for the secrecy check."""
        result = self.stack.pulumi(*args)
        self.cli_output.append(result.stdout + result.stderr)
        return result

    def load_balancer_hosts(self) -> list[str]:
        """The hosts that run a galera-lb task now: where its host-mode port answers."""
        return sorted(self.lab.sh("docker1", "docker service ps galera-lb --filter desired-state=running "
                                             "--format '{{.Node}}'").split())

    def outputs(self) -> dict:
        return json.loads(self.stack.pulumi("stack", "output", "--json", "--show-secrets").stdout)


@pytest.fixture(scope="module")
def deployed(dev_stack: Stack, lab_hosts: Lab) -> Iterator[Deployed]:
    for host in lab_hosts.hosts:
        assert lab_hosts.sh(host, "docker info --format '{{.Swarm.LocalNodeState}}'") == "inactive"
    the_stack = Deployed(dev_stack, lab_hosts)
    with Timer("pulumi up: bare hosts to a converged stack"):
        the_stack.run("up", "--yes", "--skip-preview", "--suppress-progress")
    yield the_stack


class AvailabilityProbe:
    """Asks the cluster's status through the load balancer every second, from this machine,
    while a change rolls; a client that knows every load balancer address tries each."""

    def __init__(self, deployed: Deployed):
        self.deployed = deployed
        self.observations: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _ask(self, hosts: list[str]) -> str:
        errors = []
        for host in hosts:
            try:
                return lb_sql(self.deployed, CLUSTER_STATUS, host=host, timeout=10)
            except (AssertionError, subprocess.TimeoutExpired) as failure:
                errors.append(f"{host}: {str(failure).splitlines()[0]}")
        return "unanswered: " + "; ".join(errors)

    def _run(self) -> None:
        hosts = self.deployed.load_balancer_hosts()
        while not self._stop.is_set():
            answer = self._ask(hosts)
            if answer.startswith("unanswered"):  # the load balancer tasks may have moved
                hosts = self.deployed.load_balancer_hosts()
                answer = self._ask(hosts)
            self.observations.append(answer)
            self._stop.wait(1)

    def __enter__(self) -> "AvailabilityProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def report(self, what: str) -> str:
        others = sorted({o for o in self.observations if o != "Primary"})
        return (f"{what}: {len(self.observations)} polls through galera-lb, "
                f"{self.observations.count('Primary')} Primary; others: {others}")


def test_up_makes_three_ready_managers_one_leader(deployed: Deployed):
    nodes = deployed.lab.sh("docker1", "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")
    print(deployed.lab.sh("docker1", "docker node ls"))
    rows = sorted(line.split() for line in nodes.splitlines())
    assert [r[0] for r in rows] == ["docker1", "docker2", "docker3"]
    assert [r[1] for r in rows] == ["Ready"] * 3
    assert sorted(r[2] for r in rows) == ["Leader", "Reachable", "Reachable"]
    assert set(deployed.outputs()["nodes"]) == {"docker1", "docker2", "docker3"}


def test_every_service_runs_its_replicas_one_galera_task_per_host(deployed: Deployed):
    with Timer("  ...then until every service shows n/n"):
        expected = {name: f"{n}/{n}" for name, n in SERVICES.items()}
        replicas = wait_until("services converged", lambda: service_replicas(deployed.lab),
                              lambda r: all(r.get(k) == v for k, v in expected.items()), timeout=120)
    print(deployed.lab.sh("docker1", "docker service ls"))
    assert {k: replicas[k] for k in SERVICES} == expected
    nodes = deployed.lab.sh("docker1", "docker service ps mysql-galera --filter desired-state=running "
                                       "--format '{{.Node}} {{.CurrentState}}'")
    print(nodes)
    assert sorted(line.split()[0] for line in nodes.splitlines()) == ["docker1", "docker2", "docker3"]
    assert all(line.split()[1] == "Running" for line in nodes.splitlines())


def test_one_cluster_of_three_synced_nodes(deployed: Deployed):
    with Timer("  ...then until all three nodes are Synced"):
        states = wait_all_synced(deployed.lab, deployed.hosts, 3)
    print(states)
    assert {s["wsrep_cluster_status"] for s in states.values()} == {"Primary"}
    assert len({s["wsrep_cluster_state_uuid"] for s in states.values()}) == 1


def test_load_balancer_from_outside_reaches_every_node_and_writes_replicate(deployed: Deployed):
    lb_hosts = deployed.load_balancer_hosts()
    assert len(lb_hosts) == 2
    # HAProxy puts a node that just became Synced into rotation after two passing checks
    # (rise 2, inter 2s); wait for that before counting.
    wait_until("galera-lb routing to all three nodes",
               lambda: {lb_sql(deployed, "SELECT @@wsrep_node_address", host=h) for h in lb_hosts * 5},
               lambda addresses: len(addresses) == 3, timeout=60)
    seen = [lb_sql(deployed, "SELECT @@wsrep_node_address", host=lb_hosts[i % 2]) for i in range(30)]
    print(f"30 connections through galera-lb on {lb_hosts} reached: {sorted(set(seen))}")
    assert len(set(seen)) == 3

    lb_sql(deployed, "CREATE TABLE IF NOT EXISTS wordpress.lbcheck (id INT PRIMARY KEY, note VARCHAR(40)); "
           "REPLACE INTO wordpress.lbcheck VALUES " + ",".join(f"({i}, 'row {i}')" for i in range(1, 51)))
    for host in deployed.hosts:
        assert galera_sql(deployed.lab, host, "SELECT COUNT(*), SUM(id) FROM wordpress.lbcheck") == "50\t1275"


def test_wordpress_answers_on_both_replicas(deployed: Deployed):
    urls = deployed.outputs()["wordpress_urls"]
    assert len(urls) == 2
    for url in urls:
        with urllib.request.urlopen(url + "wp-admin/install.php", timeout=30) as response:
            page = response.read().decode()
        assert response.status == 200, url
        assert "WordPress" in page and "Error establishing a database connection" not in page


def test_wordpress_installs_and_both_replicas_serve_a_post_in_a_browser(deployed: Deployed):
    """Finish the installer over HTTP, publish a post, then look at it in Chromium on each
    replica's own address (host-mode ports: each answers under the address asked for)."""
    urls = deployed.outputs()["wordpress_urls"]
    assert len(urls) == 2
    admin_password = f"wp-{secrets.token_hex(8)}"
    install(urls[0], "Galera Swarm Lab", "labadmin", admin_password, "labadmin@example.org")
    post_url = publish_post(urls[0], login(urls[0], "labadmin", admin_password),
                            "Replicated post", "<p>Written once, served by every replica.</p>")
    path = post_url.removeprefix(urls[0].rstrip("/"))
    assert path.startswith("/") and "/index.php/" not in path and "?p=" not in path, post_url
    for url in urls:
        dom = render_in_chromium(url.rstrip("/") + path)
        assert '<div class="wp-site-blocks">' in dom, f"no theme markup from {url}: {dom[:2000]}"
        assert "Replicated post" in dom and "Written once, served by every replica." in dom, url
        assert f'href="{url}' in dom, f"{url} links elsewhere"


def test_second_up_refresh_and_preview_change_nothing(deployed: Deployed):
    with Timer("pulumi up, no changes"):
        deployed.run("up", "--yes", "--skip-preview", "--expect-no-changes", "--suppress-progress")
    with Timer("pulumi preview"):
        deployed.run("preview", "--expect-no-changes", "--suppress-progress")
    with Timer("pulumi refresh"):
        deployed.run("refresh", "--yes", "--skip-preview", "--expect-no-changes", "--suppress-progress")


def test_no_secret_in_plain_text(deployed: Deployed):
    lab_hosts = deployed.lab
    secrets_ = [deployed.config_secret(k) for k in ("rootPassword", "appPassword")]
    secrets_ += [lab_hosts.sh("docker1", f"docker swarm join-token -q {role}") for role in ("manager", "worker")]
    key_lines = [line for line in open(lab_hosts.info["ssh_key"]).read().splitlines() if "PRIVATE KEY" not in line]
    exported = deployed.stack.pulumi("stack", "export").stdout
    inspected = lab_hosts.sh("docker1", "docker service inspect " + " ".join(SERVICES))
    tasks = " ".join(f"$(docker ps -q --filter label=com.docker.swarm.service.name={s})" for s in SERVICES)
    containers = "\n".join(lab_hosts.sh(h, f"docker inspect {tasks}") for h in deployed.hosts)
    places = {"pulumi stack export": exported, "docker service inspect": inspected,
              "docker inspect of the tasks": containers, "the CLI's output": "\n".join(deployed.cli_output)}
    for value in secrets_ + key_lines:
        encoded = base64.b64encode(value.encode()).decode()
        for where, text in places.items():
            assert value not in text and encoded not in text, f"a secret in plain text in {where}"
    # The passwords, tokens and key are in the state, encrypted.
    assert exported.count('"ciphertext"') >= 8


def test_losing_a_host_keeps_the_cluster_primary_and_it_rejoins(deployed: Deployed):
    lab_hosts = deployed.lab
    lab("stop", "docker3", timeout=300)
    try:
        status = wait_until("two nodes left in the Primary component",
                            lambda: wsrep(lab_hosts, "docker1"), synced_in_cluster_of(2), timeout=120)
        assert status["wsrep_cluster_status"] == "Primary"
        survivors = [h for h in deployed.load_balancer_hosts() if h != "docker3"]
        lb_host = survivors[0]
        assert lb_sql(deployed, "SELECT COUNT(*) FROM wordpress.lbcheck", host=lb_host) == "50"
        lb_sql(deployed, "INSERT INTO wordpress.lbcheck VALUES (51, 'written while docker3 was down')",
               host=lb_host)
    finally:
        with Timer("docker3 back to Synced after a host stop"):
            lab("start", "docker3", timeout=300)
            wait_until("docker3 rejoined and Synced", lambda: wsrep(lab_hosts, "docker3"),
                       synced_in_cluster_of(3), timeout=600, interval=2)
    assert galera_sql(lab_hosts, "docker3", "SELECT note FROM wordpress.lbcheck WHERE id = 51") == \
        "written while docker3 was down"
    assert len({wsrep(lab_hosts, h)["wsrep_cluster_state_uuid"] for h in deployed.hosts}) == 1


def test_scaling_onto_two_more_hosts_keeps_the_cluster_serving(deployed: Deployed):
    for index, (name, address) in enumerate(SCALE_HOSTS.items(), start=len(deployed.hosts)):
        deployed.stack.set_config(f"galera-swarm:hosts[{index}].name", name, path=True)
        deployed.stack.set_config(f"galera-swarm:hosts[{index}].address", address, path=True)
    deployed.stack.set_config("galera-swarm:galera.replicas", "5", path=True)
    with AvailabilityProbe(deployed) as probe, Timer("pulumi up: 3 to 5 hosts and Galera nodes"):
        deployed.run("up", "--yes", "--skip-preview", "--suppress-progress")
    print(probe.report("scaling 3 to 5"))
    deployed.hosts += list(SCALE_HOSTS)
    nodes = deployed.lab.sh("docker1", "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")
    assert sorted(line.split()[0] for line in nodes.splitlines()) == sorted(deployed.hosts)
    assert sorted(line.split()[2] for line in nodes.splitlines()) == ["Leader"] + ["Reachable"] * 4
    states = wait_all_synced(deployed.lab, deployed.hosts, 5)
    assert len({s["wsrep_cluster_state_uuid"] for s in states.values()}) == 1
    assert galera_sql(deployed.lab, "docker5", "SELECT COUNT(*) FROM wordpress.lbcheck") == "51"
    assert probe.observations and set(probe.observations) == {"Primary"}, probe.report("scaling 3 to 5")


def test_a_setting_that_restarts_every_galera_task_rolls_one_node_at_a_time(deployed: Deployed):
    deployed.stack.set_config("galera-swarm:galera.memory", "1g", path=True)
    with AvailabilityProbe(deployed) as probe, Timer("pulumi up: rolling restart of 5 Galera nodes"):
        deployed.run("up", "--yes", "--skip-preview", "--suppress-progress")
    print(probe.report("rolling restart"))
    limits = deployed.lab.sh("docker1", "docker service inspect -f "
                                        "'{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}' mysql-galera")
    assert limits == str(1024**3)
    # One node at a time: swarm's update history shows each task replaced, never two down.
    tasks = deployed.lab.sh("docker1", "docker service ps mysql-galera --format '{{.Name}} {{.DesiredState}}'")
    assert sum(1 for line in tasks.splitlines() if line.endswith("Running")) == 5
    assert sum(1 for line in tasks.splitlines() if line.endswith("Shutdown")) >= 5
    wait_all_synced(deployed.lab, deployed.hosts, 5)
    assert probe.observations and set(probe.observations) == {"Primary"}, probe.report("rolling restart")


def test_destroy_leaves_bare_hosts_and_up_works_again(deployed: Deployed):
    lab_hosts = deployed.lab
    with Timer("pulumi destroy"):
        deployed.run("destroy", "--yes", "--skip-preview", "--suppress-progress")
    for host in deployed.hosts:
        assert lab_hosts.sh(host, "docker info --format '{{.Swarm.LocalNodeState}}'") == "inactive"
        for kind in ("secret", "config"):
            assert lab_hosts.sh(host, f"docker {kind} ls -q 2>/dev/null || true") == ""
        assert "mynet" not in lab_hosts.sh(host, "docker network ls --format '{{.Name}}'").split()
        assert lab_hosts.sh(host, "docker ps -aq") == ""
        # Data is never removed by a teardown (README): the Galera volume stays.
        assert "mysql-galera" in lab_hosts.sh(host, "docker volume ls --format '{{.Name}}'")
    with Timer("pulumi up again after destroy"):
        deployed.run("up", "--yes", "--skip-preview", "--suppress-progress")
    wait_all_synced(lab_hosts, deployed.hosts, len(deployed.hosts))
    assert lb_sql(deployed, "SELECT COUNT(*) FROM wordpress.lbcheck") == "51"
