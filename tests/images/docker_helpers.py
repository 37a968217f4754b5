"""Small helpers over the docker CLI for the image contract tests.

Everything a test creates is named with the run's prefix (`gsimg-<hex>-...`) so the
fixtures can remove it, and so can a person after an aborted run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from components import etcd_discovery
from components.cluster_certificates import CA_FILE, CERT_FILE, KEY_FILE, tls_env
from components.galera_service import APP_PASSWORD_FILE, ETCD_PASSWORD_FILE, ROOT_PASSWORD_FILE, galera_env
from components.service_spec import SECRETS_DIR
from galera_swarm import tls

REPO = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO / "images"

ROOT_PASSWORD = "root-pw-'quoted'"
# Retired (state transfers need no password): only for the tests of its warning.
SST_PASSWORD = "sst-pw"
APP_USER = "wordpress"
APP_PASSWORD = "wp-pw"
APP_DATABASE = "wordpress"
# etcd's users (images/etcd): root, and galera, the Galera nodes' (no white space: etcdctl 3.4).
ETCD_ROOT_PASSWORD = "etcd-r00t-'pw'"
ETCD_GALERA_PASSWORD = "etcd-g4l-\"pw\""


class DockerError(AssertionError):
    pass


def docker(*args: str, check: bool = True, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, input=input
    )
    if check and proc.returncode != 0:
        raise DockerError(f"docker {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def remove_everything(prefix: str) -> None:
    """Remove containers, volumes and networks whose name starts with prefix."""
    names = docker("ps", "-aq", "--filter", f"name=^{prefix}", check=False).stdout.split()
    if names:
        docker("rm", "-f", "-v", *names, check=False, timeout=180)
    vols = [v for v in docker("volume", "ls", "-q", check=False).stdout.split() if v.startswith(prefix)]
    if vols:
        docker("volume", "rm", "-f", *vols, check=False)
    nets = [n for n in docker("network", "ls", "--format", "{{.Name}}", check=False).stdout.split() if n.startswith(prefix)]
    for net in nets:
        docker("network", "rm", net, check=False)


def write_etcd_secrets(secrets_dir: Path, root: str = ETCD_ROOT_PASSWORD,
                       galera: str = ETCD_GALERA_PASSWORD) -> None:
    """The etcd users' password files as swarm mounts them (the file names of EtcdDiscovery)."""
    for file_name, value in ((etcd_discovery.ROOT_PASSWORD_FILE, root), (etcd_discovery.GALERA_PASSWORD_FILE, galera)):
        (secrets_dir / file_name).write_text(value)
        (secrets_dir / file_name).chmod(0o644)


def new_secrets_dir() -> Path:
    """A directory for secret files (mounted at /run/secrets), holding the etcd users' files;
    the caller removes it."""
    secrets_dir = Path(tempfile.mkdtemp(prefix="gsimg-secrets-"))
    secrets_dir.chmod(0o755)
    write_etcd_secrets(secrets_dir)
    return secrets_dir


# The test clusters' Galera service name: their certificate's names (tls.node_names).
TLS_SERVICE_NAME = "gsimg-galera"
_ISSUED: dict[str, tuple[tls.KeyPair, tls.KeyPair]] = {}


def cluster_pki(ca_name: str = "gsimg CA") -> tuple[tls.KeyPair, tls.KeyPair]:
    """A CA named `ca_name` and a Galera node certificate it signed, as ClusterCertificates
    issues them (galera_swarm.tls); issued once per name and test session."""
    if ca_name not in _ISSUED:
        ca = tls.issue_ca(ca_name)
        _ISSUED[ca_name] = (ca, tls.issue_certificate(ca, TLS_SERVICE_NAME, tls.node_names(TLS_SERVICE_NAME)))
    return _ISSUED[ca_name]


def write_tls_files(directory: Path, ca: tls.KeyPair, node: tls.KeyPair) -> dict[str, Path]:
    """The TLS files under the swarm secrets' file names in `directory` (readable by all, like
    a bind mount of them would be); gives {file name: path}."""
    files = {CA_FILE: ca.certificate, CERT_FILE: node.certificate, KEY_FILE: node.private_key}
    paths = {}
    for name, text in files.items():
        paths[name] = directory / name
        paths[name].write_text(text)
        paths[name].chmod(0o644)
    return paths


# How long a test gives a rogue node to give up (it retries its peers for pc.wait_prim_timeout,
# 30 s, then aborts).
ROGUE_GIVE_UP_SECONDS = 90


def rogue_node_command(cluster_name: str, peer: str, tls_options: str | None = None) -> str:
    """A bash command for a container of the Galera image: a mariadbd with the cluster's name
    but none of our agent (fresh data, wsrep on, `peer` its only address), with
    `tls_options` as Galera's socket.ssl options if given. A node that reaches no Primary
    component gives up after Galera's pc.wait_prim_timeout (30 s): "Failed to open channel"."""
    options = f" --wsrep-provider-options='{tls_options}'" if tls_options else ""
    return (f"mariadb-install-db --user=mysql >/dev/null 2>&1; exec mariadbd --user=mysql --wsrep-on=ON "
            f"--wsrep-provider=/usr/lib/galera/libgalera_smm.so --wsrep-cluster-name={cluster_name} "
            f"--wsrep-cluster-address=gcomm://{peer} --binlog-format=ROW --wsrep-sst-method=mariabackup{options}")


def etcd_run_args(secrets_dir: Path) -> list[str]:
    """`docker run` arguments of an etcd member: its password files mounted like swarm secrets,
    and the image's variables naming them (etcd_discovery.auth_env)."""
    args = ["-v", f"{secrets_dir}:{SECRETS_DIR}:ro"]
    for key, value in etcd_discovery.auth_env().items():
        args += ["-e", f"{key}={value}"]
    return args


def etcdctl(container: str, *args: str, user: str | None = "root", check: bool = True) -> subprocess.CompletedProcess:
    """etcdctl in an etcd container, logged in as `user` with the container's password file
    (`etcdctl-as`), or with user None not logged in."""
    login = ["etcdctl-as", user] if user else ["etcdctl"]
    return docker("exec", container, *login, "--dial-timeout=2s", *args, check=check)


def etcd_answers(container: str) -> bool:
    return etcdctl(container, "endpoint", "health", check=False).returncode == 0


def wait_until(what: str, predicate, timeout: float, interval: float = 1.0):
    """Poll predicate until it returns a truthy value; fail naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def container_ip(name: str, network: str) -> str:
    fmt = "{{json .NetworkSettings.Networks}}"
    nets = json.loads(docker("inspect", "-f", fmt, name).stdout)
    return nets[network]["IPAddress"]


def published_port(name: str, port: int) -> str:
    """'127.0.0.1:NNNNN' published for the container's port."""
    out = docker("port", name, str(port)).stdout.split()
    return next(a for a in out if a.startswith("127.0.0.1:"))


def http_get(url: str, timeout: float = 10) -> tuple[int, str, dict]:
    """GET without following redirects: (status, body, headers)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace"), dict(err.headers)


@dataclass
class GaleraCluster:
    """etcd + N galera containers on one bridge network, all named `<prefix>-...`."""

    prefix: str
    network: str
    images: dict[str, str]
    size: int = 3
    env: dict[str, str] = field(default_factory=dict)
    root_password: str = ROOT_PASSWORD
    app_password: str = APP_PASSWORD
    # Which nodes read their passwords from files (docker secrets): "second" (index 1) or "all".
    secrets_as_files: str = "second"
    # Extra `docker create` arguments per node name (e.g. --health-* flags).
    extra_args: dict[str, list[str]] = field(default_factory=dict)
    # TLS between the nodes with cluster_pki()'s files, as the stack runs them (tls_env).
    tls: bool = True

    @property
    def etcd(self) -> str:
        return f"{self.prefix}-etcd"

    @property
    def alias(self) -> str:
        """DNS name that resolves to every galera container (like tasks.<service>)."""
        return f"{self.prefix}-galera"

    @property
    def nodes(self) -> list[str]:
        return [f"{self.prefix}-g{i}" for i in range(1, self.size + 1)]

    def create(self) -> None:
        # Passwords as files like docker secrets (one directory for all nodes and etcd), or as values.
        self.secrets_dir = new_secrets_dir()
        self.run_etcd()
        # The environment the stack gives a task (components/galera_service.py), with shorter
        # waits; every galera container answers to the alias, as tasks.<service> does in a swarm.
        self.base_env = {
            **galera_env(cluster_name="gsimg", discovery_endpoint=f"{self.etcd}:2379",
                         peers_dns=self.alias, cluster_size=self.size, database=APP_DATABASE,
                         user=APP_USER),
            **(tls_env() if self.tls else {}),
            "RECOVERY_WAIT_TIMEOUT": "90",
            "ETCD_WAIT_TIMEOUT": "30",
            **self.env,
        }
        self.tls_files = write_tls_files(self.secrets_dir, *cluster_pki()) if self.tls else {}
        self.write_secrets(root=self.root_password, app=self.app_password)
        for node in self.nodes:
            self.create_node(node)
        wait_until("etcd to answer", lambda: etcd_answers(self.etcd), 30)

    # Password -> (the variable holding it, the swarm secret's file name in /run/secrets).
    SECRETS = {"root": ("MYSQL_ROOT_PASSWORD", ROOT_PASSWORD_FILE), "app": ("MYSQL_PASSWORD", APP_PASSWORD_FILE),
               "etcd": ("ETCD_PASSWORD", ETCD_PASSWORD_FILE)}

    def write_secrets(self, **passwords: str) -> None:
        """(Re)write the secret files (keys root, app); a node reads them when it starts."""
        for short, value in passwords.items():
            secret = self.secrets_dir / self.SECRETS[short][1]
            secret.write_text(value)
            secret.chmod(0o644)

    def uses_files(self, node: str) -> bool:
        return self.secrets_as_files == "all" or self.nodes.index(node) == 1

    def create_node(self, node: str) -> None:
        args = ["create", "--name", node, "--hostname", node, "--network", self.network,
                "--network-alias", self.alias, "-v", f"{node}-data:/var/lib/mysql",
                *self.extra_args.get(node, [])]
        env = dict(self.base_env)
        if self.uses_files(node):
            args += ["-v", f"{self.secrets_dir}:/run/secrets:ro"]
        else:
            # The TLS files are files on every node (as swarm secrets are).
            for name, path in self.tls_files.items():
                args += ["-v", f"{path}:{SECRETS_DIR}/{name}:ro"]
            # VAR instead of VAR_FILE (never both).
            values = {"root": self.root_password, "app": self.app_password, "etcd": ETCD_GALERA_PASSWORD}
            for short, (key, _) in self.SECRETS.items():
                del env[f"{key}_FILE"]
                env[key] = values[short]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        docker(*args, self.images["galera"])

    def recreate(self, node: str, wipe: bool = False) -> None:
        """Remove the container (and with wipe its data volume) and create it again, stopped."""
        docker("rm", "-f", node, timeout=180)
        if wipe:
            docker("volume", "rm", "-f", f"{node}-data")
        self.create_node(node)

    def run_etcd(self) -> None:
        docker("run", "-d", "--name", self.etcd, "--hostname", self.etcd, "--network", self.network,
               *etcd_run_args(self.secrets_dir), self.images["etcd"])

    def wipe_etcd(self) -> None:
        """etcd restarted without its data (its container and volume replaced)."""
        docker("rm", "-f", "-v", self.etcd)
        self.run_etcd()
        wait_until("the new etcd to answer", lambda: etcd_answers(self.etcd), 30)

    @staticmethod
    def etcd_key(key: str) -> str:
        """The full etcd key of `key` under the test clusters' prefix (CLUSTER_NAME gsimg)."""
        return f"/galera/gsimg/{key}"

    def etcd_get(self, key: str) -> str:
        return etcdctl(self.etcd, "get", "--print-value-only", self.etcd_key(key), check=False).stdout.strip()

    def health_status(self, node: str) -> str:
        return docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                      node, check=False).stdout.strip()

    def remove_files(self) -> None:
        if getattr(self, "secrets_dir", None):
            shutil.rmtree(self.secrets_dir, ignore_errors=True)

    def start(self, *nodes: str) -> None:
        docker("start", *nodes)

    def sql(self, node: str, query: str, check: bool = True, host: str | None = None,
            user: str = "root", password: str | None = None, database: str | None = None,
            port: int | None = None) -> str:
        """Run SQL inside `node` with the mariadb client (to `host`:`port` over TCP with `host`);
        tab-separated rows without header."""
        args = ["exec", node, "mariadb", "-N", "-B", f"-u{user}"]
        if host:
            args += ["-h", host, "--connect-timeout=5"]
        if port:
            args += ["-P", str(port)]
        if password:
            args += [f"-p{password}"]
        if database:
            args += [database]
        args += ["-e", query]
        proc = docker(*args, check=check, timeout=60)
        return proc.stdout.strip()

    @property
    def wordpress_db_ssl(self) -> str:
        """WORDPRESS_DB_SSL for a WordPress of this cluster, as the stack sets it (its db_tls is
        tls.enabled): the application account then takes sessions only over TLS."""
        return "true" if self.tls else "false"

    @property
    def ca_file(self) -> Path | None:
        """The cluster CA's PEM, for the tests' TLS clients (sql_client.connect); None without TLS."""
        return self.tls_files.get(CA_FILE)

    def login(self, node: str, user: str, password: str, via: str | None = None,
              os_user: str | None = None, tls: bool = True) -> str:
        """CURRENT_USER() of a password login to `node` (over TCP from `via`, with TLS unless
        `tls` is False; or with os_user over the socket of `node` itself), or the client's
        error text."""
        args = ["exec"]
        if os_user:
            args += ["-u", os_user]
        args += [via or node, "mariadb", "-N", "-B", f"-u{user}", f"-p{password}"]
        if not os_user:
            args += ["-h", node, "--connect-timeout=5"] + ([] if tls else ["--skip-ssl"])
        proc = docker(*args, "-e", "SELECT CURRENT_USER()", check=False, timeout=60)
        return (proc.stdout + proc.stderr).strip()

    def status(self, node: str) -> dict[str, str]:
        out = self.sql(node, "SHOW GLOBAL STATUS LIKE 'wsrep_%'", check=False)
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def is_synced(self, node: str, size: int | None = None) -> bool:
        st = self.status(node)
        return (st.get("wsrep_local_state") == "4" and st.get("wsrep_cluster_status") == "Primary"
                and (size is None or st.get("wsrep_cluster_size") == str(size)))

    def wait_all_synced(self, timeout: float = 180, nodes: list[str] | None = None) -> None:
        nodes = nodes or self.nodes
        wait_until(f"{nodes} Synced in a cluster of {len(nodes)}",
                   lambda: all(self.is_synced(n, len(nodes)) for n in nodes), timeout, interval=2)

    def logs(self, node: str, since: str | None = None) -> str:
        args = ["logs"]
        if since:
            args += ["--since", since]
        proc = docker(*args, node, check=False)
        return proc.stdout + proc.stderr

    def entrypoint_lines(self, node: str, since: str | None = None) -> list[str]:
        return [line for line in self.logs(node, since).splitlines() if "[galera-entrypoint]" in line]

    def decisions(self, node: str, since: str | None = None) -> list[str]:
        return [line for line in self.entrypoint_lines(node, since) if "decision:" in line]

    def bootstrap_nodes(self, since: str | None = None) -> dict[str, list[str]]:
        out = {}
        for node in self.nodes:
            lines = [d for d in self.decisions(node, since) if "decision: bootstrap" in d]
            if lines:
                out[node] = lines
        return out

    def positions(self, since: str | None = None) -> dict[str, tuple[str, int]]:
        """Each node's published position from its log line 'position: <uuid>:<seqno>'."""
        pattern = re.compile(r"position: ([0-9a-f-]{36}):(-?\d+)")
        out = {}
        for node in self.nodes:
            for line in self.entrypoint_lines(node, since):
                if m := pattern.search(line):
                    out[node] = (m.group(1), int(m.group(2)))
        return out

    def dump_logs(self) -> str:
        parts = []
        for node in [self.etcd, *self.nodes]:
            parts.append(f"===== {node}\n" + "\n".join(self.logs(node).splitlines()[-60:]))
        return "\n".join(parts)


# Before a script beside etcd: etcdctl logs in as root, galera-agent as galera, both with the
# password files (mounted at /run/secrets), never a password on a command line.
ETCD_LOGIN_PRELUDE = (
    f'export ETCDCTL_USER=root ETCDCTL_PASSWORD="$(cat {SECRETS_DIR}/{etcd_discovery.ROOT_PASSWORD_FILE})" '
    f'ETCD_PASSWORD_FILE={SECRETS_DIR}/{ETCD_PASSWORD_FILE}\n')


def run_beside_etcd(images: dict[str, str], network: str, name: str, script: str, timeout: float = 90) -> str:
    """Run the bash `script` in a throwaway galera container that shares the network namespace of
    a fresh etcd (at 127.0.0.1:2379, also for etcdctl; both log in: ETCD_LOGIN_PRELUDE), with
    NET_ADMIN to add addresses; its stdout (give 2>&1 for the log). The etcd container
    `name`-etcd is removed afterwards."""
    etcd = f"{name}-etcd"
    secrets_dir = new_secrets_dir()
    docker("run", "-d", "--name", etcd, "--hostname", etcd, "--network", network,
           *etcd_run_args(secrets_dir), images["etcd"])
    try:
        wait_until("etcd to answer", lambda: etcd_answers(etcd), 30)
        return docker("run", "--rm", "--cap-add", "NET_ADMIN", "--network", f"container:{etcd}",
                      "-v", f"{secrets_dir}:{SECRETS_DIR}:ro", "--entrypoint", "bash", images["galera"],
                      "-c", ETCD_LOGIN_PRELUDE + script, timeout=timeout).stdout
    finally:
        docker("rm", "-f", "-v", etcd, check=False)
        shutil.rmtree(secrets_dir, ignore_errors=True)
