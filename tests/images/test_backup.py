"""Physical backups (galera-agent's scheduler, mariabackup streamed into restic): one node per
backup, not the load balancer's writer; the snapshot is a backup that prepares; restic's
retention; a wrong repository password fails loudly and writes no snapshot; one backup at a
time in the cluster; a node killed mid-backup leaves no snapshot and no lock in the way; a new
cluster restores a backup, or a backup and its archived binary logs up to a point in time,
across a change of the archiving node; a restore drill checks every table, and fails loudly on
a damaged repository."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import subprocess
import time

import pytest

from tests.images.docker_helpers import container_ip, docker, etcdctl, wait_until

REPOSITORY = "/backups/repo"
PASSWORD_FILE = "backup-password"
BACKUP_ENV = {
    "BACKUP_REPOSITORY": REPOSITORY,
    "BACKUP_SCHEDULE": "@yearly",  # on demand only, within the test
    "BACKUP_KEEP": "last=2,daily=0,weekly=0,monthly=0",
    "BACKUP_PASSWORD_FILE": f"/run/secrets/{PASSWORD_FILE}",
    "BACKUP_PITR_INTERVAL": "3",  # binary logs archived every 3 s (60 in the stack)
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


def listing(cluster, via: str | None = None) -> str:
    return docker("exec", via or cluster.nodes[0], "galera-agent", "backup", "list", timeout=120).stdout


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


def restic_in(node: str, *args: str) -> str:
    """restic on the module's repository inside `node`, with its password file."""
    return docker("exec", "-e", f"RESTIC_PASSWORD_FILE=/run/secrets/{PASSWORD_FILE}", node,
                  "restic", "-r", REPOSITORY, "--no-cache", *args, timeout=120).stdout


def test_retention_keeps_what_the_policy_says(backed_up):
    """BACKUP_KEEP's count of backups, and the archived binary logs from before the oldest kept
    backup of their lineage go: a piece dated 2020 (restic --time) of the cluster's lineage is
    removed, the cluster's own pieces stay."""
    cluster, _ = backed_up
    node = cluster.nodes[1]
    lineage = cluster.etcd_get("lineage")
    assert re.fullmatch(r"[0-9a-f]{16}", lineage), lineage
    restic_in(node, "backup", "--time", "2020-01-01 00:00:00", "--host", "old-node", "--tag", "galera-binlog",
              "--tag", "gtid-from=0-1-0", "--tag", "gtid-to=0-1-1", "--tag", f"lineage={lineage}", "/etc/hostname")
    for _ in range(2):
        backup_now(cluster, node)
    lines = listing(cluster)
    assert "2 snapshots in /backups/repo" in lines, lines  # BACKUP_KEEP last=2
    pieces = json.loads(restic_in(node, "snapshots", "--tag", "galera-binlog", "--json"))
    assert pieces and {p["hostname"] for p in pieces} <= set(cluster.nodes), pieces
    assert any("removed 1 pieces of archived binary logs older than the oldest backup kept" in line
               for n in cluster.nodes for line in cluster.entrypoint_lines(n))


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


def test_two_requests_at_once_share_one_backup_which_waits_for_a_running_one(backed_up):
    """Two `backup now` at once get one backup (the second joins the pending request), and a
    request that meets a running backup (backup/running, held as another node's backup holds
    it) waits until that one ends: never two backups at once."""
    cluster, _ = backed_up
    before = snapshot_ids(listing(cluster))
    running = "00000000000000000001"
    etcdctl(cluster.etcd, "put", cluster.etcd_key("backup/running"), f"backup {running} elsewhere")
    command = ["docker", "exec", cluster.nodes[0], "galera-agent", "backup", "now", "--timeout", "300"]
    requests = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    try:
        time.sleep(20)  # four of the schedulers' polls
        waiting = [r.poll() is None for r in requests]
        during = listing(cluster)
    finally:
        etcdctl(cluster.etcd, "del", cluster.etcd_key("backup/running"))
    answers = [r.communicate(timeout=330) for r in requests]
    assert waiting == [True, True], answers
    assert f"backup {running} running on elsewhere" in during, during
    assert snapshot_ids(during) == before, during
    assert [r.returncode for r in requests] == [0, 0], answers
    first, second = (out.strip() for out, _ in answers)
    assert SNAPSHOT_LINE.match(first) and first == second, answers
    new = set(snapshot_ids(listing(cluster))) - set(before)
    assert len(new) == 1 and first.split()[1].startswith(new.pop()[:8]), (before, answers)
    # (An archive of the binary logs, every 3 s, may hold it now.)
    assert not cluster.etcd_get("backup/running").startswith("backup "), "backup/running left behind"


def test_a_node_killed_mid_backup_leaves_no_snapshot_and_its_lock_is_cleared(backed_up):
    """Item 7: the node taking a backup is killed (SIGKILL, as a power loss) while it streams:
    no snapshot; its backup/running key goes with its lease; the next backup, by another node,
    removes the restic lock it left (a node of this cluster, while no backup of ours runs;
    restic alone would keep it 30 min and refuse every prune) and prunes."""
    cluster, _ = backed_up
    before = snapshot_ids(listing(cluster))
    backup_id = f"{time.time_ns():020d}"  # galera-agent's BackupID
    etcdctl(cluster.etcd, "put", cluster.etcd_key("backup/request"), backup_id)

    # A watcher inside each node (polls every 50 ms; a docker exec per poll from here is too
    # slow for a backup of seconds) ends once that node's mariabackup runs and restic's lock
    # is in the repository: the first to end names the node taking the backup.
    watch = (f"until pgrep -x mariabackup >/dev/null && compgen -G '{REPOSITORY}/locks/*' >/dev/null; "
             "do sleep 0.05; done")
    watchers = {n: subprocess.Popen(["docker", "exec", n, "timeout", "130", "bash", "-c", watch]) for n in cluster.nodes}
    try:
        taker = wait_until("a node streaming the backup, with its restic lock in the repository",
                           lambda: next((n for n, w in watchers.items() if w.poll() == 0), None), 120, interval=0.02)
        docker("kill", taker)
    finally:
        for w in watchers.values():
            w.kill()
            w.wait()
    survivors = [n for n in cluster.nodes if n != taker]
    try:
        wait_until("backup/running to go with the killed node's lease",
                   lambda: cluster.etcd_get("backup/running") == "", 60)
        assert backup_id not in cluster.etcd_get("backup/last"), "the killed backup reported an end"
        done = backup_now(cluster, survivors[0])
        lines = listing(cluster, survivors[0])
        took = [n for n in survivors if "removed the shared lock" in cluster.logs(n)]
    finally:
        cluster.start(taker)
        cluster.wait_all_synced(timeout=240)
    assert "warning" not in done.stderr, done.stderr  # the retention ran
    new = set(snapshot_ids(lines)) - set(before)
    assert len(new) == 1 and done.stdout.split()[1].startswith(new.pop()[:8]), (before, lines)
    assert taker not in done.stdout, done.stdout
    assert len(took) == 1 and any(f"on {taker} from" in line for line in cluster.entrypoint_lines(took[0])), took


def test_a_new_cluster_restores_the_latest_backup_and_takes_the_stack_s_passwords(backed_up, cluster_factory, run_prefix):
    """Item 3: a new cluster (empty volumes, an empty etcd) with RESTORE_SNAPSHOT=latest starts
    from the newest backup: one node restores and bootstraps, the others join it by state
    transfer; it holds the rows of the backup and not a row written after it, keeps the
    backed-up cluster's uuid, and its accounts take the new cluster's passwords (the backup's
    are an older stack's)."""
    cluster, volume = backed_up
    backup_now(cluster, cluster.nodes[1])
    cluster.sql(cluster.nodes[0], "INSERT INTO shop.orders VALUES (4, 'after the backup')")
    source_uuid = cluster.status(cluster.nodes[0])["wsrep_cluster_state_uuid"]
    restored = cluster_factory("rs", env={**BACKUP_ENV, "RESTORE_SNAPSHOT": "latest"}, secrets_as_files="all",
                               root_password="a-new-root-password", app_password="a-new-app-password",
                               extra_args={f"{run_prefix}-rs-g{i}": ["-v", f"{volume}:/backups"] for i in (1, 2, 3)})
    (restored.secrets_dir / PASSWORD_FILE).write_text((cluster.secrets_dir / PASSWORD_FILE).read_text())
    (restored.secrets_dir / PASSWORD_FILE).chmod(0o644)
    restored.start(*restored.nodes)
    restored.wait_all_synced(timeout=300)
    restorers = [n for n in restored.nodes if "restored snapshot" in restored.logs(n)]
    assert len(restorers) == 1, [restored.entrypoint_lines(n)[-5:] for n in restored.nodes]
    for node in restored.nodes:
        assert restored.sql(node, "SELECT id, item FROM shop.orders ORDER BY id") == "1\ttea\n2\tmilk\n3\tbread", node
    assert restored.status(restored.nodes[0])["wsrep_cluster_state_uuid"] == source_uuid
    assert restored.login(restored.nodes[2], "root", "a-new-root-password", via=restored.nodes[0]) == "root@%"


def archived_through(cluster, node: str) -> None:
    """Waits until the archived binary logs hold every transaction `node` has logged."""
    seq = int(cluster.sql(node, "SELECT @@gtid_binlog_pos").split("-")[-1])

    def reached():
        last = cluster.etcd_get("binlog/last")
        report = json.loads(last) if last else {}
        return report.get("position") and int(report["position"].split("-")[-1]) >= seq
    wait_until(f"the archived binary logs to reach GTID seqno {seq}", reached, 60)


def write_markers(cluster, node: str, seconds: float) -> list[tuple[int, datetime.datetime]]:
    """Inserts a marker row every 0.25 s for `seconds`; gives (id, server time) of each."""
    out = cluster.sql(node, "SELECT COALESCE(MAX(id), 0) FROM shop.markers")
    first = int(out) + 1
    script = (f"for i in $(seq {first} {first + int(seconds * 4) - 1}); do "
              "mariadb -uroot shop -e \"INSERT INTO markers VALUES ($i, NOW(6))\"; sleep 0.25; done")
    docker("exec", node, "bash", "-c", script, timeout=seconds * 4 + 60)
    rows = cluster.sql(node, f"SELECT id, at FROM shop.markers WHERE id >= {first} ORDER BY id")
    return [(int(i), datetime.datetime.fromisoformat(at)) for i, at in (r.split("\t") for r in rows.splitlines())]


def test_a_point_in_time_restore_brings_a_dropped_table_back_across_a_new_archiving_node(backed_up, cluster_factory,
                                                                                          run_prefix):
    """Items 2 and 3: binary logs are archived every BACKUP_PITR_INTERVAL by one node; that
    node is stopped hard half way and another goes on with no gap; `DROP TABLE` at T; a new
    cluster with RESTORE_POINT_IN_TIME = T - 1 s holds every marker written before that second,
    none after, and the dropped table."""
    cluster, volume = backed_up
    cluster.sql(cluster.nodes[0], "CREATE TABLE shop.markers (id INT PRIMARY KEY, at DATETIME(6)); "
                                  "CREATE TABLE shop.prices (item TEXT, cents INT); "
                                  "INSERT INTO shop.prices VALUES ('tea', 250), ('milk', 120), ('bread', 310)")
    backup_now(cluster, cluster.nodes[1])
    writer = cluster.nodes[0]
    markers = write_markers(cluster, writer, 3)
    archived_through(cluster, writer)
    first_archiver = json.loads(cluster.etcd_get("binlog/last"))["node"]
    survivors = [n for n in cluster.nodes if n != first_archiver]
    docker("kill", first_archiver)
    try:
        markers += write_markers(cluster, survivors[0], 3)
        archived_through(cluster, survivors[0])
        second_archiver = json.loads(cluster.etcd_get("binlog/last"))["node"]
        dropped_at = datetime.datetime.fromisoformat(cluster.sql(survivors[0], "SELECT NOW(6)"))
        cluster.sql(survivors[0], "DROP TABLE shop.prices")
        after = write_markers(cluster, survivors[0], 2)
        archived_through(cluster, survivors[0])
        listed = listing(cluster, survivors[0])
    finally:
        cluster.start(first_archiver)
        cluster.wait_all_synced(timeout=240)
    assert second_archiver != first_archiver, second_archiver
    assert "binary logs archived every 3s; newest point in time" in listed, listed

    until = dropped_at - datetime.timedelta(seconds=1)
    restored = cluster_factory("pt", env={**BACKUP_ENV, "RESTORE_SNAPSHOT": "latest",
                                          "RESTORE_POINT_IN_TIME": until.isoformat() + "Z"}, secrets_as_files="all",
                               extra_args={f"{run_prefix}-pt-g{i}": ["-v", f"{volume}:/backups"] for i in (1, 2, 3)})
    (restored.secrets_dir / PASSWORD_FILE).write_text((cluster.secrets_dir / PASSWORD_FILE).read_text())
    (restored.secrets_dir / PASSWORD_FILE).chmod(0o644)
    restored.start(*restored.nodes)
    restored.wait_all_synced(timeout=300)
    replayed = [line for n in restored.nodes for line in restored.entrypoint_lines(n) if "replayed" in line]
    print(f"\npoint-in-time restore to {until.isoformat()}Z (DROP TABLE at {dropped_at.isoformat()}Z), archived by "
          f"{first_archiver} then {second_archiver}: {replayed}")
    # The binary log's clock has whole seconds: transactions in the second of `until` are left
    # out (CutAt); markers within 10 ms of that second's start may fall either side.
    cut = until.replace(microsecond=0)
    expected = {i for i, at in markers if at < cut - datetime.timedelta(milliseconds=10)}
    unsure = {i for i, at in markers if abs(at - cut) <= datetime.timedelta(milliseconds=10)}
    for node in restored.nodes:
        got = {int(i) for i in restored.sql(node, "SELECT id FROM shop.markers").split()}
        assert expected <= got and not (got - expected - unsure), (node, sorted(expected ^ got))
        assert not got & {i for i, _ in after}, node
        assert restored.sql(node, "SELECT SUM(cents) FROM shop.prices") == "680", node
    assert len(replayed) == 1 and "pieces of archived binary logs" in replayed[0], replayed


def test_a_restore_drill_restores_the_newest_snapshot_and_checks_every_table(backed_up):
    """Item 5: `galera-agent backup drill` restores the newest snapshot into a throwaway
    mariadbd (no wsrep, no network) on one node, CHECK TABLE and CHECKSUM TABLE on every
    table; the result is printed, logged by that node and listed."""
    cluster, _ = backed_up
    newest = snapshot_ids(listing(cluster))[-1]
    done = docker("exec", cluster.nodes[0], "galera-agent", "backup", "drill", "--timeout", "300", timeout=330)
    m = re.match(r"^drill of snapshot ([0-9a-f]{8}) on (\S+): restored and prepared, (\d+) tables pass CHECK TABLE, "
                 r"checksum digest ([0-9a-f]{16}), in \d+ s$", done.stdout.strip())
    assert m and m.group(1) == newest, done.stdout
    tables = int(m.group(3))
    assert tables >= 30, done.stdout  # mysql.* and shop.orders
    drilled = [line for line in cluster.entrypoint_lines(m.group(2)) if "[drill] restore drill" in line]
    assert len(drilled) == 1 and f"snapshot {newest}" in drilled[0], drilled
    listed = listing(cluster)
    assert "last restore drill at" in listed and f"{tables} tables pass CHECK TABLE, checksum digest {m.group(4)}" in listed
    # A second drill of the same snapshot finds the same checksums.
    again = docker("exec", cluster.nodes[1], "galera-agent", "backup", "drill", "--timeout", "300", timeout=330)
    assert f"checksum digest {m.group(4)}" in again.stdout, (done.stdout, again.stdout)
    leftovers = docker("exec", m.group(2), "bash", "-c", "ls -d /tmp/restore-drill-* 2>/dev/null || true").stdout
    assert leftovers.strip() == "", leftovers


def test_a_drill_of_a_damaged_repository_fails_loudly(backed_up):
    """Item 7: every data pack in the repository damaged (overwritten with zeros): the drill
    fails, exits non-zero naming the snapshot and restic's verdict, and the node logs an error;
    `backup list` still lists the snapshots and marks the ones it cannot read. Last in the
    module: the repository stays damaged."""
    cluster, _ = backed_up
    # Every blob of every pack, from byte 40 to 40 before its end (a pack holds several blobs:
    # one damaged run at its start may miss the snapshot's tree).
    docker("exec", cluster.nodes[0], "bash", "-c",
           f"find {REPOSITORY}/data -type f | while read -r pack; do "
           "size=$(stat -c %s \"$pack\"); head -c $((size - 80)) /dev/zero | "
           "dd of=\"$pack\" bs=64K seek=40 oflag=seek_bytes conv=notrunc status=none; done")
    failed = docker("exec", cluster.nodes[0], "galera-agent", "backup", "drill", "--timeout", "300",
                    check=False, timeout=330)
    assert failed.returncode == 1, failed
    assert "galera-agent backup drill: " in failed.stderr and "reading snapshot" in failed.stderr, failed.stderr
    assert any("[ERROR] [drill] restore drill" in line and "FAILED" in line
               for n in cluster.nodes for line in cluster.entrypoint_lines(n)), "no error line in any node's log"
    listed = listing(cluster)  # still lists what is there, and says what it cannot read
    # restic's words for a damaged blob: its MAC, or its nonce (zeros) when the damage starts there.
    assert "last restore drill FAILED" in listed and "UNREADABLE" in listed, listed
    assert "ciphertext verification failed" in listed or "nonce is invalid" in listed, listed
