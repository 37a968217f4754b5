"""Bad settings end with a clear error naming the setting and a non-zero exit."""

from __future__ import annotations

import pytest

from tests.images.docker_helpers import ETCD_GALERA_PASSWORD, ROOT_PASSWORD, SST_PASSWORD, docker


def run_galera(images, network, name, env: dict[str, str], timeout: float = 90):
    args = ["run", "--name", name, "--network", network]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    try:
        return docker(*args, images["galera"], check=False, timeout=timeout)
    finally:
        docker("rm", "-f", "-v", name, check=False)


@pytest.mark.parametrize("missing, present", [
    ("MYSQL_ROOT_PASSWORD", {}),
    ("MYSQL_PASSWORD", {"MYSQL_ROOT_PASSWORD": ROOT_PASSWORD, "MYSQL_USER": "app"}),
])
def test_missing_password_ends_with_an_error_naming_the_setting(images, network, run_prefix, missing, present):
    proc = run_galera(images, network, f"{run_prefix}-nopw", {"DISCOVERY_SERVICE": "etcd:2379", **present})
    assert proc.returncode == 1
    assert f"[ERROR] [require_setting] {missing} is not set" in proc.stderr
    assert f"set {missing} or {missing}_FILE" in proc.stderr


def test_sst_password_is_no_longer_needed_and_is_ignored_when_given(images, network, run_prefix):
    # SST logs in as 'mysql'@'localhost' through unix_socket; without etcd the node then stops.
    proc = run_galera(images, network, f"{run_prefix}-sstpw", {
        "DISCOVERY_SERVICE": f"{run_prefix}-no-such-etcd:2379", "ETCD_WAIT_TIMEOUT": "1",
        "MYSQL_ROOT_PASSWORD": ROOT_PASSWORD, "SST_PASSWORD": SST_PASSWORD, "ETCD_PASSWORD": ETCD_GALERA_PASSWORD})
    assert "SST_PASSWORD is set but no longer used" in proc.stderr
    assert "[ERROR] [wait_for_etcd] etcd unreachable" in proc.stderr
    assert "[ERROR] [require_setting]" not in proc.stderr


def test_password_given_both_as_value_and_as_file_is_refused(images, network, run_prefix):
    proc = run_galera(images, network, f"{run_prefix}-bothpw", {
        "DISCOVERY_SERVICE": "etcd:2379", "MYSQL_ROOT_PASSWORD": ROOT_PASSWORD,
        "MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/root"})
    assert proc.returncode == 1
    assert "both MYSQL_ROOT_PASSWORD and MYSQL_ROOT_PASSWORD_FILE are set; set only one of them" in proc.stderr


def test_missing_etcd_password_file_ends_with_an_error_naming_the_variable(images, network, run_prefix):
    proc = run_galera(images, network, f"{run_prefix}-noetcdpw", {
        "DISCOVERY_SERVICE": "etcd:2379", "MYSQL_ROOT_PASSWORD": ROOT_PASSWORD,
        "ETCD_PASSWORD_FILE": "/run/secrets/etcd-galera-password"})
    assert proc.returncode == 1
    assert ("[ERROR] [file_env] ETCD_PASSWORD_FILE=/run/secrets/etcd-galera-password is not a readable file; "
            "mount the secret there or set ETCD_PASSWORD") in proc.stderr


def test_unreachable_etcd_ends_with_an_error_after_the_timeout(images, network, run_prefix):
    proc = run_galera(images, network, f"{run_prefix}-noetcd", {
        "DISCOVERY_SERVICE": f"{run_prefix}-no-such-etcd:2379", "ETCD_WAIT_TIMEOUT": "5",
        "MYSQL_ROOT_PASSWORD": ROOT_PASSWORD, "ETCD_PASSWORD": ETCD_GALERA_PASSWORD})
    assert proc.returncode == 1
    assert (f"[ERROR] [wait_for_etcd] etcd unreachable at DISCOVERY_SERVICE={run_prefix}-no-such-etcd:2379 "
            f"after 5s") in proc.stderr


def test_wordpress_without_database_password_ends_with_an_error(images, network, run_prefix):
    name = f"{run_prefix}-wp-nopw"
    try:
        proc = docker("run", "--name", name, "--network", network, images["wordpress"], check=False, timeout=60)
    finally:
        docker("rm", "-f", name, check=False)
    assert proc.returncode == 1
    assert "WORDPRESS_DB_PASSWORD is not set" in proc.stderr


def test_recovery_election_picks_highest_seqno_of_the_cluster_uuid_and_breaks_ties_by_name(images):
    # galera-agent elect: the election of the node's decision over positions on stdin.
    script = ("printf '%s\\n' 'node-c U 7' 'node-a U 5' 'node-b U 7' 'node-d OTHER 9' "
              "'node-e 00000000-0000-0000-0000-000000000000 -1' | galera-agent elect U")
    out = docker("run", "--rm", "--entrypoint", "bash", images["galera"], "-c", script).stdout
    assert out.strip() == "node-b"
