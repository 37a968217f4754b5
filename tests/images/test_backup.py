"""Physical backups (galera-agent's scheduler, mariabackup streamed into restic): one node per
backup, not the load balancer's writer; the snapshot is a backup that prepares; restic's
retention; a wrong repository password fails loudly and writes no snapshot."""

from __future__ import annotations

import ipaddress
import re

import pytest

from tests.images.docker_helpers import container_ip, docker

REPOSITORY = "/backups/repo"
PASSWORD_FILE = "backup-password"
BACKUP_ENV = {
    "BACKUP_REPOSITORY": REPOSITORY,
    "BACKUP_SCHEDULE": "@yearly",  # on demand only, within the test
    "BACKUP_KEEP": "last=2,daily=0,weekly=0,monthly=0",
    "BACKUP_PASSWORD_FILE": f"/run/secrets/{PASSWORD_FILE}",
}
SNAPSHOT_LINE = re.compile(r"^snapshot ([0-9a-f]{8,64}): (.+) of (\S+) in \d+ s$")


@pytest.fixture(scope="module")
def backed_up(request, run_prefix, network, images):
    from tests.images.conftest import make_cluster
    prefix = f"{run_prefix}-bk"
    volume = f"{prefix}-backups"
    nodes = [f"{prefix}-g{i}" for i in (1, 2, 3)]
    cluster = make_cluster(request, run_prefix, network, images, "bk", env=BACKUP_ENV, secrets_as_files="all",
                           extra_args={n: ["-v", f"{volume}:/backups"] for n in nodes})
    (cluster.secrets_dir / PASSWORD_FILE).write_text("correct horse battery staple")
    (cluster.secrets_dir / PASSWORD_FILE).chmod(0o644)
    cluster.start(*cluster.nodes)
    cluster.wait_all_synced(timeout=240)
    cluster.sql(cluster.nodes[0], "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item TEXT); "
                                  "INSERT INTO shop.orders VALUES (1, 'tea'), (2, 'milk'), (3, 'bread')")
    return cluster, volume


def backup_now(cluster, via: str, check: bool = True):
    return docker("exec", via, "galera-agent", "backup", "now", "--timeout", "300", check=check, timeout=330)


def listing(cluster) -> str:
    return docker("exec", cluster.nodes[0], "galera-agent", "backup", "list", timeout=120).stdout


def snapshot_ids(lines: str) -> list[str]:
    """The SNAPSHOT column of `galera-agent backup list`."""
    rows = lines.split("\n")[1:]
    return [r.split()[0] for r in rows if re.match(r"^[0-9a-f]{8} ", r)]


def test_a_backup_is_taken_by_one_synced_node_that_is_not_the_writer_and_prepares(backed_up, images):
    cluster, volume = backed_up
    out = backup_now(cluster, cluster.nodes[0]).stdout.strip()
    m = SNAPSHOT_LINE.match(out)
    assert m, out
    snapshot, node = m.group(1), m.group(3)
    # The load balancer's writer is the Synced node with the lowest address (galera_writer.lua).
    writer = min(cluster.nodes, key=lambda n: ipaddress.ip_address(container_ip(n, cluster.network)))
    assert node in cluster.nodes and node != writer, (node, writer)
    took = [n for n in cluster.nodes if "taking backup" in cluster.logs(n)]
    assert took == [node], took
    for n in cluster.nodes:
        assert cluster.is_synced(n, 3), n
    lines = listing(cluster)
    assert snapshot[:8] in lines and node in lines and "1 snapshots in /backups/repo" in lines, lines
    assert f"last backup {snapshot}" in lines, lines
    # The snapshot is a physical backup that prepares and holds the rows and the Galera position.
    restored = docker("run", "--rm", "-v", f"{volume}:/backups:ro", "-v", f"{cluster.secrets_dir}:/run/secrets:ro",
                      "-e", f"RESTIC_PASSWORD_FILE=/run/secrets/{PASSWORD_FILE}", "--entrypoint", "bash",
                      images["galera"], "-c",
                      "set -euo pipefail; mkdir /tmp/r; "
                      f"restic --no-cache --no-lock -r {REPOSITORY} dump {snapshot} mariabackup.mbstream | mbstream -x -C /tmp/r; "
                      "mariabackup --prepare --target-dir /tmp/r >/tmp/prepare.log 2>&1 || { tail -5 /tmp/prepare.log; exit 1; }; "
                      "cat /tmp/r/xtrabackup_galera_info; echo; ls /tmp/r/shop", timeout=300).stdout
    uuid = cluster.status(cluster.nodes[0])["wsrep_cluster_state_uuid"]
    assert uuid in restored and "orders.ibd" in restored, restored


def test_retention_keeps_what_the_policy_says(backed_up):
    cluster, _ = backed_up
    for _ in range(2):
        backup_now(cluster, cluster.nodes[1])
    lines = listing(cluster)
    assert "2 snapshots in /backups/repo" in lines, lines  # BACKUP_KEEP last=2


def test_a_wrong_repository_password_fails_loudly_and_writes_no_snapshot(backed_up):
    cluster, _ = backed_up
    secret = cluster.secrets_dir / PASSWORD_FILE
    good = secret.read_text()
    before = listing(cluster)
    secret.write_text("not the password")
    try:
        failed = backup_now(cluster, cluster.nodes[2], check=False)
    finally:
        secret.write_text(good)
    assert failed.returncode == 1, failed
    assert "the backup password does not open the repository /backups/repo" in failed.stderr, failed.stderr
    assert any("backup" in line and "failed" in line and "[ERROR]" in line
               for n in cluster.nodes for line in cluster.entrypoint_lines(n)), "no error line in any node's log"
    after = listing(cluster)
    assert snapshot_ids(after) == snapshot_ids(before), (before, after)
    assert "last backup FAILED" in after and "does not open the repository" in after, after
