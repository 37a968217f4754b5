"""etcd image: a single node by default, a 3-member cluster through the ETCD_* variables."""

from __future__ import annotations

import subprocess

from components.galera_service import forget_nodes_script
from tests.images.docker_helpers import docker, wait_until


def etcdctl(container: str, *args: str, check: bool = True):
    return docker("exec", container, "etcdctl", "--dial-timeout=2s", *args, check=check)


def test_etcd_defaults_to_a_single_node_advertising_its_hostname(images, network, run_prefix):
    name = f"{run_prefix}-etcd-single"
    docker("run", "-d", "--name", name, "--hostname", name, "--network", network, images["etcd"])
    try:
        wait_until("etcd to answer", lambda: etcdctl(name, "endpoint", "health", check=False).returncode == 0, 30)
        members = etcdctl(name, "member", "list").stdout.strip().splitlines()
        assert len(members) == 1
        assert f"{name}, http://{name}:2380, http://{name}:2379" in members[0]
        assert docker("exec", name, "etcd", "--version").stdout.startswith("etcd Version: 3.4.")
    finally:
        docker("rm", "-f", "-v", name, check=False)


def test_three_etcd_members_form_one_cluster_from_the_etcd_variables(images, network, run_prefix):
    names = [f"{run_prefix}-etcd-{i}" for i in (1, 2, 3)]
    initial = ",".join(f"{n}=http://{n}:2380" for n in names)
    try:
        for n in names:
            docker("run", "-d", "--name", n, "--hostname", n, "--network", network,
                   "-e", f"ETCD_INITIAL_CLUSTER={initial}", "-e", "ETCD_INITIAL_CLUSTER_STATE=new",
                   images["etcd"])
        wait_until("the 3 members to be healthy", lambda: all(
            etcdctl(n, "endpoint", "health", check=False).returncode == 0 for n in names), 60)
        members = etcdctl(names[0], "member", "list").stdout.strip().splitlines()
        assert sorted(line.split(", ")[2] for line in members) == names
        etcdctl(names[0], "put", "/gsimg/k", "v1")
        assert etcdctl(names[2], "get", "--print-value-only", "/gsimg/k").stdout.strip() == "v1"
    finally:
        docker("rm", "-f", "-v", *names, check=False)


def test_forget_removes_the_records_of_the_named_galera_nodes_only(images, network, run_prefix):
    """What GaleraService runs after hosts left (forget_nodes_script): their members/ and
    nodes/ records go, every other record stays, and it prints the members it removed."""
    name = f"{run_prefix}-etcd-forget"
    docker("run", "-d", "--name", name, "--hostname", name, "--network", network, images["etcd"])
    try:
        wait_until("etcd to answer", lambda: etcdctl(name, "endpoint", "health", check=False).returncode == 0, 30)
        prefix = "/galera/galera/"
        for key, value in (("members/mysql-galera-docker1", "10.0.1.3"), ("members/mysql-galera-docker4", "10.0.1.6"),
                           ("nodes/mysql-galera-docker4", "10.0.1.6 synced"), ("uuid", "0c1d2e3f")):
            etcdctl(name, "put", prefix + key, value)
        script = forget_nodes_script(image=images["galera"], network=network, cluster_name="galera",
                                     discovery_endpoint=f"{name}:2379",
                                     node_names=["mysql-galera-docker4", "mysql-galera-docker9"])
        done = subprocess.run(["sh", "-c", "set -eu\n" + script], capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout) == (0, "mysql-galera-docker4\n"), done.stderr
        keys = etcdctl(name, "get", "--prefix", "--keys-only", prefix).stdout.split()
        assert keys == [prefix + "members/mysql-galera-docker1", prefix + "uuid"]
    finally:
        docker("rm", "-f", "-v", name, check=False)
