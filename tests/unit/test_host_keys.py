"""SSH host keys and logins: every host's key read from known_hosts (or pinned) at preview, a
host that answers with another key refused before anything runs, the key on every command
connection and the docker provider held to known_hosts; with the agent no private key in any
resource; and values read from hosts validated before a script gets them."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from components.swarm_cluster import SwarmHost, join_token_from, node_id_from
from galera_swarm import known_hosts
from galera_swarm.settings import ConfigError, parse_settings
from tests.unit.conftest import NAMESPACE, PASSWORDS, SwarmMocks, run_program, secret_input, stack_config

COMMAND = "command:remote:Command"
SECRET_KEYS = {f"{NAMESPACE}:{k}" for k in PASSWORDS}


def public_key(tmp_path: Path, name: str, key_type: str = "ed25519") -> str:
    """A fresh public key as `TYPE BASE64` (what a host's ssh_host_*_key.pub holds)."""
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-f", str(tmp_path / name)],
                   check=True, timeout=60)
    return " ".join((tmp_path / f"{name}.pub").read_text().split()[:2])


@pytest.fixture
def lab_keys(tmp_path):
    """Host keys of docker1..3 (docker1 with an RSA key too) in a hashed known_hosts file."""
    keys = {f"192.0.2.{10 + i}": public_key(tmp_path, f"host{i}") for i in (1, 2, 3)}
    rsa = public_key(tmp_path, "host1-rsa", "rsa")
    file = tmp_path / "known_hosts"
    file.write_text(f"192.0.2.11 {rsa}\n" + "".join(f"{addr} {key}\n" for addr, key in keys.items()))
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(file)], check=True, timeout=30, capture_output=True)
    assert "192.0.2.11" not in file.read_text()  # hashed, as `ssh-keyscan -H` writes it
    return file, keys, rsa


def checked_config(key_path, known_hosts_file, **ssh):
    return stack_config(key_path, ssh={"user": "root", "privateKeyPath": str(key_path),
                                       "knownHostsPath": str(known_hosts_file), **ssh})


def scanner(offered: dict[str, list[str]]):
    return lambda address, port: known_hosts.Offered(address, tuple(offered.get(address, ())))


@pytest.fixture
def hosts_answer(monkeypatch):
    """Make the preview's key scan see `offered` (address -> keys) instead of the network."""
    def answer(offered):
        monkeypatch.setattr(known_hosts, "keyscan", scanner(offered))
    return answer


# ------------------------------------------------------------------ known_hosts lookups
def test_hashed_entries_are_found_and_ed25519_is_preferred(key_path, lab_keys):
    file, keys, rsa = lab_keys
    s = parse_settings(checked_config(key_path, file), SECRET_KEYS)
    assert sorted(known_hosts.lookup(file, "192.0.2.11")) == sorted([rsa, keys["192.0.2.11"]])
    assert known_hosts.expected_host_keys(s.hosts, s.ssh, s.leader) == keys


@pytest.mark.parametrize("address,port,name", [("192.0.2.11", 22, "192.0.2.11"),
                                               ("192.0.2.11", 2222, "[192.0.2.11]:2222"),
                                               ("2001:db8::2", 2222, "[2001:db8::2]:2222")])
def test_known_hosts_names_other_ports_in_brackets(address, port, name):
    assert known_hosts.known_hosts_name(address, port) == name


def test_a_host_missing_from_known_hosts_is_a_config_error_with_the_keyscan_fix(key_path, tmp_path):
    file = tmp_path / "known_hosts"
    file.write_text(f"192.0.2.11 {public_key(tmp_path, 'h1')}\n")
    s = parse_settings(checked_config(key_path, file), SECRET_KEYS)
    with pytest.raises(ConfigError) as err:
        known_hosts.expected_host_keys(s.hosts, s.ssh, s.leader)
    assert err.value.problems[0] == (
        f"galera-swarm:hosts[1].address: docker2 (192.0.2.12) is not in ssh.knownHostsPath ({file}); verify the "
        "host's fingerprint on the host (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then add it: "
        f"`ssh-keyscan -H -p 22 192.0.2.12 >> {file}` (and compare `ssh-keygen -lf {file}`), or set hosts[1].hostKey")
    assert len(err.value.problems) == 2


def test_a_missing_known_hosts_file_is_a_config_error(key_path, tmp_path):
    s = parse_settings(checked_config(key_path, tmp_path / "nowhere"), SECRET_KEYS)
    with pytest.raises(ConfigError) as err:
        known_hosts.expected_host_keys(s.hosts, s.ssh, s.leader)
    assert err.value.problems[0].startswith(f"galera-swarm:ssh.knownHostsPath: no file at {tmp_path / 'nowhere'}; ")


def test_without_ssh_keygen_the_file_cannot_be_read_and_says_so(key_path, lab_keys):
    file, _, _ = lab_keys
    s = parse_settings(checked_config(key_path, file), SECRET_KEYS)

    def missing(path, name):
        raise FileNotFoundError(2, "No such file or directory: 'ssh-keygen'")
    with pytest.raises(ConfigError) as err:
        known_hosts.expected_host_keys(s.hosts, s.ssh, s.leader, find=missing)
    assert err.value.problems == [
        f"galera-swarm:ssh.knownHostsPath: cannot read {file} with OpenSSH's ssh-keygen ([Errno 2] No such file "
        "or directory: 'ssh-keygen'); install the OpenSSH client"]


def test_a_pinned_host_key_needs_no_entry_but_the_leader_does(key_path, tmp_path):
    leader_key, pinned = public_key(tmp_path, "h1"), public_key(tmp_path, "h2")
    file = tmp_path / "known_hosts"
    file.write_text(f"192.0.2.11 {leader_key}\n")
    config = checked_config(key_path, file)
    config["hosts"] = [{"name": "docker1", "address": "192.0.2.11"},
                       {"name": "docker2", "address": "192.0.2.12", "hostKey": pinned + " root@docker2"}]
    config["galera"], config["loadBalancer"], config["wordpress"] = {"replicas": 1}, {"replicas": 1}, {"replicas": 1}
    config["hosts"][1]["role"] = "worker"
    s = parse_settings(config, SECRET_KEYS)
    assert known_hosts.expected_host_keys(s.hosts, s.ssh, s.leader) == {"192.0.2.11": leader_key, "192.0.2.12": pinned}
    # The leader pinned to a key its known_hosts entry does not hold: the docker provider would refuse it.
    config["hosts"][0]["hostKey"] = pinned
    s = parse_settings(config, SECRET_KEYS)
    with pytest.raises(ConfigError) as err:
        known_hosts.expected_host_keys(s.hosts, s.ssh, s.leader)
    assert err.value.problems[0].startswith(
        "galera-swarm:hosts[0].hostKey: docker1 (192.0.2.11) is the first manager, where the docker provider connects")


@pytest.mark.parametrize("line", ["ssh-ed25519", "ssh-ed25519 not-base64!", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIO",
                                  "AAAAC3NzaC1lZDI1NTE5AAAAIO ssh-ed25519"])
def test_a_host_key_that_is_no_public_key_line_is_refused(key_path, line):
    config = stack_config(key_path)
    config["hosts"][1]["hostKey"] = line
    with pytest.raises(ConfigError) as err:
        parse_settings(config, SECRET_KEYS)
    assert err.value.problems == [
        f"galera-swarm:hosts[1].hostKey: {line!r} is not an SSH public key line like 'ssh-ed25519 AAAAC3Nz...' "
        "(what `ssh-keyscan -t ed25519 HOST` prints after the host name, or the host's "
        "/etc/ssh/ssh_host_ed25519_key.pub)"]


def test_agent_and_a_key_file_are_one_login_too_many(key_path):
    with pytest.raises(ConfigError) as err:
        parse_settings(stack_config(key_path, ssh={"privateKeyPath": str(key_path), "agent": True}), SECRET_KEYS)
    assert err.value.problems == [
        "galera-swarm:ssh.privateKeyPath: with ssh.agent the key stays in the agent; remove ssh.privateKeyPath "
        "(or set agent: false to log in with the key file)"]


# ------------------------------------------------------------------ the program
def test_every_command_connection_carries_its_hosts_key_and_the_provider_checks_known_hosts(
        key_path, lab_keys, hosts_answer):
    file, keys, rsa = lab_keys
    hosts_answer({addr: [key, rsa] for addr, key in keys.items()})
    run = run_program(checked_config(key_path, file))
    commands = run.mocks.of_type(COMMAND)
    assert len(commands) > 10
    for cmd in commands:
        conn = secret_input(cmd.inputs["connection"])
        assert conn["hostKey"] == keys[conn["host"]], cmd.name
    (provider,) = run.mocks.of_type("pulumi:providers:docker")
    assert json.loads(provider.inputs["sshOpts"]) == [
        "-i", str(key_path.resolve()), "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={file.resolve()}"]


def test_a_host_answering_with_another_key_stops_the_program_before_any_resource(
        key_path, lab_keys, hosts_answer, tmp_path):
    file, keys, _ = lab_keys
    impostor = public_key(tmp_path, "impostor")
    hosts_answer({**{addr: [key] for addr, key in keys.items()}, "192.0.2.12": [impostor]})
    mocks = SwarmMocks()
    with pytest.raises(Exception) as caught:
        run_program(checked_config(key_path, file), mocks=mocks)
    offered = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "impostor.pub")], capture_output=True,
                             text=True, check=True).stdout.split()[1]
    recorded = known_hosts.fingerprint(keys["192.0.2.12"])
    assert (f"galera-swarm:hosts[1]: ssh: host key of docker2 (192.0.2.12:22) does not match ssh.knownHostsPath "
            f"({file}): it offered {offered}, expected {recorded}; someone else may be answering at its "
            "address") in str(caught.value)
    assert mocks.custom() == []


def test_a_host_that_does_not_answer_the_key_scan_only_warns(key_path, lab_keys):
    file, keys, _ = lab_keys
    s = parse_settings(checked_config(key_path, file), SECRET_KEYS)
    expected = known_hosts.expected_host_keys(s.hosts, s.ssh, s.leader)
    answers = {addr: [key] for addr, key in keys.items() if addr != "192.0.2.13"}
    assert known_hosts.check_offered(s.hosts, expected, s.ssh, scanner(answers)) == [
        "galera-swarm:hosts[2]: docker3 (192.0.2.13:22) did not answer an SSH key scan; its host key is "
        "checked when the commands connect"]


def test_the_lab_setting_sends_no_host_key(program):
    run = program()
    assert all("hostKey" not in secret_input(c.inputs["connection"]) for c in run.mocks.of_type(COMMAND))


@pytest.fixture
def agent_socket(tmp_path, monkeypatch):
    path = tmp_path / "agent.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(path))
    yield path
    server.close()


def everything_recorded(run) -> str:
    return json.dumps([[r.inputs, r.outputs] for r in run.mocks.resources], default=str)


def test_with_the_agent_no_resource_holds_the_private_key(key_path, lab_keys, hosts_answer, agent_socket):
    file, keys, _ = lab_keys
    hosts_answer({addr: [key] for addr, key in keys.items()})
    key_text = key_path.read_text().strip().splitlines()[1]
    # With the key file, every command holds its text (encrypted by the engine, but there).
    with_file = run_program(checked_config(key_path, file))
    assert key_text in everything_recorded(with_file)

    config = stack_config(key_path, ssh={"agent": True, "knownHostsPath": str(file)})
    run = run_program(config)
    assert key_text not in everything_recorded(run)
    commands = run.mocks.of_type(COMMAND)
    assert commands and all("privateKey" not in secret_input(c.inputs["connection"]) for c in commands)
    (provider,) = run.mocks.of_type("pulumi:providers:docker")
    assert "-i" not in json.loads(provider.inputs["sshOpts"])


def test_the_agent_without_an_agent_socket_is_refused(key_path, lab_keys, monkeypatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with pytest.raises(Exception) as caught:
        run_program(stack_config(key_path, ssh={"agent": True, "ignoreHostKey": True}))
    assert "galera-swarm:ssh.agent: SSH_AUTH_SOCK (unset) is no agent socket; start an agent" in str(caught.value)


# ------------------------------------------------------------------ values read from hosts
HOST = SwarmHost(key="docker2", name="docker2", address="192.0.2.12", advertise_address="192.0.2.12",
                 role="manager", availability="active", labels={})


@pytest.mark.parametrize("printed,ok", [
    ("k2x9c4m1q8w7e6r5t4y3u2i1o\n", True),
    ("k2x9c4m1q8w7e6r5t4y3u2i1", False),            # 24 characters
    ("K2X9C4M1Q8W7E6R5T4Y3U2I1O", False),           # swarm prints lowercase
    ("abc'; docker swarm leave --force; echo '", False),
    ("", False)])
def test_a_node_id_read_from_a_host_must_be_a_swarm_node_id(printed, ok):
    if ok:
        assert node_id_from(printed, HOST, "docker swarm join") == printed.strip()
        return
    with pytest.raises(ValueError) as err:
        node_id_from(printed, HOST, "docker swarm join")
    assert str(err.value).startswith(f"docker swarm join on docker2 (192.0.2.12) printed {printed.strip()!r} where "
                                     "a swarm node id (25 lowercase letters and digits) belongs")


@pytest.mark.parametrize("printed,ok", [
    ("SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx\n", True),
    ("SWMTKN-1-abc; rm -rf /", False), ("docker swarm join --token SWMTKN-1-abc 192.0.2.11:2377", False)])
def test_a_join_token_read_from_the_leader_must_be_a_join_token_and_is_never_quoted(printed, ok):
    if ok:
        assert join_token_from(printed, "manager", HOST) == printed.strip()
        return
    with pytest.raises(ValueError) as err:
        join_token_from(printed, "manager", HOST)
    assert "are not a swarm join token (SWMTKN-1-...)" in str(err.value)
    assert "abc" not in str(err.value)


def test_a_host_printing_no_node_id_stops_the_program(key_path):
    class Tampered(SwarmMocks):
        @staticmethod
        def _command_stdout(name, inputs):
            if name == "swarm-join-docker2":
                return "x'; docker swarm leave --force #\n"
            return SwarmMocks._command_stdout(name, inputs)

    mocks = Tampered()
    with pytest.raises(Exception) as caught:
        run_program(stack_config(key_path), mocks=mocks)
    assert "docker swarm join on docker2 (192.0.2.12) printed" in str(caught.value)
    # The leader's script that would have held the value was never registered.
    assert "swarm-node-docker2" not in [r.name for r in mocks.resources]
