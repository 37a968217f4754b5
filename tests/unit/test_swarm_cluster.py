"""SwarmCluster: which command runs where, with which token, and what destroy does."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.unit.conftest import is_secret, node_id, resolve, secret_input

COMMAND = "command:remote:Command"


def connection_host(recorded) -> str:
    return secret_input(recorded.inputs["connection"])["host"]


def test_init_runs_on_the_first_manager_and_joins_carry_the_role_token(program):
    run = program(hosts=[
        {"name": "docker1", "address": "192.0.2.11"},
        {"name": "docker2", "address": "192.0.2.12"},
        {"name": "docker3", "address": "192.0.2.13"},
        {"name": "worker1", "address": "192.0.2.21", "role": "worker"},
    ])
    init = run.mocks.named("swarm-init-docker1")
    assert connection_host(init) == "192.0.2.11"
    assert "docker swarm init --advertise-addr 192.0.2.11" in init.inputs["create"]

    manager_token = run.mocks.named("swarm-manager-token").outputs["stdout"].strip()
    worker_token = run.mocks.named("swarm-worker-token").outputs["stdout"].strip()
    for host, address, token in [("docker2", "192.0.2.12", manager_token),
                                 ("docker3", "192.0.2.13", manager_token),
                                 ("worker1", "192.0.2.21", worker_token)]:
        join = run.mocks.named(f"swarm-join-{host}")
        assert connection_host(join) == address
        # The token arrives on stdin, as a secret, never in the command line.
        assert secret_input(join.inputs["stdin"]) == token
        assert token not in join.inputs["create"]
        assert "192.0.2.11:2377" in join.inputs["create"]


def test_node_settings_apply_availability_and_labels_on_the_leader(program):
    run = program(hosts=[
        {"name": "docker1", "address": "192.0.2.11"},
        {"name": "docker2", "address": "192.0.2.12", "labels": {"db": "true", "zone": "b"}},
        {"name": "docker3", "address": "192.0.2.13"},
    ])
    node = run.mocks.named("swarm-node-docker2")
    assert connection_host(node) == "192.0.2.11"
    assert f"docker node update --availability active --label-add db=true --label-add zone=b {node_id('docker2')}" \
        in node.inputs["create"]
    assert resolve(run.program["swarm"].node_ids) == {
        "docker1": node_id("docker1"), "docker2": node_id("docker2"), "docker3": node_id("docker3")}


def test_destroy_demotes_leaves_and_forgets_every_joined_host(program):
    run = program()
    assert "docker swarm leave --force" in run.mocks.named("swarm-init-docker1").inputs["delete"]
    for host, address in [("docker2", "192.0.2.12"), ("docker3", "192.0.2.13")]:
        assert "docker swarm leave --force" in run.mocks.named(f"swarm-join-{host}").inputs["delete"]
        assert f"docker node demote {node_id(host)}" in run.mocks.named(f"swarm-node-{host}").inputs["delete"]
        forget = run.mocks.named(f"swarm-forget-{host}")
        assert connection_host(forget) == "192.0.2.11"
        assert f"= {address} ]" in forget.inputs["delete"] and "docker node rm --force" in forget.inputs["delete"]
    # The leader is never demoted: its init's delete dissolves the swarm.
    assert "delete" not in run.mocks.named("swarm-node-docker1").inputs


def test_join_tokens_are_secret_outputs(program):
    swarm = program().program["swarm"]
    assert is_secret(swarm.manager_join_token) and is_secret(swarm.worker_join_token)
    assert resolve(swarm.manager_join_token) == "SWMTKN-1-manager-token"


def test_swarm_init_prints_no_join_command(program):
    # `docker swarm init` answers with a ready `docker swarm join --token ...` line; whatever a
    # command prints lands in the CLI's log and in the state.
    init = program().mocks.named("swarm-init-docker1").inputs["create"]
    line = next(l for l in init.splitlines() if "docker swarm init" in l)
    assert line.rstrip().endswith(">/dev/null")


def test_token_commands_do_not_stream_their_stdout_to_the_log(program):
    run = program()
    for role in ("manager", "worker"):
        assert run.mocks.named(f"swarm-{role}-token").inputs["logging"] == "stderr"
    # Commands whose stdout is no secret keep the default (both streams).
    assert "logging" not in run.mocks.named("swarm-init-docker1").inputs


@pytest.mark.parametrize("host_count,commands", [
    # init + 2 tokens + settings for the leader; forget + join + settings per other host.
    (1, 4), (3, 10), (5, 16)])
def test_command_counts_grow_with_hosts(program, host_count, commands):
    run = program(host_count=host_count)
    kinds = Counter(r.name.split("-")[1] for r in run.mocks.of_type(COMMAND) if r.name.startswith("swarm-"))
    assert sum(kinds.values()) == commands
    assert kinds["join"] == kinds["forget"] == host_count - 1
    assert kinds["node"] == host_count
    assert len(run.mocks.of_type("pulumi:providers:docker")) == 1


def test_worker_only_hosts_join_with_the_worker_token(program):
    run = program(hosts=[{"name": "m1", "address": "192.0.2.11"}] + [
        {"name": f"w{i}", "address": f"192.0.2.{20 + i}", "role": "worker"} for i in (1, 2, 3)])
    joins = [r for r in run.mocks.of_type(COMMAND) if "-join-" in r.name]
    assert len(joins) == 3
    assert {secret_input(j.inputs["stdin"]) for j in joins} == {"SWMTKN-1-worker-token"}


def test_docker_provider_is_bound_to_the_leader_over_ssh(program, key_path):
    (provider,) = program().mocks.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://root@192.0.2.11:22"
    assert json.loads(provider.inputs["sshOpts"]) == [
        "-i", str(key_path.resolve()), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
