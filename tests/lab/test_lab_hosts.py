"""The lab's promises, checked as an operator would: over SSH to each host, with what lab.json says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from lab_helpers import LAB_JSON, PROBE_REPO, REPO, Lab, lab, run, wait_until

SERVICE = "labprobe"
OVERLAY = "labprobe-net"
PROBE_PORT = 7000
PROJECT_IMAGES = ("galera", "etcd", "wordpress", "haproxy")


def node_field(the_lab: Lab, node: str, template: str) -> str:
    return the_lab.sh(the_lab.hosts[0], f"docker node inspect {node} --format '{template}'")


def dismantle_swarm(the_lab: Lab) -> None:
    for host in the_lab.hosts:
        the_lab.sh(host, "docker swarm leave --force >/dev/null 2>&1 || true", check=False)


@pytest.fixture(scope="module")
def swarm(lab_hosts: Lab) -> Iterator[Lab]:
    """A swarm formed by hand: init on the first host, the others join as managers."""
    the_lab = lab_hosts
    dismantle_swarm(the_lab)  # bare hosts whatever an earlier user left
    first, *others = the_lab.hosts
    try:
        the_lab.sh(first, f"docker swarm init --advertise-addr {the_lab.address[first]}")
        token = the_lab.sh(first, "docker swarm join-token -q manager")
        for host in others:
            the_lab.sh(host, f"docker swarm join --token {token} "
                             f"--advertise-addr {the_lab.address[host]} {the_lab.address[first]}:2377")
        yield the_lab
    finally:
        dismantle_swarm(the_lab)


@pytest.fixture(scope="module")
def probe_service(swarm: Lab) -> Iterator[str]:
    """Three tasks, one per node, dnsrr (no IPVS here), on an overlay, image from the lab registry."""
    the_lab = swarm
    image = f"{the_lab.registry}/{PROBE_REPO}:dev"
    for host in the_lab.hosts:  # so the tasks must pull it
        the_lab.sh(host, f"docker image rm -f {image} >/dev/null 2>&1 || true", check=False)
    first = the_lab.hosts[0]
    the_lab.sh(first, f"docker network create --driver overlay --attachable {OVERLAY}")
    the_lab.sh(first, f"docker service create --detach --name {SERVICE} --replicas {len(the_lab.hosts)} "
                      f"--replicas-max-per-node 1 --endpoint-mode dnsrr --network {OVERLAY} {image}")
    try:
        wait_until(
            f"{len(the_lab.hosts)} running tasks of {SERVICE}",
            lambda: the_lab.sh(first, f"docker service ps {SERVICE} --filter desired-state=running "
                                      "--format '{{.Node}} {{.CurrentState}}'").splitlines(),
            lambda lines: len(lines) == len(the_lab.hosts) and all(" Running " in line for line in lines),
            timeout=180,
        )
        yield image
    finally:
        the_lab.sh(first, f"docker service rm {SERVICE} >/dev/null 2>&1; "
                          f"sleep 3; docker network rm {OVERLAY} >/dev/null 2>&1 || true", check=False)


def test_lab_json_describes_the_hosts_for_the_stack(lab_hosts: Lab) -> None:
    info = json.loads(LAB_JSON.read_text())
    assert [(h["name"], h["address"]) for h in info["hosts"]] == [
        ("docker1", "172.30.213.11"), ("docker2", "172.30.213.12"), ("docker3", "172.30.213.13")]
    assert info["ssh_user"] == "root"
    assert Path(info["ssh_key"]).is_file() and Path(info["ssh_key"]).is_relative_to(REPO / "lab" / ".state")
    assert info["registry"] == "172.30.213.5:5000"
    assert info["image_prefix"] == "172.30.213.5:5000/galera-swarm"
    assert info["image_tag"] == "dev"


def test_every_host_engine_answers_over_ssh(lab_hosts: Lab) -> None:
    for host in lab_hosts.hosts:
        name, registries = lab_hosts.sh(
            host, "docker info --format '{{.Name}} {{json .RegistryConfig.IndexConfigs}}'").split(" ", 1)
        assert name == host
        assert "172.30.213.5:5000" in json.loads(registries), f"{host} does not trust the lab registry"


def test_hosts_accept_the_lab_key_only(lab_hosts: Lab) -> None:
    host = lab_hosts.hosts[0]
    without_key = run(["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                       "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityFile=/dev/null",
                       "-o", "LogLevel=ERROR", f"root@{lab_hosts.address[host]}", "true"], check=False)
    assert without_key.returncode == 255
    assert "Permission denied" in without_key.stderr


def test_project_images_are_pulled_by_a_host_from_the_lab_registry(lab_hosts: Lab) -> None:
    catalog = json.loads(run(["curl", "-fsS", f"http://{lab_hosts.registry}/v2/_catalog"]).stdout)
    assert {f"galera-swarm/{name}" for name in PROJECT_IMAGES} <= set(catalog["repositories"])
    host = lab_hosts.hosts[-1]
    image = f"{lab_hosts.image_prefix}/etcd:{lab_hosts.info['image_tag']}"
    lab_hosts.sh(host, f"docker pull -q {image}", timeout=300)
    lab_hosts.sh(host, f"docker image rm {image} >/dev/null")


def test_swarm_formed_by_hand_has_one_leader_and_two_reachable(swarm: Lab) -> None:
    rows = swarm.sh(swarm.hosts[0], "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")
    print(swarm.sh(swarm.hosts[0], "docker node ls"))
    statuses = sorted(line.split()[2] for line in rows.splitlines())
    assert statuses == ["Leader", "Reachable", "Reachable"]
    assert sorted(line.split()[0] for line in rows.splitlines()) == swarm.hosts
    assert all(line.split()[1] == "Ready" for line in rows.splitlines())


def test_service_runs_one_task_per_node_from_the_lab_registry(swarm: Lab, probe_service: str) -> None:
    nodes = swarm.sh(swarm.hosts[0], f"docker service ps {SERVICE} --filter desired-state=running "
                                     "--format '{{.Node}}'").split()
    assert sorted(nodes) == swarm.hosts
    for host in swarm.hosts:
        container = local_task(swarm, host)
        assert swarm.sh(host, f"docker inspect {container} --format '{{{{.Config.Image}}}}'").startswith(probe_service)
        # A RepoDigest naming the lab registry is only there when the image was pulled from it.
        digests = swarm.sh(host, f"docker image inspect $(docker inspect {container} --format '{{{{.Image}}}}') "
                                 "--format '{{json .RepoDigests}}'")
        assert any(d.startswith(f"{swarm.registry}/{PROBE_REPO}@sha256:") for d in json.loads(digests)), digests


def local_task(the_lab: Lab, host: str) -> str:
    return the_lab.sh(host, f"docker ps -q --no-trunc --filter label=com.docker.swarm.service.name={SERVICE}")


def task_answers(the_lab: Lab, host: str, container: str) -> dict[str, str]:
    """From the task on `host`: resolve tasks.<service>, ping each address, ask each who it is."""
    # No single quotes inside: the script travels in single quotes through the remote shell.
    script = (
        f"for ip in $(getent ahostsv4 tasks.{SERVICE} | cut -d\" \" -f1 | sort -u); do "
        f"ping -c1 -W3 $ip >/dev/null || continue; "
        f"echo $ip $(socat -T3 - TCP:$ip:{PROBE_PORT} </dev/null); done"
    )
    out = the_lab.sh(host, f"docker exec {container} sh -c '{script}'")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_tasks_reach_each_other_across_hosts(swarm: Lab, probe_service: str) -> None:
    tasks = {host: local_task(swarm, host) for host in swarm.hosts}
    assert all(len(container) == 64 for container in tasks.values()), tasks
    # A task's hostname is its container's short id: every task must hear all three, two of them remote.
    everyone = {container[:12] for container in tasks.values()}
    for host, container in tasks.items():
        answers = wait_until(
            f"the task on {host} reaching every task by tasks.{SERVICE}",
            lambda: task_answers(swarm, host, container),
            lambda seen: set(seen.values()) == everyone,
            timeout=60,
        )
        assert len(answers) == len(swarm.hosts)


def test_stopped_host_is_down_and_started_host_is_ready_again(swarm: Lab) -> None:
    victim = swarm.hosts[-1]
    lab("stop", victim)
    wait_until(f"{victim} Down", lambda: node_field(swarm, victim, "{{.Status.State}}"),
               lambda state: state == "down", timeout=90)
    assert node_field(swarm, victim, "{{.ManagerStatus.Reachability}}") == "unreachable"
    print(swarm.sh(swarm.hosts[0], "docker node ls"))
    lab("start", victim)
    wait_until(f"{victim} Ready", lambda: node_field(swarm, victim, "{{.Status.State}}"),
               lambda state: state == "ready", timeout=120)
    wait_until(f"{victim} Reachable", lambda: node_field(swarm, victim, "{{.ManagerStatus.Reachability}}"),
               lambda state: state == "reachable", timeout=60)
    print(swarm.sh(swarm.hosts[0], "docker node ls"))


def test_cut_host_is_down_and_healed_host_is_ready_again(swarm: Lab) -> None:
    victim = swarm.hosts[1]
    lab("cut", victim)
    try:
        assert run([*swarm.ssh_args(victim), "true"], check=False, timeout=30).returncode == 255
        wait_until(f"{victim} Down while cut", lambda: node_field(swarm, victim, "{{.Status.State}}"),
                   lambda state: state == "down", timeout=90)
        status_row = next(line for line in lab("status").stdout.splitlines() if line.startswith(victim))
        assert "cut-off" in status_row
    finally:
        lab("heal", victim)
    wait_until(f"{victim} Ready after heal", lambda: node_field(swarm, victim, "{{.Status.State}}"),
               lambda state: state == "ready", timeout=120)
    assert swarm.address[victim] in swarm.sh(victim, "hostname -I").split()


def test_status_shows_each_host_answering_and_its_swarm_role(swarm: Lab) -> None:
    rows = {line.split()[0]: line for line in lab("status").stdout.splitlines() if line.startswith("docker")}
    assert sorted(rows) == swarm.hosts
    for host, row in rows.items():
        assert swarm.address[host] in row
        assert " answers " in row and "active" in row and "manager=true" in row, row
    leader_id = swarm.sh(swarm.hosts[0], "docker info --format '{{.Swarm.NodeID}}'")
    assert f"node={leader_id}" in rows[swarm.hosts[0]]


def test_lab_up_again_keeps_the_healthy_hosts(swarm: Lab) -> None:
    def containers() -> dict[str, str]:
        names = [*swarm.hosts, "galera-lab-registry"]
        out = run(["docker", "inspect", "--format", "{{.Name}} {{.Id}} {{.State.StartedAt}}", *names]).stdout
        return {line.split()[0]: line for line in out.splitlines()}

    def backup_host() -> str:
        return run(["docker", "inspect", "--format", "{{.Id}} {{.State.StartedAt}}", "backup1"]).stdout

    before = containers()
    backup_before = backup_host()
    lab("up", timeout=1800)
    assert containers() == before
    assert backup_host() == backup_before
    # The swarm on the kept hosts is untouched.
    assert swarm.sh(swarm.hosts[0], "docker info --format '{{.Swarm.LocalNodeState}}'") == "active"
