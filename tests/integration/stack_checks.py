"""What the integration tests check the deployed dev stack with, from the outside as an operator
would: the seed recipe's docker commands over SSH, the mariadb client and a MySQL driver from
this machine through the published load balancer, HTTP."""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from components.haproxy_config import READ_PORT
from lab_helpers import Lab, wait_until
from tests.integration.row_writer import RowWriter
from tests.toolchain.pulumi_stack import Stack

# The load balancer and WordPress run one task per active host (issue 18): 3 on the dev stack.
SERVICES = {"etcd": 1, "mysql-galera": 3, "galera-lb": 3, "wordpress": 3}
STACK_HOSTS = ["docker1", "docker2", "docker3"]
SCALE_HOSTS = {"docker4": "172.30.213.14", "docker5": "172.30.213.15"}
CLUSTER_STATUS = ("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                  "WHERE VARIABLE_NAME = 'wsrep_cluster_status'")
GALERA_TASK = "$(docker ps -q --filter label=com.docker.swarm.service.name=mysql-galera)"
MYSQL_PORT = 3306


# The dev stack's one etcd member (etcd.replicas 1), on the leader.
ETCD_TASK = "$(docker ps -q --filter label=com.docker.swarm.service.name=etcd)"
# What etcd 3.4 answers a client that does not log in.
ETCD_UNAUTHENTICATED = "etcdserver: user name is empty"


def etcdctl_as_root(lab_hosts: Lab, host: str, *args: str) -> str:
    """etcdctl in the etcd task on `host`, logged in as etcd's root with the password file mounted
    in that task (the image's `etcdctl-as`): the password is on no command line."""
    return lab_hosts.sh(host, f"docker exec {ETCD_TASK} etcdctl-as root " + " ".join(shlex.quote(a) for a in args))


def etcdctl_without_login(lab_hosts: Lab, host: str, *args: str) -> str:
    """etcdctl in the Galera task on `host` (on the overlay, as any container there) to
    etcd:2379 without logging in: its output and errors."""
    return lab_hosts.sh(host, f"docker exec {GALERA_TASK} etcdctl --endpoints=etcd:2379 "
                        + " ".join(shlex.quote(a) for a in args) + " 2>&1", check=False)


def galera_sql(lab_hosts: Lab, host: str, sql: str) -> str:
    """SQL as root over the local socket of the Galera node whose task runs on `host`."""
    return lab_hosts.sh(host, f'docker exec {GALERA_TASK} mariadb -uroot -N -B -e "{sql}"', timeout=60)


def lb_sql(deployed: "Deployed", sql: str, host: str | None = None, timeout: float = 30,
           user: str = "root", password: str | None = None, port: int = MYSQL_PORT, tls: bool = True) -> str:
    """SQL as `user` (root with the stack's password by default) from this machine through the
    load balancer's `port` published (host mode) on `host`, by default the first host that runs
    a load balancer task; the writer's port by default, READ_PORT for the reader. Over TLS (the
    mariadb client's default) unless `tls` is False. Raises AssertionError with the client's
    error."""
    host = host or deployed.load_balancer_hosts()[0]
    password = deployed.root_password if password is None else password
    result = subprocess.run(
        ["mariadb", f"-h{deployed.lab.address[host]}", f"-P{port}", f"-u{user}",
         f"-p{password}", "--connect-timeout=5", "-N", "-B", *([] if tls else ["--skip-ssl"]), "-e", sql],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise AssertionError(f"mariadb through galera-lb on {host}: {result.stderr.strip()}")
    return result.stdout.strip()


def landed_on(deployed: "Deployed", host: str, port: int, connections: int) -> Counter:
    """Open `connections` connections through the load balancer's `port` on `host`; count the
    host whose Galera node each one landed on (its node name is `mysql-galera-<host>`)."""
    return Counter(lb_sql(deployed, "SELECT @@wsrep_node_name", host=host, port=port).removeprefix("mysql-galera-")
                   for _ in range(connections))


def wsrep(lab_hosts: Lab, host: str) -> dict[str, str]:
    out = galera_sql(lab_hosts, host, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size',"
                                      "'wsrep_local_state_comment','wsrep_cluster_status','wsrep_cluster_state_uuid')")
    return dict(line.split("\t") for line in out.splitlines())


def galera_log(lab_hosts: Lab, host: str, grep: str) -> list[str]:
    """The lines of the entrypoint log of the Galera task now on `host` that contain `grep`."""
    out = lab_hosts.sh(host, f"docker logs {GALERA_TASK} 2>&1 | grep -F {shlex.quote(grep)} || true", timeout=60)
    return out.splitlines()


def ids_on(lab_hosts: Lab, host: str, table: str) -> set[int]:
    """The row ids of `table` on the Galera node of `host`, read over its socket once the node
    has applied every write certified before the read (wsrep_sync_wait)."""
    return {int(i) for i in galera_sql(lab_hosts, host, f"SET SESSION wsrep_sync_wait = 1; SELECT id FROM {table}").split()}


def lost_rows(lab_hosts: Lab, hosts: list[str], table: str, acknowledged: list[int]) -> dict[str, int]:
    """Per host, how many acknowledged rows its Galera node does not hold."""
    wanted = set(acknowledged)
    return {host: len(wanted - ids_on(lab_hosts, host, table)) for host in hosts}


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
        # Where the WordPress test published its post (a page that needs the database).
        self.post_path = ""

    def config_secret(self, key: str) -> str:
        return self.stack.pulumi("config", "get", f"galera-swarm:{key}").stdout.strip()

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """The CLI on the stack; its output is kept for the secrecy check."""
        result = self.stack.pulumi(*args)
        self.cli_output.append(result.stdout + result.stderr)
        return result

    def service_hosts(self, service: str) -> list[str]:
        """The hosts that run a task of `service` now: where its host-mode port answers."""
        return sorted(self.lab.sh("docker1", f"docker service ps {service} --filter desired-state=running "
                                             "--format '{{.Node}}'").split())

    def load_balancer_hosts(self) -> list[str]:
        return self.service_hosts("galera-lb")

    def post_urls(self) -> list[str]:
        """The published post (see post_path) on each host that runs a WordPress task now: the
        tasks move when their host fails, and the stack's wordpress_urls output learns of it
        only at the next `up`."""
        return [f"http://{self.lab.address[h]}{self.post_path}" for h in self.service_hosts("wordpress")]

    def writer(self, table: str) -> RowWriter:
        """A RowWriter of numbered rows into `table` as root through galera-lb: the addresses of
        the hosts running a load balancer task first, then the stack's other hosts (a task
        may move there)."""
        lb_hosts = self.load_balancer_hosts()
        order = lb_hosts + [h for h in self.hosts if h not in lb_hosts]
        return RowWriter([(self.lab.address[h], MYSQL_PORT) for h in order], "root", self.root_password,
                         self.ca_file(), table)

    def ca_file(self) -> Path | None:
        """The stack's CA (its output tls_ca_certificate) as a PEM file for the tests' TLS
        clients (sql_client.connect); None when the stack runs without TLS."""
        path = self.stack.project_dir / "stack-ca.pem"
        if not path.exists():
            ca = self.outputs().get("tls_ca_certificate")
            if not ca:
                return None
            path.write_text(ca)
        return path

    def outputs(self) -> dict:
        return json.loads(self.stack.pulumi("stack", "output", "--json", "--show-secrets").stdout)


class Probe:
    """Asks something every second on a thread, from __enter__ to __exit__, and keeps each
    answer in `observations`; subclasses say what to ask (`observe`) and what a good answer is."""

    good = ""

    def __init__(self) -> None:
        self.observations: list[str] = []
        # When each observation was made (s since __enter__), for the report's bad windows.
        self.times: list[float] = []
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def observe(self) -> str:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            at = time.monotonic() - self._started
            self.observations.append(self.observe())
            self.times.append(at)
            self._stop.wait(1)

    def __enter__(self) -> "Probe":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        # Longer than one observation can take (AvailabilityProbe: hosts x passwords x 10 s, twice).
        self._thread.join(timeout=180)

    def all_good(self) -> bool:
        return bool(self.observations) and set(self.observations) == {self.good}

    def report(self, what: str) -> str:
        others = sorted(set(self.observations) - {self.good})
        bad = [f"+{t:.0f}s" for t, o in zip(self.times, self.observations) if o != self.good]
        return (f"{what}: {len(self.observations)} polls, {self.observations.count(self.good)} "
                f"{self.good}; bad polls at {', '.join(bad) or 'none'}; others: {others}")


class AvailabilityProbe(Probe):
    """The cluster's status through the load balancer, from this machine, while a change
    rolls; a client that knows every load balancer address tries each, and each root password
    in `root_passwords` (the stack's by default: during a rotation, the old and the new)."""

    good = "Primary"

    def __init__(self, deployed: Deployed, root_passwords: list[str] | None = None):
        super().__init__()
        self.deployed = deployed
        self.root_passwords = root_passwords or [deployed.root_password]
        self.hosts = deployed.load_balancer_hosts()

    def _ask(self) -> str:
        errors = []
        for host in self.hosts:
            for password in self.root_passwords:
                try:
                    return lb_sql(self.deployed, CLUSTER_STATUS, host=host, timeout=10, password=password)
                except (AssertionError, subprocess.TimeoutExpired) as failure:
                    errors.append(f"{host}: {str(failure).splitlines()[0]}")
        return "unanswered: " + "; ".join(errors)

    def observe(self) -> str:
        answer = self._ask()
        if answer.startswith("unanswered"):  # the load balancer tasks may have moved
            self.hosts = self.deployed.load_balancer_hosts()
            answer = self._ask()
        return answer


class SyncedProbe(Probe):
    """Every node's wsrep_local_state_comment, each second: good when all of `hosts` say Synced."""

    good = "all Synced"

    def __init__(self, lab_hosts: Lab, hosts: list[str]):
        super().__init__()
        self.lab_hosts = lab_hosts
        self.hosts = hosts

    def observe(self) -> str:
        states = {h: wsrep(self.lab_hosts, h).get("wsrep_local_state_comment", "?") for h in self.hosts}
        return self.good if set(states.values()) == {"Synced"} else str(states)


class WordPressProbe(Probe):
    """GET of the published post every second, as a client that knows the address of every
    WordPress replica: good ("200 <marker>") when a replica served the page with `marker` in it
    (WordPress read it from the database); the replicas are looked up again when none does (a
    rolling update stops a replica before its successor starts, maybe on another host)."""

    def __init__(self, deployed: Deployed, marker: str):
        super().__init__()
        self.deployed = deployed
        self.marker = marker
        self.good = f"200 {marker}"
        self.urls = deployed.post_urls()

    def page(self, url: str) -> str:
        """The good answer for `url`, or its status or error."""
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                page = response.read().decode(errors="replace")
            return self.good if self.marker in page else f"{response.status} without {self.marker!r} from {url}"
        except urllib.error.HTTPError as failure:
            return f"{failure.code} from {url}"
        except OSError as failure:
            return f"{type(failure).__name__} from {url}"

    def observe(self) -> str:
        answers = []
        for _ in range(2):
            for url in self.urls:
                answers.append(self.page(url))
                if answers[-1] == self.good:
                    return self.good
            self.urls = self.deployed.post_urls()
        return answers[0] if answers else "no WordPress replica running"


def galera_tasks_by_host(lab_hosts: Lab) -> dict[str, str]:
    """host -> the id of the Galera task meant to run there (`docker service ps`; a task that
    no node has taken yet is left out)."""
    listing = lab_hosts.sh("docker1", "docker service ps mysql-galera --filter desired-state=running "
                                      "--format '{{.ID}} {{.Node}}'")
    return {f[1]: f[0] for f in (line.split() for line in listing.splitlines()) if len(f) == 2}
