"""Password rotation: new secret files and a rolling restart (what a swarm does after
`pulumi config set --secret`) make every node accept the new passwords besides the old ones,
so clients can move over; `galera-passwords discard-old` then makes the new passwords the only
valid ones on every node."""

from __future__ import annotations

import time

from tests.images.conftest import MEASUREMENTS
from tests.images.docker_helpers import APP_USER, docker, wait_until

NEW = {"root": "new root #\"'\\$`;=, pw", "app": "new app #\"'\\$`;=, pw"}


def assert_both_passwords_work(cluster, old: dict[str, str], new: dict[str, str]) -> None:
    for node in cluster.nodes:
        other = next(n for n in cluster.nodes if n != node)
        for passwords in (old, new):
            assert cluster.login(node, "root", passwords["root"], via=other) == "root@%", node
            assert cluster.login(node, APP_USER, passwords["app"], via=other) == f"{APP_USER}@%", node


def galera_passwords(node: str, step: str, root: str, app: str, *args: str):
    """`galera-passwords <step>` inside `node`, the passwords on stdin as the component sends them."""
    return docker("exec", "-i", node, "galera-passwords", step, *args, input=f"{root}\n{app}\n",
                  check=False, timeout=120)


def assert_only_new_passwords_work(cluster, old: dict[str, str], new: dict[str, str]) -> None:
    denied = "ERROR 1045 (28000): Access denied"
    for node in cluster.nodes:
        other = next(n for n in cluster.nodes if n != node)
        assert cluster.login(node, "root", new["root"], via=other) == "root@%", node
        assert denied in cluster.login(node, "root", old["root"], via=other), node
        assert cluster.login(node, "root", new["root"], os_user="nobody") == "root@localhost", node
        assert denied in cluster.login(node, "root", old["root"], os_user="nobody"), node
        assert cluster.login(node, APP_USER, new["app"], via=other) == f"{APP_USER}@%", node
        assert denied in cluster.login(node, APP_USER, old["app"], via=other), node


def test_rolling_restart_with_new_password_files_rotates_every_password(cluster_factory):
    cluster = cluster_factory("rot", secrets_as_files="all")
    old = {"root": cluster.root_password, "app": cluster.app_password}
    cluster.start(*cluster.nodes)
    cluster.wait_all_synced(timeout=240)
    uuid = cluster.status(cluster.nodes[0])["wsrep_cluster_state_uuid"]
    cluster.sql(cluster.nodes[0], "CREATE DATABASE rot; CREATE TABLE rot.t (id INT PRIMARY KEY); "
                                  "INSERT INTO rot.t VALUES (1),(2),(3)")

    cluster.write_secrets(**NEW)
    seen: list[str] = []  # wsrep_cluster_status of the running nodes during the rolling restart
    for node in cluster.nodes:
        others = [n for n in cluster.nodes if n != node]
        started = time.monotonic()
        docker("stop", "-t", "60", node, timeout=120)
        seen += [cluster.status(n).get("wsrep_cluster_status", "?") for n in others]
        cluster.start(node)

        def back():
            seen.extend(cluster.status(n).get("wsrep_cluster_status", "?") for n in others)
            return cluster.is_synced(node, 3)
        wait_until(f"{node} Synced again after its restart", back, 180, interval=2)
        MEASUREMENTS.append(f"rotation: {node} restarted and Synced in {time.monotonic() - started:.0f}s")
        cluster.wait_all_synced(timeout=60)
    assert set(seen) == {"Primary"}, seen
    for node in cluster.nodes:
        assert cluster.status(node)["wsrep_cluster_state_uuid"] == uuid
        assert any("decision: join the running cluster" in d for d in cluster.decisions(node)[1:]), node
    # Retained: the clients still on the old passwords keep working while they move over.
    assert_both_passwords_work(cluster, old, NEW)

    # A wrong password given to the end of the rotation is an error that changes nothing.
    refused = galera_passwords(cluster.nodes[0], "discard-old", "not the root password", NEW["app"], "--timeout", "3")
    assert refused.returncode == 1
    assert "the new passwords were not accepted on 127.0.0.1 within 3 s" in refused.stderr
    assert "Access denied for user 'root'" in refused.stderr
    assert_both_passwords_work(cluster, old, NEW)

    ended = galera_passwords(cluster.nodes[0], "discard-old", NEW["root"], NEW["app"])
    assert ended.returncode == 0, ended.stderr
    assert "old passwords discarded" in ended.stderr
    assert_only_new_passwords_work(cluster, old, NEW)

    # A node whose volume is wiped rejoins by SST and has the new passwords too.
    victim = cluster.nodes[1]
    cluster.recreate(victim, wipe=True)
    started = time.monotonic()
    cluster.start(victim)
    cluster.wait_all_synced(timeout=240)
    MEASUREMENTS.append(f"rotation: {victim} with a wiped volume Synced by SST in {time.monotonic() - started:.0f}s")
    assert "decision: join the running cluster" in cluster.decisions(victim)[-1]
    assert cluster.status(victim)["wsrep_cluster_state_uuid"] == uuid
    assert cluster.sql(victim, "SELECT COUNT(*) FROM rot.t") == "3"
    assert_only_new_passwords_work(cluster, old, NEW)
    MEASUREMENTS.extend("  " + l for n in cluster.nodes for l in cluster.entrypoint_lines(n) if "password" in l)


def test_an_account_without_a_native_password_takes_the_new_password_alone(cluster_factory):
    """Retain keeps a current *native* password only: with root@'%' gone and the application
    user on unix_socket alone, a restart with new files still applies every password (the SQL
    does not stop at the first account), and the application user gets the new one alone."""
    cluster = cluster_factory("rotnone", size=1, secrets_as_files="all")
    (node,) = cluster.nodes
    cluster.start(node)
    cluster.wait_all_synced(timeout=180)
    cluster.sql(node, f"DROP USER 'root'@'%'; ALTER USER '{APP_USER}'@'%' IDENTIFIED VIA unix_socket")
    new = {"root": "second root pw", "app": "second app pw"}
    cluster.write_secrets(**new)
    docker("stop", "-t", "60", node, timeout=120)
    restarted = docker("inspect", "-f", "{{.State.FinishedAt}}", node).stdout.strip()
    cluster.start(node)
    wait_until(f"{node} Synced after its restart", lambda: cluster.is_synced(node, 1), 180, interval=2)
    lines = wait_until("the passwords applied, or a failure to", lambda: [
        line for line in cluster.entrypoint_lines(node, since=restarted)
        if "passwords of the settings accepted" in line or "could not apply" in line], 60, interval=2)
    assert any("passwords of the settings accepted" in line for line in lines), lines
    assert not any("could not apply" in line for line in lines), lines
    assert cluster.login(node, APP_USER, new["app"], via=node) == f"{APP_USER}@%"
    assert cluster.sql(node, "SELECT COUNT(*) FROM mysql.global_priv WHERE User = 'root' AND Host = '%'") == "0"
