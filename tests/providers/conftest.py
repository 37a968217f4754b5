"""Fixtures of the provider conformance stacks: the toolchain with both plugins installed,
an sshd on 127.0.0.1 that the tests start (the "remote host" of remote commands, and the
SSH hop of the docker provider), a single-node swarm on this machine's engine, and a small
long-running image its services run. Everything started here is stopped here."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.toolchain.pulumi_stack import REPO_ROOT, toolchain_env

SSHD = "/usr/sbin/sshd"
# Figures measured during the run, printed at the end (never asserted on).
MEASUREMENTS: list[str] = []
# A service task needs a process that stays up; the base image's default command exits.
CONFORMANCE_IMAGE = "galera-swarm-conformance:dev"
CONFORMANCE_DOCKERFILE = 'FROM debian:bookworm-slim\nCMD ["sleep", "infinity"]\n'


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("provider conformance measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


# Labels our docker plugin sets on what it creates and hides from the state (the owner's URN,
# a payload digest): providers/docker/ownership.go `ownLabelPrefix`, CONTRACT.md#docker-adoption.
OWN_LABEL_PREFIX = "com.galera-swarm.pulumi."


def user_labels(labels: dict[str, str] | None) -> dict[str, str]:
    """An object's Docker labels without the ones our plugin keeps for itself."""
    return {k: v for k, v in (labels or {}).items() if not k.startswith(OWN_LABEL_PREFIX)}


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run the docker CLI against this machine's engine; returns stdout."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result.stdout


def installed_plugins(env: dict[str, str]) -> dict[str, str]:
    """`pulumi plugin ls --json` as {name: version} for resource plugins."""
    listed = subprocess.run(["pulumi", "plugin", "ls", "--json"], env=env, capture_output=True,
                            text=True, check=True, timeout=60).stdout
    return {p["name"]: p["version"] for p in json.loads(listed or "[]") if p["kind"] == "resource"}


@pytest.fixture(scope="session")
def plugins_ready() -> dict[str, str]:
    env = toolchain_env()
    versions = dict(line.split("=", 1) for line in
                    (REPO_ROOT / "toolchain" / "versions.env").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    plugins = installed_plugins(env)
    wanted = {"docker": versions["PULUMI_DOCKER_VERSION"], "command": versions["PULUMI_COMMAND_VERSION"]}
    assert {k: plugins.get(k) for k in wanted} == wanted, (
        f"plugins installed: {plugins}; run toolchain/bootstrap.sh")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SshServer:
    """An OpenSSH server on 127.0.0.1 that lets root in with `key_path`; `host_key` is its
    public host key (`TYPE BASE64`)."""
    host: str
    port: int
    user: str
    key_path: Path
    private_key: str
    host_key: str = ""
    # A known_hosts file holding host_key for [host]:port, hashed as `ssh-keyscan -H` writes it.
    known_hosts: Path = Path("/dev/null")

    @property
    def ssh_opts(self) -> list[str]:
        """The program's sshOpts for a checked host key (components/swarm_cluster.py's form)."""
        return ["-i", str(self.key_path), "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}"]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """sshd -D on a free loopback port, key login for root, a few names accepted by AcceptEnv."""
    assert Path(SSHD).exists(), f"{SSHD} is missing: apt-get install openssh-server"
    workdir = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / key)],
                       check=True, timeout=30)
    (workdir / "authorized_keys").write_text((workdir / "client_key.pub").read_text())
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {workdir / 'host_key'}
PidFile {workdir / 'sshd.pid'}
AuthorizedKeysFile {workdir / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
AcceptEnv CONFORMANCE_* PULUMI_COMMAND_*
AllowStreamLocalForwarding yes
""")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    log = (workdir / "sshd.log").open("w")
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, f"sshd exited: {(workdir / 'sshd.log').read_text()}"
                assert time.monotonic() < deadline, "sshd did not listen within 20 s"
                time.sleep(0.2)
        host_key = " ".join((workdir / "host_key.pub").read_text().split()[:2])
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_key}\n")
        subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known_hosts)], check=True, timeout=30,
                       capture_output=True)
        yield SshServer("127.0.0.1", port, "root", workdir / "client_key",
                        (workdir / "client_key").read_text(), host_key, known_hosts)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def swarm_engine():
    """This machine's engine in single-node swarm mode; left again if this fixture joined it."""
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()
    initialised = state != "active"
    had_gateway_bridge = bool(docker("network", "ls", "-q", "--filter", "name=^docker_gwbridge$").strip())
    if initialised:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        if initialised:
            docker("swarm", "leave", "--force", check=False)
            # Swarm made this bridge for its tasks and leaves it behind.
            if not had_gateway_bridge:
                docker("network", "rm", "docker_gwbridge", check=False)


@pytest.fixture(scope="session")
def conformance_image() -> str:
    """A tiny image whose task stays up; built from the project's Debian base image."""
    if not docker("image", "ls", "-q", "debian:bookworm-slim").strip():
        subprocess.run(["bash", str(REPO_ROOT / "images" / "make-base.sh")], check=True, timeout=900)
    subprocess.run(["docker", "build", "-q", "-t", CONFORMANCE_IMAGE, "-"],
                   input=CONFORMANCE_DOCKERFILE, text=True, check=True, capture_output=True,
                   timeout=300, env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/bin:/bin:/usr/sbin:/usr/local/bin"})
    return CONFORMANCE_IMAGE


def assert_refused_by_name(stack, bad_input_key: str, property_path: str) -> None:
    """Turn on the program's `bad_input_key` (which makes it pass a property the plugin does
    not implement) and check that `pulumi preview` fails naming `property_path`; the key is
    removed again either way."""
    stack.set_config(bad_input_key, "true")
    try:
        result = stack.pulumi("preview", check=False)
    finally:
        stack.pulumi("config", "rm", bad_input_key)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert property_path in output and "does not support" in output, output
