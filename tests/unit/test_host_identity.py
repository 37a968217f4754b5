"""Changing hosts: a rename or reorder keeps every node's resources (the names the engine sees),
a change of the leader, a re-address or a removal on a legacy stack is refused at preview with
its fix, and a removed host goes through the removal gate before it leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi.runtime import mocks as mock_runtime

from components.swarm_cluster import SwarmHost, forget_script, leave_script, node_leave_script, removal_gate_script
from galera_swarm.lifecycle import (CHECKPOINT_READ_ATTEMPTS, CHECKPOINT_READ_RACE, KnownHost, PreviousDeployment,
                                    plan_hosts)
from galera_swarm.settings import ConfigError, parse_settings
from tests.unit.conftest import PASSWORDS, SwarmMocks, node_id, previous_outputs, resolve, run_program, stack_config

COMMAND = "command:remote:Command"
LAB = [("docker1", "192.0.2.11"), ("docker2", "192.0.2.12"), ("docker3", "192.0.2.13")]


def hosts_of(pairs, **extra):
    return [{"name": n, "address": a, **extra.get(n, {})} for n, a in pairs]


def swarm_resources(run) -> set[str]:
    return {r.name for r in run.mocks.of_type(COMMAND) if r.name.startswith("swarm-")} | \
        {r.name for r in run.mocks.of_type("pulumi:providers:docker")}


def redeploy(key_path, first_hosts, then_hosts):
    """Deploy `first_hosts`, then run the program again with `then_hosts` against the outputs
    the first deployment left: (first run, second run)."""
    first = run_program(stack_config(key_path, hosts=first_hosts))
    then = run_program(stack_config(key_path, hosts=then_hosts),
                       mocks=SwarmMocks(stack_outputs=previous_outputs(first)))
    return first, then


def refusal(key_path, stack_outputs, hosts) -> str:
    with pytest.raises(Exception) as caught:
        run_program(stack_config(key_path, hosts=hosts), mocks=SwarmMocks(stack_outputs=stack_outputs))
    return str(caught.value)


# ------------------------------------------------------------------ the program, twice
def test_renaming_a_host_keeps_its_resource_names_and_node(key_path):
    first, renamed = redeploy(key_path, hosts_of(LAB),
                              hosts_of([("docker1", "192.0.2.11"), ("db2", "192.0.2.12"), ("docker3", "192.0.2.13")]))
    # The engine sees the same resource names: nothing to create, nothing to delete.
    assert swarm_resources(renamed) == swarm_resources(first)
    assert "swarm-join-db2" not in swarm_resources(renamed)
    assert resolve(renamed.program["swarm"].node_ids) == {
        "docker1": node_id("docker1"), "db2": node_id("docker2"), "docker3": node_id("docker3")}
    # The next deployment still knows db2 under the key it joined with.
    assert resolve(renamed.program["swarm"].hosts)["docker2"]["name"] == "db2"


def test_a_read_of_the_last_outputs_that_met_a_checkpoint_save_is_tried_again(key_path):
    # CI saw it on a new stack: the engine saved the checkpoint while the program read it.
    first = run_program(stack_config(key_path, hosts=hosts_of(LAB)))
    mocks = SwarmMocks(stack_outputs=previous_outputs(first), racing_reads=CHECKPOINT_READ_ATTEMPTS - 1)
    renamed = run_program(stack_config(key_path, hosts=hosts_of(
        [("docker1", "192.0.2.11"), ("db2", "192.0.2.12"), ("docker3", "192.0.2.13")])), mocks=mocks)
    assert mocks.racing_reads == 0
    # The outputs were read in the end: db2 keeps the key it joined with.
    assert swarm_resources(renamed) == swarm_resources(first)


def test_last_outputs_that_never_read_stop_the_program_with_the_engine_error(key_path):
    first = run_program(stack_config(key_path, hosts=hosts_of(LAB)))
    mocks = SwarmMocks(stack_outputs=previous_outputs(first), racing_reads=CHECKPOINT_READ_ATTEMPTS)
    with pytest.raises(Exception, match=CHECKPOINT_READ_RACE):
        run_program(stack_config(key_path, hosts=hosts_of(LAB)), mocks=mocks)
    assert mocks.racing_reads == 0


def test_reordering_hosts_creates_and_deletes_nothing(key_path):
    first, reordered = redeploy(key_path, hosts_of(LAB), hosts_of([LAB[0], LAB[2], LAB[1]]))
    assert swarm_resources(reordered) == swarm_resources(first)
    join = reordered.mocks.named("swarm-join-docker3")
    assert "--advertise-addr 192.0.2.13 " in join.inputs["create"]


def test_reordering_managers_moves_no_etcd_member(key_path):
    def etcd_constraints(run):
        return {r.inputs["name"]: r.inputs["taskSpec"]["placement"]["constraints"]
                for r in run.mocks.of_type("docker:index/service:Service") if r.inputs["name"].startswith("etcd")}
    first = run_program(stack_config(key_path, hosts=hosts_of(LAB), etcd={"replicas": 3}))
    reordered = run_program(stack_config(key_path, hosts=hosts_of([LAB[0], LAB[2], ("db2", "192.0.2.12")]),
                                         etcd={"replicas": 3}),
                            mocks=SwarmMocks(stack_outputs=previous_outputs(first)))
    assert etcd_constraints(reordered) == etcd_constraints(first) == {
        "etcd-1": [f"node.id == {node_id('docker1')}"], "etcd-2": [f"node.id == {node_id('docker2')}"],
        "etcd-3": [f"node.id == {node_id('docker3')}"]}
    assert reordered.program["etcd_placement"] == {"etcd-1": "docker1", "etcd-2": "docker2", "etcd-3": "docker3"}


def test_a_new_stack_keys_hosts_by_name(program):
    run = program()
    assert {"swarm-init-docker1", "swarm-join-docker2", "swarm-node-docker3"} <= swarm_resources(run)
    assert resolve(run.program["swarm"].leader_key) == "docker1"


def test_moving_the_first_manager_is_refused_with_the_fix(key_path):
    first = run_program(stack_config(key_path, hosts=hosts_of(LAB)))
    message = refusal(key_path, previous_outputs(first), hosts_of([LAB[1], LAB[0], LAB[2]]))
    assert ("galera-swarm:hosts: docker2 is now the first manager, but the swarm was initialised on docker1 "
            "(hosts[1]); list it first among the managers again") in message


def test_removing_the_leader_is_refused_with_the_fix(key_path):
    first = run_program(stack_config(key_path, hosts=hosts_of(LAB)))
    message = refusal(key_path, previous_outputs(first), hosts_of(LAB[1:]) + [
        {"name": "docker4", "address": "192.0.2.14"}])
    assert "the host that initialised the swarm, docker1 (192.0.2.11), is missing; put it back" in message
    assert "set its `availability: drain`" in message


def test_moving_a_host_to_another_address_is_refused_with_the_fix(key_path):
    first = run_program(stack_config(key_path, hosts=hosts_of(LAB)))
    message = refusal(key_path, previous_outputs(first), hosts_of([LAB[0], ("docker2", "192.0.2.22"), LAB[2]]))
    assert ("galera-swarm:hosts[1].address: docker2 was at 192.0.2.12 in the last deployment and is now at "
            "192.0.2.22; a swarm node keeps the address it joined with: remove docker2 from hosts") in message


def test_a_legacy_stack_refuses_a_rename_until_one_up_recorded_the_hosts(key_path):
    legacy = {"nodes": {"docker1": "n1", "docker2": "n2", "docker3": "n3"}, "manager_address": "192.0.2.11"}
    message = refusal(key_path, legacy, hosts_of([LAB[0], ("db2", "192.0.2.12"), LAB[2]]))
    assert ("galera-swarm:hosts: docker2 left hosts, but the last deployment was made by a version whose "
            "delete step runs `docker swarm leave --force` unchecked") in message
    assert "run `pulumi up` once with the hosts as they were (docker1, docker2, docker3)" in message
    # Unchanged hosts on a legacy stack keep their (name-keyed) resources (and, from before TLS,
    # its cluster without TLS: test_tls.py).
    run = run_program(stack_config(key_path, hosts=hosts_of(LAB), tls={"enabled": False}),
                      mocks=SwarmMocks(stack_outputs=legacy))
    assert {"swarm-init-docker1", "swarm-join-docker2", "swarm-join-docker3"} <= swarm_resources(run)


def test_removing_a_host_leaves_only_its_resources_to_delete(key_path):
    first, smaller = redeploy(key_path, hosts_of(LAB + [("docker4", "192.0.2.14"), ("docker5", "192.0.2.15")]),
                              hosts_of(LAB))
    gone = swarm_resources(first) - swarm_resources(smaller)
    assert gone == {"swarm-forget-docker4", "swarm-join-docker4", "swarm-node-docker4",
                    "swarm-forget-docker5", "swarm-join-docker5", "swarm-node-docker5"}
    # New: only the steps that drain the leaving hosts before the services change.
    drains = {"swarm-drain-docker4", "swarm-drain-docker5"}
    assert drains <= swarm_resources(smaller)
    assert swarm_resources(smaller) - drains < swarm_resources(first)


def test_removing_one_of_three_managers_is_refused_for_quorum(key_path):
    first = run_program(stack_config(key_path, hosts=hosts_of(LAB)))
    message = refusal(key_path, previous_outputs(first), hosts_of(LAB[:2]))
    assert ("galera-swarm:hosts: 2 managers is an even count, which tolerates no more failures than 1; "
            "use an odd number of managers (1, 3, 5) for Raft quorum") in message


# ------------------------------------------------------------------ what a removal runs
def test_removal_gate_checks_the_node_then_keeps_quorum_then_drains_then_demotes(program):
    gate = program().mocks.named("swarm-node-docker2").inputs["delete"]
    steps = [f"if [ \"$id\" != {node_id('docker2')} ] || {{ [ -n \"$claim\" ] && [ \"$claim\" != docker2 ]; }}; then",
             "--filter role=manager",
             "if [ $((reachable * 2)) -le \"$others\" ]; then",
             f"docker node update --availability drain {node_id('docker2')}",
             f"states=$(docker node ps --format '{{{{.CurrentState}}}}' {node_id('docker2')})",
             f"docker node demote {node_id('docker2')} >/dev/null; do"]
    positions = [gate.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "refusing to remove docker2 (192.0.2.12): the node at 192.0.2.12 is $id" in gate
    assert "so the swarm would lose quorum; bring them back" in gate
    # No error of the demotion is swallowed any more.
    assert f"demote {node_id('docker2')} >/dev/null 2>&1 || true" not in gate


def test_a_host_leaves_only_when_it_is_no_manager_any_more(program):
    leave = program().mocks.named("swarm-join-docker2").inputs["delete"]
    refuse = leave.index("refusing to make docker2 (192.0.2.12) leave: it is still a manager")
    assert refuse < leave.index("docker swarm leave --force >&2\n")
    assert "|| true" not in leave


def test_a_record_is_removed_only_for_a_down_node_with_this_hosts_key(program):
    forget = program().mocks.named("swarm-forget-docker2").inputs["delete"]
    assert "keeping node $id at 192.0.2.12: it is in hosts as $claim" in forget
    assert forget.index("refusing to remove the record of node $id") < forget.index("docker node rm --force")


def test_every_node_is_marked_with_its_hosts_key(key_path):
    _, renamed = redeploy(key_path, hosts_of(LAB), hosts_of([LAB[0], ("db2", "192.0.2.12"), LAB[2]]))
    node = renamed.mocks.named("swarm-node-docker2").inputs["create"]
    assert f"docker node update --label-add galera-swarm.host=docker2 {node_id('docker2')} >/dev/null" in node


# ------------------------------------------------------------------ addresses on the wire
@pytest.mark.parametrize("address,resolved,advertise,listen", [
    ("192.0.2.12", None, "192.0.2.12", "192.0.2.12:2377"),
    ("2001:db8::2", None, "2001:db8::2", "'[2001:db8::2]:2377'"),
    ("db2.example.test", "192.0.2.42", "192.0.2.42", "192.0.2.42:2377"),
])
def test_join_advertises_the_ip_and_brackets_ipv6(address, resolved, advertise, listen, key_path):
    from components.swarm_cluster import join_script
    leader = SwarmHost(key="docker1", name="docker1", address="::1", advertise_address="::1",
                       role="manager", availability="active", labels={})
    settings = parse_settings(stack_config(key_path, host_count=1, hosts=[{"name": "db2", "address": address}]),
                              {f"galera-swarm:{k}" for k in PASSWORDS},
                              resolve=lambda name: resolved)
    (host,) = settings.hosts
    assert host.advertise_address == advertise
    script = join_script(SwarmHost(key="db2", name="db2", address=host.address,
                                   advertise_address=host.advertise_address, role="manager",
                                   availability="active", labels={}), leader)
    assert (f"docker swarm join --advertise-addr {advertise} --listen-addr {listen} "
            "--token \"$(cat)\" '[::1]:2377' >&2") in script


def test_a_dns_name_is_advertised_as_the_ip_it_resolved_to(key_path, monkeypatch):
    import socket
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda name, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.31", 0))] if name == "lead.example.test"
        else real(name, *a, **k))
    run = run_program(stack_config(key_path, hosts=[{"name": "lead", "address": "lead.example.test"}],
                                   galera={"replicas": 1}, loadBalancer={"replicas": 1},
                                   wordpress={"replicas": 1}))
    init = run.mocks.named("swarm-init-lead").inputs["create"]
    assert "docker swarm init --advertise-addr 192.0.2.31 --listen-addr 192.0.2.31:2377 >/dev/null" in init
    # SSH and the docker provider still reach the name.
    (provider,) = run.mocks.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://root@lead.example.test:22"
    assert resolve(run.program["swarm"].hosts)["lead"]["advertise_address"] == "192.0.2.31"


def test_an_ipv6_leader_gets_brackets_in_the_provider_url_and_the_join_target(key_path):
    run = run_program(stack_config(key_path, hosts=[{"name": "v6a", "address": "2001:db8::1"},
                                                    {"name": "v6b", "address": "2001:db8::2"},
                                                    {"name": "v6c", "address": "2001:db8::3"}]))
    (provider,) = run.mocks.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://root@[2001:db8::1]:22"
    init = run.mocks.named("swarm-init-v6a").inputs["create"]
    assert "docker swarm init --advertise-addr 2001:db8::1 --listen-addr '[2001:db8::1]:2377'" in init
    assert "'[2001:db8::1]:2377' >&2" in run.mocks.named("swarm-join-v6b").inputs["create"]


def test_two_names_for_one_machine_are_refused(key_path):
    with pytest.raises(ConfigError) as caught:
        parse_settings(stack_config(key_path, hosts=[{"name": "a", "address": "a.example.test"},
                                                     {"name": "b", "address": "192.0.2.31"}]),
                       {f"galera-swarm:{k}" for k in PASSWORDS},
                       resolve=lambda name: "192.0.2.31")
    assert ("galera-swarm:hosts: '192.0.2.31' resolves to 192.0.2.31, the address of 'a.example.test'; "
            "list every host once") in str(caught.value)


# ------------------------------------------------------------------ plan_hosts, table
class H:
    def __init__(self, name, address, role="manager", advertise=None):
        self.name, self.address, self.role = name, address, role
        self.advertise_address = advertise or address
        self.availability, self.labels = "active", {}


RECORDED = PreviousDeployment(hosts=(
    KnownHost("docker1", "docker1", "192.0.2.11", "192.0.2.11", "manager"),
    KnownHost("docker2", "db2", "192.0.2.12", "192.0.2.12", "manager"),
    KnownHost("docker3", "docker3", "db3.example.test", "192.0.2.13", "manager"),
), leader="docker1")


def test_plan_hosts_on_a_new_stack_keys_by_name():
    plan = plan_hosts([H("a", "192.0.2.1"), H("b", "192.0.2.2")], PreviousDeployment())
    assert (plan.keys, plan.problems) == (["a", "b"], [])


@pytest.mark.parametrize("hosts,keys", [
    # unchanged
    ([H("docker1", "192.0.2.11"), H("db2", "192.0.2.12"), H("docker3", "db3.example.test")],
     ["docker1", "docker2", "docker3"]),
    # renamed again, and reordered
    ([H("docker1", "192.0.2.11"), H("x3", "db3.example.test"), H("x2", "192.0.2.12")],
     ["docker1", "docker3", "docker2"]),
    # swapped names keep the keys of their addresses
    ([H("docker1", "192.0.2.11"), H("docker3", "192.0.2.12"), H("docker2", "db3.example.test")],
     ["docker1", "docker2", "docker3"]),
    # a DNS name written as the IP it resolved to
    ([H("docker1", "192.0.2.11"), H("db2", "192.0.2.12"), H("docker3", "192.0.2.13")],
     ["docker1", "docker2", "docker3"]),
    # a host added, one removed
    ([H("docker1", "192.0.2.11"), H("db2", "192.0.2.12"), H("docker4", "192.0.2.14")],
     ["docker1", "docker2", "docker4"]),
])
def test_plan_hosts_keeps_the_key_recorded_at_each_address(hosts, keys):
    plan = plan_hosts(hosts, RECORDED)
    assert (plan.keys, plan.problems) == (keys, [])


@pytest.mark.parametrize("hosts,problem", [
    ([H("docker1", "192.0.2.11"), H("docker2", "192.0.2.22"), H("docker3", "db3.example.test")],
     "galera-swarm:hosts[1].address: docker2 was at 192.0.2.12 in the last deployment and is now at 192.0.2.22"),
    ([H("docker1", "192.0.2.11"), H("db2", "192.0.2.12"), H("docker3", "db3.example.test"),
      H("docker2", "192.0.2.24")],
     "galera-swarm:hosts[3].address: docker2 was at 192.0.2.12"),
    ([H("db2", "192.0.2.12"), H("docker1", "192.0.2.11"), H("docker3", "db3.example.test")],
     "galera-swarm:hosts: db2 is now the first manager, but the swarm was initialised on docker1 (hosts[1])"),
    ([H("w1", "192.0.2.31", role="worker"), H("docker1", "192.0.2.11", role="worker"), H("db2", "192.0.2.12")],
     "galera-swarm:hosts[1].role: docker1 initialised the swarm, so it must stay a manager; set `role: manager`"),
    ([H("db2", "192.0.2.12")],
     "galera-swarm:hosts: the host that initialised the swarm, docker1 (192.0.2.11), is missing"),
])
def test_plan_hosts_refuses_with_the_fix(hosts, problem):
    problems = plan_hosts(hosts, RECORDED).problems
    assert any(p.startswith(problem) for p in problems), problems


def test_previous_deployment_reads_the_outputs_it_needs():
    assert PreviousDeployment.from_outputs({}) == PreviousDeployment()
    legacy = PreviousDeployment.from_outputs({"nodes": {"docker1": "n1"}, "manager_address": "192.0.2.11"})
    assert (legacy.legacy_names, legacy.legacy_leader_address) == (("docker1",), "192.0.2.11")
    recorded = PreviousDeployment.from_outputs({
        "hosts": {"docker2": {"name": "db2", "address": "192.0.2.12", "advertise_address": "192.0.2.12",
                              "role": "worker"}}, "leader_host": "docker1", "nodes": {"db2": "n2"}})
    assert recorded == PreviousDeployment(
        hosts=(KnownHost("docker2", "db2", "192.0.2.12", "192.0.2.12", "worker"),), leader="docker1")


# ------------------------------------------------------------------ the removal scripts, run
FAKE_DOCKER = Path(__file__).with_name("fake_docker.py")
DOCKER2 = SwarmHost(key="docker2", name="db2", address="192.0.2.12", advertise_address="192.0.2.12",
                    role="manager", availability="active", labels={})


def node(addr, role="manager", status="Reachable", key=None, tasks=(), state="ready", **extra):
    return {"addr": addr, "role": role, "manager_status": status if role == "manager" else "",
            "labels": {"galera-swarm.host": key} if key else {}, "tasks": list(tasks), "state": state, **extra}


def run_script(tmp_path, script: str, nodes: dict, local: dict | None = None, fail: tuple = ()):
    """`script` as remote.run sends it (after `set -eu`) under sh, with the fake docker on PATH
    (`fail`: prefixes of the docker calls that fail): (exit code, stderr, docker calls, the
    swarm afterwards)."""
    done, calls, after = run_script_fully(tmp_path, script, nodes, local, fail)
    return done.returncode, done.stderr, calls, after


def run_script_fully(tmp_path, script: str, nodes: dict, local: dict | None = None, fail: tuple = ()):
    """As run_script: (the finished process, docker calls, the swarm afterwards)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE_DOCKER} \"$@\"\n")
    (bin_dir / "sleep").write_text("#!/bin/sh\n:\n")
    for tool in ("docker", "sleep"):
        (bin_dir / tool).chmod(0o755)
    state, log = tmp_path / "swarm.json", tmp_path / "calls.log"
    state.write_text(json.dumps({"nodes": nodes, "local": local or {}, "fail": list(fail)}))
    log.write_text("")
    done = subprocess.run(["sh", "-c", "set -eu\n" + script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
                               "FAKE_SWARM": str(state), "FAKE_SWARM_LOG": str(log)})
    return done, log.read_text().splitlines(), json.loads(state.read_text())


def lab_nodes(**docker2):
    return {"n1": node("192.0.2.11", status="Leader", key="docker1"),
            "n2": node("192.0.2.12", key="docker2", tasks=["Running 5 minutes ago"], **docker2),
            "n3": node("192.0.2.13", key="docker3")}


def test_the_gate_drains_then_demotes_a_removed_manager(tmp_path):
    code, err, calls, after = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), lab_nodes())
    assert (code, err) == (0, "")
    assert calls.index("node update --availability drain n2") < calls.index("node demote n2")
    assert after["nodes"]["n2"]["role"] == "worker"
    assert after["nodes"]["n2"]["tasks"] == ["Shutdown 1 second ago"]


def test_the_gate_refuses_a_node_that_is_in_hosts_under_another_key(tmp_path):
    code, err, calls, after = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), lab_nodes(labels={
        "galera-swarm.host": "db2"}))
    assert code == 1
    assert "refusing to remove db2 (192.0.2.12): the node at 192.0.2.12 is n2 (host key 'db2'), not n2" in err
    assert not any(c.startswith(("node update", "node demote")) for c in calls)


def test_the_gate_refuses_when_another_node_answers_at_the_address(tmp_path):
    nodes = lab_nodes(state="down")
    nodes["n9"] = node("192.0.2.12", role="worker", key="docker9")
    code, err, calls, _ = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), nodes)
    assert code == 1 and "the node at 192.0.2.12 is n9 (host key 'docker9'), not n2" in err
    assert "node update --availability drain n2" not in calls


def test_the_gate_refuses_a_manager_whose_removal_loses_quorum(tmp_path):
    nodes = lab_nodes()
    nodes["n3"]["manager_status"] = "Unreachable"
    code, err, calls, _ = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), nodes)
    assert code == 1
    assert "refusing to remove manager db2 (192.0.2.12): only 1 of the 2 other managers are reachable" in err
    assert "node update --availability drain n2" not in calls


def test_the_gate_refuses_when_swarm_refuses_the_demotion(tmp_path):
    code, err, _, after = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), lab_nodes(refuse_demote=True))
    assert code == 1 and "swarm refused to demote it" in err
    assert after["nodes"]["n2"]["role"] == "manager"


def test_the_gate_lets_a_node_that_already_left_go(tmp_path):
    nodes = lab_nodes()
    del nodes["n2"]
    code, err, calls, _ = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), nodes)
    assert code == 0 and "is no longer in the swarm; nothing to drain" in err
    assert not any(c.startswith(("node update", "node demote")) for c in calls)


@pytest.mark.parametrize("control,code,left", [(False, 0, True), (True, 1, False)])
def test_a_host_leaves_only_as_a_worker(tmp_path, control, code, left):
    local = {"NodeID": "n2", "LocalNodeState": "active", "ControlAvailable": control}
    record = tmp_path / "swarm-node-id"
    record.write_text("n2\n")
    status, err, _, after = run_script(tmp_path, node_leave_script(DOCKER2, str(record)), {}, local)
    assert status == code
    assert (after["local"]["LocalNodeState"] == "inactive") == left
    if not left:
        assert "it is still a manager" in err


@pytest.mark.parametrize("record,removed,code", [
    (node("192.0.2.12", role="worker", key="docker2", state="down"), True, 0),
    (node("192.0.2.12", role="worker", key="db2", state="ready"), False, 0),
    (node("192.0.2.12", role="worker", key="docker2", state="ready"), False, 1),
])
def test_forget_removes_only_a_down_record_of_this_host(tmp_path, record, removed, code):
    status, err, _, after = run_script(tmp_path, forget_script(DOCKER2), {"n1": lab_nodes()["n1"], "n2": record})
    assert status == code, err
    assert ("n2" not in after["nodes"]) == removed


# ------------------------------------------------------------------ a failed query stops a step
TASKS_OF_N2 = "node ps --format {{.CurrentState}} n2"


def test_the_gate_waits_until_the_drained_tasks_stopped(tmp_path):
    code, err, calls, after = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), lab_nodes(running_polls=3))
    assert (code, err) == (0, "")
    # Three answers still `Running`, the fourth not: four polls, all between drain and demote.
    polls = [i for i, c in enumerate(calls) if c == TASKS_OF_N2]
    assert len(polls) == 4
    assert calls.index("node update --availability drain n2") < polls[0] < polls[-1] < calls.index("node demote n2")
    assert after["nodes"]["n2"]["tasks"] == ["Shutdown 1 second ago"]


@pytest.mark.parametrize("failing,message", [
    # Fail-open before: a failed `node ps` read as "no task runs there".
    (TASKS_OF_N2, "cannot list the tasks of node db2 (192.0.2.12) (see above), so whether Galera still runs"),
    # ... a node that could not be inspected was skipped as "not at this address".
    ("node inspect --format {{.Status.Addr}} n3", "fake failure of docker node inspect"),
    # ... a failed manager list counted 0 managers, so the quorum check passed.
    ("node ls --filter role=manager -q", "fake failure of docker node ls"),
])
def test_the_gate_stops_when_swarm_cannot_answer(tmp_path, failing, message):
    code, err, calls, after = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), lab_nodes(), fail=(failing,))
    assert code != 0
    assert message in err
    assert "node demote n2" not in calls and after["nodes"]["n2"]["role"] == "manager"


def test_forget_stops_when_a_node_cannot_be_inspected(tmp_path):
    nodes = {"n1": lab_nodes()["n1"], "n2": node("192.0.2.12", role="worker", key="docker2", state="down")}
    code, err, calls, after = run_script(tmp_path, forget_script(DOCKER2), nodes,
                                         fail=("node inspect --format {{.Status.Addr}} n2",))
    assert code != 0 and "fake failure of docker node inspect" in err
    assert "n2" in after["nodes"]


# ------------------------------------------------------------------ a host that is down
JOIN_URN = "urn:pulumi:dev::galera-swarm::galera-swarm:index:SwarmCluster$command:remote:Command::swarm-join-docker2"
NODE_URN = "urn:pulumi:dev::galera-swarm::galera-swarm:index:SwarmCluster$command:remote:Command::swarm-node-docker2"


def test_the_gate_does_not_wait_for_the_tasks_of_a_down_node(tmp_path):
    # A down node's tasks keep their last state `Running` for ever (the fake never stops them).
    code, err, calls, after = run_script(
        tmp_path, removal_gate_script(DOCKER2, "n2", join_urn=JOIN_URN, node_urn=NODE_URN),
        lab_nodes(state="down", status="Unreachable"))
    assert code == 0, err
    assert TASKS_OF_N2 not in calls
    assert calls.index("node update --availability drain n2") < calls.index("node demote n2")
    assert "node db2 (192.0.2.12) is down: not waiting for its tasks" in err
    assert f"pulumi state delete '{JOIN_URN}' (and pulumi state delete '{NODE_URN}' if it is still listed)" in err


@pytest.mark.parametrize("statuses,code", [
    # docker2 (down) goes; docker1 and docker3 answer: 2 of 2.
    ({"n3": "Reachable"}, 0),
    # docker3 is unreachable too: 1 of 2 is no majority.
    ({"n3": "Unreachable"}, 1),
    # Five managers, docker2 and n5 down: 3 of 4 answer.
    ({"n3": "Reachable", "n4": "Reachable", "n5": "Unreachable"}, 0),
])
def test_the_gate_counts_only_reachable_managers_when_a_manager_is_down(tmp_path, statuses, code):
    nodes = lab_nodes(state="down", status="Unreachable")
    for i, status in statuses.items():
        nodes[i] = node(f"192.0.2.{10 + int(i[1:])}", status=status, key=f"docker{i[1:]}",
                        state="ready" if status != "Unreachable" else "down")
    status, err, _, after = run_script(tmp_path, removal_gate_script(DOCKER2, "n2"), nodes)
    assert status == code, err
    assert (after["nodes"]["n2"]["role"] == "worker") == (code == 0)


def test_the_gate_names_the_stack_resources_to_drop_for_a_host_gone_for_good(program):
    gate = program().mocks.named("swarm-node-docker2").inputs["delete"]
    assert ("pulumi state delete 'urn:pulumi:" in gate and "command:remote:Command::swarm-join-docker2'" in gate
            and "command:remote:Command::swarm-node-docker2' if it is still listed" in gate)


# ------------------------------------------------------------------ the leader dissolves the swarm last
LEADER = SwarmHost(key="docker1", name="docker1", address="192.0.2.11", advertise_address="192.0.2.11",
                   role="manager", availability="active", labels={})


@pytest.mark.parametrize("others,code,left", [
    # destroy: every other node was removed before init's delete
    ({}, 0, True),
    # a node that is down does not keep the swarm
    ({"n3": node("192.0.2.13", role="worker", state="down")}, 0, True),
    # one still up: refused
    ({"n2": node("192.0.2.12", role="worker")}, 1, False),
])
def test_the_leader_dissolves_the_swarm_only_when_no_other_node_is_up(tmp_path, others, code, left):
    local = {"NodeID": "n1", "LocalNodeState": "active", "ControlAvailable": True}
    nodes = {"n1": node("192.0.2.11", status="Leader"), **others}
    status, err, calls, after = run_script(tmp_path, leave_script(LEADER), nodes, local)
    assert status == code, err
    assert ("swarm leave --force" in calls) == left
    if not left:
        assert ("refusing to dissolve the swarm on docker1 (192.0.2.11): other nodes are still up: n2 Ready; "
                "remove their hosts first (pulumi up without them), or see docker node ls") in err


def test_the_leader_outside_a_swarm_has_nothing_to_dissolve(tmp_path):
    status, err, calls, _ = run_script(tmp_path, leave_script(LEADER), {}, {"LocalNodeState": "inactive"})
    assert status == 0 and "docker1 (192.0.2.11) is in no swarm; nothing to dissolve" in err
    assert "swarm leave --force" not in calls


def test_the_leaders_init_delete_is_the_guarded_leave(program):
    delete = program().mocks.named("swarm-init-docker1").inputs["delete"]
    assert delete.index("refusing to dissolve the swarm on docker1") < delete.index("docker swarm leave --force >&2\n")
    assert "docker swarm leave --force >&2 || true" not in delete


# ------------------------------------------------------------------ a host leaves only the swarm it joined
@pytest.mark.parametrize("recorded", ["n2\n", None])
def test_a_host_now_in_another_swarm_is_left_there(tmp_path, recorded):
    # Reinstalled (record gone) or joined elsewhere: its node id is not the one it joined as.
    record = tmp_path / "swarm-node-id"
    if recorded is not None:
        record.write_text(recorded)
    local = {"NodeID": "m7", "LocalNodeState": "active", "ControlAvailable": True}
    status, err, calls, after = run_script(tmp_path, node_leave_script(DOCKER2, str(record)), {}, local)
    assert status == 0, err
    assert "swarm leave --force" not in calls and after["local"]["LocalNodeState"] == "active"
    assert f"db2 (192.0.2.12) is now swarm node m7, not the node it joined as ('{(recorded or '').strip()}' in" in err


def test_the_join_records_the_node_id_its_leave_checks(program):
    from components.swarm_cluster import JOINED_NODE_ID_FILE
    join = program().mocks.named("swarm-join-docker2").inputs
    assert f"printf '%s\\n' \"$id\" > {JOINED_NODE_ID_FILE}\n" in join["create"]
    assert f"then joined=$(cat {JOINED_NODE_ID_FILE}); fi" in join["delete"]


# A node that another host's forget step removes between `docker node ls` and `inspect` (the
# removal of docker4 and docker5 in one `up` runs both at once): the first list still names it.
VANISHING_NODE = (
    'docker() {\n'
    '  if [ "$1 $2" = "node ls" ] && [ ! -e "$FAKE_SWARM.listed" ]; then\n'
    '    : >"$FAKE_SWARM.listed"; echo n9; fi\n'
    '  command docker "$@"\n'
    '}\n')


@pytest.mark.parametrize("script", [
    forget_script(DOCKER2),
    removal_gate_script(DOCKER2, "n2"),
])
def test_a_node_removed_meanwhile_by_another_step_is_skipped(tmp_path, script):
    record = node("192.0.2.12", role="worker", key="docker2", state="down")
    code, err, _, after = run_script(tmp_path, VANISHING_NODE + script, {"n1": lab_nodes()["n1"], "n2": record})
    assert code == 0, err
    assert "cannot inspect node" not in err


def test_a_listed_node_that_cannot_be_inspected_stops_the_forget_step(tmp_path):
    record = node("192.0.2.12", role="worker", key="docker2", state="down")
    code, err, _, after = run_script(tmp_path, forget_script(DOCKER2), {"n1": lab_nodes()["n1"], "n2": record},
                                     fail=("node inspect --format {{.Status.Addr}} n1",))
    assert code == 1
    assert "cannot inspect node n1 (docker node inspect failed)" in err
    assert "n2" in after["nodes"]


# ------------------------------------------------------------------ leaving hosts drain first
FIVE = LAB + [("docker4", "192.0.2.14"), ("docker5", "192.0.2.15")]


def test_hosts_that_leave_are_drained_one_at_a_time_before_any_service_changes(key_path, monkeypatch):
    # What each resource waits for (its dependencies' URNs, as the engine gets them).
    waits: dict[str, set[str]] = {}
    register = mock_runtime.MockMonitor.RegisterResource

    def recording(self, request):
        waits[request.name] = {urn.rsplit("::", 1)[-1] for urn in request.dependencies}
        return register(self, request)

    first = run_program(stack_config(key_path, hosts=hosts_of(FIVE), galera={"replicas": 5}))
    monkeypatch.setattr(mock_runtime.MockMonitor, "RegisterResource", recording)
    then = run_program(stack_config(key_path, hosts=hosts_of(LAB), galera={"replicas": 3}),
                       mocks=SwarmMocks(stack_outputs=previous_outputs(first)))
    mocks = then.mocks
    assert "swarm-drain-docker1" not in {r.name for r in mocks.resources}
    drain4 = mocks.named("swarm-drain-docker4")
    assert "[ \"$claim\" = docker4 ] || continue" in drain4.inputs["create"]
    assert "if [ \"$a\" != 192.0.2.14 ]; then" in drain4.inputs["create"]
    # One at a time, and the docker provider (so every service) only after both.
    assert waits["swarm-drain-docker4"] == {"swarm-init-docker1"}
    assert waits["swarm-drain-docker5"] == {"swarm-drain-docker4"}
    assert {"swarm-drain-docker4", "swarm-drain-docker5"} <= waits["swarm-docker"]
    assert resolve(then.program["swarm"].drained_hostnames) == ["docker4", "docker5"]
    # Once Galera has converged without them, their etcd records go.
    forget = mocks.named("galera-forget-nodes").inputs["create"]
    assert "galera-mysql-galera" in waits["galera-forget-nodes"]
    assert ("--entrypoint galera-agent registry.test:5000/galera-swarm/galera:dev forget "
            "mysql-galera-docker4 mysql-galera-docker5\n") in forget
    assert "-e CLUSTER_NAME=galera -e DISCOVERY_SERVICE=etcd:2379" in forget
    # The next deployment has nothing left to drain.
    again = run_program(stack_config(key_path, hosts=hosts_of(LAB), galera={"replicas": 3}),
                        mocks=SwarmMocks(stack_outputs=previous_outputs(then)))
    assert not any("-drain-" in r.name or r.name.endswith("-forget-nodes") for r in again.mocks.resources)


def test_the_drain_step_drains_the_node_of_this_key_and_prints_its_host_name(tmp_path):
    from components.swarm_cluster import LeavingHost, drain_script
    nodes = lab_nodes(running_polls=2, hostname="lab-docker2")
    code, err, calls, after = run_script(tmp_path, drain_script(LeavingHost("docker2", "db2", "192.0.2.12")), nodes)
    assert (code, err) == (0, "")
    assert calls.index("node update --availability drain n2") < calls.index(TASKS_OF_N2)
    assert after["nodes"]["n2"]["tasks"] == ["Shutdown 1 second ago"]
    assert not any(c.startswith("node demote") for c in calls)


def test_the_drain_step_prints_the_host_name(tmp_path):
    from components.swarm_cluster import LeavingHost, drain_script
    done, _, _ = run_script_fully(tmp_path, drain_script(LeavingHost("docker2", "db2", "192.0.2.12")),
                                  lab_nodes(hostname="lab-docker2"))
    assert (done.returncode, done.stdout) == (0, "lab-docker2\n")


@pytest.mark.parametrize("nodes,code,message", [
    # The node that joined as docker2 now answers at another address: not the host that left.
    ({"n1": node("192.0.2.11", status="Leader", key="docker1"), "n2": node("192.0.2.99", key="docker2")},
     1, "refusing to drain node n2: it joined as docker2 but is at 192.0.2.99, not at 192.0.2.12 where db2 was"),
    # It has left already: nothing to drain, nothing printed.
    ({"n1": node("192.0.2.11", status="Leader", key="docker1")}, 0, ""),
])
def test_the_drain_step_refuses_another_node_and_skips_one_that_left(tmp_path, nodes, code, message):
    from components.swarm_cluster import LeavingHost, drain_script
    status, err, calls, _ = run_script(tmp_path, drain_script(LeavingHost("docker2", "db2", "192.0.2.12")), nodes)
    assert status == code and message in err
    assert not any(c.startswith("node update") for c in calls)


def test_hostnames_from_refuses_what_is_not_a_host_name():
    from components.swarm_cluster import LeavingHost, hostnames_from
    host = LeavingHost("docker4", "docker4", "192.0.2.14")
    assert hostnames_from("docker4\n", host) == ["docker4"]
    assert hostnames_from("", host) == []
    with pytest.raises(ValueError, match=r"draining docker4 \(192.0.2.14\): swarm reported the host name 'a; rm -rf /'"):
        hostnames_from("a; rm -rf /\n", host)


def test_leaving_hosts_are_the_recorded_ones_not_kept_never_the_leader():
    from galera_swarm.lifecycle import leaving_hosts
    recorded = PreviousDeployment(hosts=tuple(KnownHost(k, k, a, a, "manager") for k, a in FIVE), leader="docker1")
    assert [h.key for h in leaving_hosts(["docker1", "docker2", "docker3"], recorded)] == ["docker4", "docker5"]
    assert leaving_hosts([k for k, _ in FIVE], recorded) == []
    assert [h.key for h in leaving_hosts(["docker2"], recorded)] == ["docker3", "docker4", "docker5"]
    assert leaving_hosts([], PreviousDeployment()) == []
