"""etcd image: a single node by default, a 3-member cluster through the ETCD_* variables; only
clients that log in are answered (users root and galera, set up by the image itself)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from components.galera_service import forget_nodes_script
from tests.images.docker_helpers import (ETCD_GALERA_PASSWORD, docker, etcd_answers, etcd_run_args, etcdctl,
                                         new_secrets_dir, wait_until)

# What etcd 3.4 answers a client that does not log in, and a user outside its role.
UNAUTHENTICATED = "Error: etcdserver: user name is empty"
PERMISSION_DENIED = "Error: etcdserver: permission denied"


@pytest.fixture
def secrets_dir():
    path = new_secrets_dir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_etcd(images, network, name: str, secrets_dir, *env: str) -> None:
    args = [arg for kv in env for arg in ("-e", kv)]
    docker("run", "-d", "--name", name, "--hostname", name, "--network", network,
           *etcd_run_args(secrets_dir), *args, images["etcd"])


def entrypoint_lines(name: str) -> list[str]:
    proc = docker("logs", name, check=False)
    return [line for line in (proc.stdout + proc.stderr).splitlines() if "[etcd-entrypoint]" in line]


def auth_set_up(name: str) -> bool:
    return any("auth enabled: users root and galera" in line for line in entrypoint_lines(name))


def test_etcd_defaults_to_a_single_node_advertising_its_hostname(images, network, run_prefix, secrets_dir):
    name = f"{run_prefix}-etcd-single"
    run_etcd(images, network, name, secrets_dir)
    try:
        wait_until("etcd to answer", lambda: etcd_answers(name), 30)
        members = etcdctl(name, "member", "list").stdout.strip().splitlines()
        assert len(members) == 1
        assert f"{name}, http://{name}:2380, http://{name}:2379" in members[0]
        assert docker("exec", name, "etcd", "--version").stdout.startswith("etcd Version: 3.4.")
    finally:
        docker("rm", "-f", "-v", name, check=False)


def test_etcd_refuses_clients_that_do_not_log_in_and_keeps_galera_under_its_prefix(
        images, network, run_prefix, secrets_dir):
    name = f"{run_prefix}-etcd-auth"
    run_etcd(images, network, name, secrets_dir)
    try:
        wait_until("etcd to set up auth", lambda: auth_set_up(name), 30)
        # No login: a read and a write are refused (and nothing was written).
        got = etcdctl(name, "get", "/galera/gsimg/bootstrap", user=None, check=False)
        assert got.returncode != 0 and UNAUTHENTICATED in got.stderr
        put = etcdctl(name, "put", "/galera/gsimg/bootstrap", "rogue", user=None, check=False)
        assert put.returncode != 0 and UNAUTHENTICATED in put.stderr
        # A wrong password is refused too.
        wrong = docker("exec", "-e", "ETCDCTL_USER=galera", "-e", "ETCDCTL_PASSWORD=wrong", name,
                       "etcdctl", "get", "/galera/gsimg/bootstrap", check=False)
        assert "authentication failed, invalid user ID or password" in wrong.stderr
        # galera reads and writes under /galera/, nowhere else; root everywhere.
        assert etcdctl(name, "put", "/galera/gsimg/bootstrap", "g1", user="galera").stdout.strip() == "OK"
        assert etcdctl(name, "get", "--print-value-only", "/galera/gsimg/bootstrap",
                       user="galera").stdout.strip() == "g1"
        for args in (("put", "/other", "x"), ("get", "/other"), ("put", "/galeraX", "x")):
            refused = etcdctl(name, *args, user="galera", check=False)
            assert refused.returncode != 0 and PERMISSION_DENIED in refused.stderr, args
        assert etcdctl(name, "user", "list").stdout.split() == ["galera", "root"]
        # No password in the container's spec, and not in its process list either.
        spec = docker("inspect", name).stdout
        cmdlines = docker("exec", name, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
        for password in (ETCD_GALERA_PASSWORD, (secrets_dir / "etcd-root-password").read_text()):
            assert password not in spec and password not in cmdlines
        # A restart keeps auth and both users, and changes nothing.
        docker("restart", name)
        wait_until("etcd to answer again", lambda: etcd_answers(name), 30)
        wait_until("etcd to check auth again", lambda: sum("auth enabled" in line for line in entrypoint_lines(name)) == 2, 30)
        assert UNAUTHENTICATED in etcdctl(name, "get", "/galera/gsimg/bootstrap", user=None, check=False).stderr
        assert etcdctl(name, "get", "--print-value-only", "/galera/gsimg/bootstrap", user="galera").stdout.strip() == "g1"
        assert sum("auth is not enabled yet" in line for line in entrypoint_lines(name)) == 1
        assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
    finally:
        docker("rm", "-f", "-v", name, check=False)


def test_etcd_with_a_changed_root_password_says_so_and_keeps_serving(images, network, run_prefix, secrets_dir):
    name = f"{run_prefix}-etcd-rotated"
    run_etcd(images, network, name, secrets_dir)
    try:
        wait_until("etcd to set up auth", lambda: auth_set_up(name), 30)
        (secrets_dir / "etcd-root-password").write_text("another-password")
        docker("restart", name)
        wait_until("the entrypoint to report the password", lambda: any(
            "[ERROR] [check_logins] etcd's root password differs from ETCD_ROOT_PASSWORD_FILE" in line
            for line in entrypoint_lines(name)), 30)
        assert etcdctl(name, "put", "/galera/k", "v", user="galera").stdout.strip() == "OK"
    finally:
        docker("rm", "-f", "-v", name, check=False)


@pytest.mark.parametrize("env, text", [
    (["ETCD_ROOT_PASSWORD_FILE="], "ETCD_ROOT_PASSWORD_FILE is not set; set it to a file holding the password"),
    (["ETCD_ROOT_PASSWORD=plain"], "ETCD_ROOT_PASSWORD is set as a plain value; mount the password as a secret "
                                   "file and set ETCD_ROOT_PASSWORD_FILE to its path"),
    (["ETCD_GALERA_PASSWORD_FILE=/run/secrets/none"], "ETCD_GALERA_PASSWORD_FILE=/run/secrets/none is not a "
                                                      "readable file"),
])
def test_etcd_without_its_password_files_ends_with_an_error_naming_the_variable(images, network, run_prefix,
                                                                              secrets_dir, env, text):
    name = f"{run_prefix}-etcd-nopw"
    args = [arg for kv in env for arg in ("-e", kv)]
    try:
        proc = docker("run", "--name", name, "--network", network, *etcd_run_args(secrets_dir), *args,
                      images["etcd"], check=False, timeout=60)
    finally:
        docker("rm", "-f", "-v", name, check=False)
    assert proc.returncode == 1
    assert text in proc.stderr


def test_etcd_refuses_a_password_with_white_space(images, network, run_prefix, secrets_dir):
    (secrets_dir / "etcd-galera-password").write_text("two words")
    name = f"{run_prefix}-etcd-space"
    try:
        proc = docker("run", "--name", name, "--network", network, *etcd_run_args(secrets_dir),
                      images["etcd"], check=False, timeout=60)
    finally:
        docker("rm", "-f", "-v", name, check=False)
    assert proc.returncode == 1
    assert "ETCD_GALERA_PASSWORD holds white space" in proc.stderr


def test_three_etcd_members_form_one_cluster_from_the_etcd_variables(images, network, run_prefix, secrets_dir):
    names = [f"{run_prefix}-etcd-{i}" for i in (1, 2, 3)]
    initial = ",".join(f"{n}=http://{n}:2380" for n in names)
    try:
        for n in names:
            run_etcd(images, network, n, secrets_dir, f"ETCD_INITIAL_CLUSTER={initial}",
                     "ETCD_INITIAL_CLUSTER_STATE=new")
        wait_until("the 3 members to be healthy", lambda: all(etcd_answers(n) for n in names), 60)
        members = etcdctl(names[0], "member", "list").stdout.strip().splitlines()
        assert sorted(line.split(", ")[2] for line in members) == names
        etcdctl(names[0], "put", "/gsimg/k", "v1")
        assert etcdctl(names[2], "get", "--print-value-only", "/gsimg/k").stdout.strip() == "v1"
        # All three started at once and raced to set auth up: it is enabled once, every member
        # finds both users logging in, and no member answers a client that does not log in.
        wait_until("every member to check auth", lambda: all(auth_set_up(n) for n in names), 60)
        enabled = [line for n in names for line in docker("logs", n).stderr.splitlines()
                   if "auth: Authentication enabled" in line]
        assert len(enabled) == 3, enabled  # one raft entry, applied by each of the 3 members
        for n in names:
            assert UNAUTHENTICATED in etcdctl(n, "get", "/gsimg/k", user=None, check=False).stderr
            assert etcdctl(n, "put", "/galera/k", n, user="galera").stdout.strip() == "OK"
        assert etcdctl(names[0], "user", "list").stdout.split() == ["galera", "root"]
        assert "galera" in etcdctl(names[1], "role", "list").stdout.split()
    finally:
        docker("rm", "-f", "-v", *names, check=False)


def test_forget_removes_the_records_of_the_named_galera_nodes_only(images, network, run_prefix, secrets_dir):
    """What GaleraService runs after hosts left (forget_nodes_script): their members/ and
    nodes/ records go, every other record stays, and it prints the members it removed. It logs
    in as galera with the password on its stdin."""
    name = f"{run_prefix}-etcd-forget"
    run_etcd(images, network, name, secrets_dir)
    try:
        wait_until("etcd to set up auth", lambda: auth_set_up(name), 30)
        prefix = "/galera/galera/"
        for key, value in (("members/mysql-galera-docker1", "10.0.1.3"), ("members/mysql-galera-docker4", "10.0.1.6"),
                           ("nodes/mysql-galera-docker4", "10.0.1.6 synced"), ("uuid", "0c1d2e3f")):
            etcdctl(name, "put", prefix + key, value)
        script = forget_nodes_script(image=images["galera"], network=network, cluster_name="galera",
                                     discovery_endpoint=f"{name}:2379",
                                     node_names=["mysql-galera-docker4", "mysql-galera-docker9"])
        assert ETCD_GALERA_PASSWORD not in script
        done = subprocess.run(["sh", "-c", "set -eu\n" + script], capture_output=True, text=True, timeout=120,
                              input=ETCD_GALERA_PASSWORD)
        assert (done.returncode, done.stdout) == (0, "mysql-galera-docker4\n"), done.stderr
        keys = etcdctl(name, "get", "--prefix", "--keys-only", prefix).stdout.split()
        assert keys == [prefix + "members/mysql-galera-docker1", prefix + "uuid"]
        # With another password etcd refuses the agent, and it says so.
        refused = subprocess.run(["sh", "-c", "set -eu\n" + script], capture_output=True, text=True, timeout=120,
                                 input="wrong")
        assert refused.returncode == 1 and "etcd refused the login: logging in as galera" in refused.stderr
    finally:
        docker("rm", "-f", "-v", name, check=False)


def test_a_galera_node_with_another_etcd_password_stops_saying_etcd_refused_it(images, network, run_prefix,
                                                                              secrets_dir):
    name = f"{run_prefix}-etcd-refuse"
    run_etcd(images, network, name, secrets_dir)
    node = f"{run_prefix}-refused-node"
    try:
        wait_until("etcd to set up auth", lambda: auth_set_up(name), 30)
        proc = docker("run", "--name", node, "--network", network, "-e", f"DISCOVERY_SERVICE={name}:2379",
                      "-e", "MYSQL_ROOT_PASSWORD=x", "-e", "ETCD_PASSWORD=another", "-e", "ETCD_WAIT_TIMEOUT=20",
                      images["galera"], check=False, timeout=90)
        assert proc.returncode == 1
        assert ("[ERROR] [wait_for_etcd] etcd refused the login: logging in as galera" in proc.stderr
                and "put the password of etcd's user galera in ETCD_PASSWORD_FILE" in proc.stderr), proc.stderr
    finally:
        docker("rm", "-f", "-v", node, name, check=False)
