"""Host keys and agent logins of our pulumi-resource-command, through the real CLI and the
unchanged pulumi-command SDK, against the sshd the fixtures start on 127.0.0.1: a `hostKey`
that is not the host's fails `up` naming the host and creates nothing; the right one runs the
command; an `agentSocketPath` (an ssh-agent the test starts) logs in with no `privateKey`, and
no private key text is in the state, even with --show-secrets."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from galera_swarm import known_hosts
from tests.providers.conftest import MEASUREMENTS, free_port
from tests.toolchain.pulumi_stack import REPO_ROOT, Stack

PROGRAM = REPO_ROOT / "tests" / "providers" / "programs" / "command_hostkey"
REMOTE = "command:remote:Command"


def other_host_key(tmp_path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                   check=True, timeout=30)
    return " ".join((tmp_path / "other.pub").read_text().split()[:2])


@pytest.fixture
def stack(tmp_path, plugins_ready, sshd):
    stack = Stack(PROGRAM, tmp_path, f"hostkey-{secrets.token_hex(3)}")
    stack.work_dir = tmp_path / "remote"
    stack.work_dir.mkdir()
    stack.events = lambda: ((stack.work_dir / "events.log").read_text().splitlines()
                            if (stack.work_dir / "events.log").exists() else [])
    stack.remotes = lambda: [r for r in json.loads(stack.pulumi("stack", "export").stdout)["deployment"]
                             .get("resources") or [] if r["type"] == REMOTE]
    try:
        stack.init(workDir=str(stack.work_dir), sshHost=sshd.host, sshPort=str(sshd.port))
        yield stack
    finally:
        stack.remove()


@pytest.fixture
def agent(tmp_path, sshd):
    """An ssh-agent on a socket of its own holding the sshd's client key; stopped at the end."""
    sock = tmp_path / "agent.sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline, "ssh-agent did not listen within 10 s"
            time.sleep(0.1)
        subprocess.run(["ssh-add", "-q", str(sshd.key_path)], env={"SSH_AUTH_SOCK": str(sock)},
                       check=True, timeout=30, capture_output=True)
        yield sock
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_wrong_host_key_fails_up_naming_the_host_and_creates_nothing(stack, sshd, tmp_path):
    stack.set_config("hostKey", other_host_key(tmp_path))
    stack.set_config("privateKey", sshd.private_key, secret=True)
    started = time.monotonic()
    result = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    MEASUREMENTS.append(f"command: a wrong hostKey refused in {time.monotonic() - started:.1f} s (whole `up`)")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"ssh: host key of {sshd.host}:{sshd.port} does not match connection.hostKey (host key mismatch" in output
    assert "failed attempts" not in output  # refused at once, not retried
    assert stack.events() == []
    assert stack.remotes() == []


def test_the_right_host_key_runs_the_command(stack, sshd):
    stack.set_config("hostKey", sshd.host_key)
    stack.set_config("privateKey", sshd.private_key, secret=True)
    stack.pulumi("up", "--yes", "--skip-preview")
    assert stack.events() == ["created"]
    assert json.loads(stack.pulumi("stack", "output", "--json").stdout)["remoteStdout"] == "ran"


def test_the_agent_logs_in_and_no_private_key_is_in_the_state(stack, sshd, agent):
    stack.set_config("hostKey", sshd.host_key)
    stack.set_config("agentSocketPath", str(agent))
    stack.pulumi("up", "--yes", "--skip-preview")
    assert stack.events() == ["created"]
    exported = stack.pulumi("stack", "export", "--show-secrets").stdout
    (remote,) = [r for r in json.loads(exported)["deployment"]["resources"] if r["type"] == REMOTE]
    connection = remote["inputs"]["connection"]
    # A secret shown with --show-secrets: {"<sig>": ..., "plaintext": "<JSON of the value>"}.
    connection = json.loads(connection["plaintext"]) if "plaintext" in connection else connection
    assert connection["agentSocketPath"] == str(agent)
    assert "privateKey" not in connection
    assert "PRIVATE KEY" not in exported
    for line in sshd.private_key.strip().splitlines()[1:-1]:
        assert line not in exported


def test_the_preview_key_scan_reads_the_hosts_key(sshd):
    # What __main__.py asks every host before anything runs (galera_swarm/known_hosts.py).
    assert known_hosts.keyscan(sshd.host, sshd.port).keys == (sshd.host_key,)
    assert known_hosts.keyscan(sshd.host, free_port()).keys == ()
