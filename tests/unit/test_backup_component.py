"""GaleraBackup under mocks: the environment galera-agent's scheduler reads and the secrets it
mounts reach the Galera tasks exactly; nothing else in the Galera service changes, and without
`backup` nothing changes at all."""

from __future__ import annotations

import base64
import dataclasses
import re

import pulumi
import pytest

from components.galera_backup import (KNOWN_HOSTS_FILE, PASSWORD_FILE, RESOURCE_TYPE, SSH_KEY_FILE, GaleraBackup,
                                      GaleraBackupArgs, RetentionPolicy, backup_env)
from components.cluster_certificates import tls_env
from galera_swarm.settings import BackupSettings
from components.galera_service import CLUSTER_SIZE_TEMPLATE, galera_env
from tests.unit.conftest import (NAMESPACE, PASSWORDS, SwarmMocks, is_secret, resolve, run_program, secret_input,
                                 stack_config)
from tests.unit.test_backup_config import BACKUP_PASSWORD, sftp_files  # noqa: F401  (a fixture)

SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
SECRET_KEYS = [f"{NAMESPACE}:{k}" for k in PASSWORDS] + [f"{NAMESPACE}:backup"]
REPOSITORY = "sftp:backup@192.0.2.60:/srv/backup/galera"
DEFAULT_KEEP = RetentionPolicy(last=7, daily=7, weekly=4, monthly=6)


@pytest.mark.parametrize("sftp,expected", [
    (True, {"BACKUP_REPOSITORY": REPOSITORY, "BACKUP_SCHEDULE": "0 3 * * *",
            "BACKUP_KEEP": "last=1,daily=2,weekly=3,monthly=0", "BACKUP_DRILL_SCHEDULE": "0 4 * * 0",
            "BACKUP_PITR_INTERVAL": "0", "BACKUP_PASSWORD_FILE": "/run/secrets/backup-password",
            "BACKUP_SSH_KEY_FILE": "/run/secrets/backup-ssh-key",
            "BACKUP_KNOWN_HOSTS_FILE": "/run/secrets/backup-known-hosts"}),
    (False, {"BACKUP_REPOSITORY": REPOSITORY, "BACKUP_SCHEDULE": "0 3 * * *",
             "BACKUP_KEEP": "last=1,daily=2,weekly=3,monthly=0", "BACKUP_DRILL_SCHEDULE": "0 4 * * 0",
             "BACKUP_PITR_INTERVAL": "0", "BACKUP_PASSWORD_FILE": "/run/secrets/backup-password"}),
])
def test_backup_env_is_the_agents_interface(sftp, expected):
    assert backup_env(repository=REPOSITORY, schedule="0 3 * * *", keep=RetentionPolicy(last=1, daily=2, weekly=3, monthly=0),
                      drill_schedule="0 4 * * 0", sftp=sftp) == expected


def run_with_backup(key_path, section: dict, **overrides):
    return run_program(stack_config(key_path, backup={"password": BACKUP_PASSWORD, **section}, **overrides),
                       secret_keys=SECRET_KEYS)


def galera_spec(run) -> dict:
    (spec,) = [r.inputs for r in run.mocks.of_type(SERVICE) if r.inputs["name"] == "mysql-galera"]
    return spec


def secret_value(record) -> str:
    return base64.b64decode(secret_input(record.inputs["data"])).decode()


def test_an_sftp_backup_reaches_the_galera_tasks_as_env_and_secret_files(key_path, sftp_files):
    run = run_with_backup(key_path, {"repository": REPOSITORY, "schedule": "30 2 * * *",
                                     "keep": {"monthly": 12}, **sftp_files})
    spec = galera_spec(run)
    container = spec["taskSpec"]["containerSpec"]
    assert container["env"] == {
        **galera_env(cluster_name="galera", discovery_endpoint="etcd:2379", peers_dns="tasks.mysql-galera",
                     cluster_size=CLUSTER_SIZE_TEMPLATE, database="wordpress", user="wordpress"),
        **tls_env(),
        "BACKUP_REPOSITORY": REPOSITORY, "BACKUP_SCHEDULE": "30 2 * * *",
        "BACKUP_KEEP": "last=7,daily=7,weekly=4,monthly=12", "BACKUP_DRILL_SCHEDULE": "0 12 * * 0",
        "BACKUP_PITR_INTERVAL": "60", "BACKUP_PASSWORD_FILE": "/run/secrets/backup-password",
        "BACKUP_SSH_KEY_FILE": "/run/secrets/backup-ssh-key",
        "BACKUP_KNOWN_HOSTS_FILE": "/run/secrets/backup-known-hosts"}
    # After the node's own three and the three TLS files.
    assert container["secrets"][6:] == [
        {"secretId": "backup-backup-password-id", "secretName": "backup-backup-password-0c1d2e3",
         "fileName": "/run/secrets/backup-password"},
        # OpenSSH refuses a key file that others may read.
        {"secretId": "backup-backup-ssh-key-id", "secretName": "backup-backup-ssh-key-0c1d2e3",
         "fileName": "/run/secrets/backup-ssh-key", "fileMode": 0o400},
        {"secretId": "backup-backup-known-hosts-id", "secretName": "backup-backup-known-hosts-0c1d2e3",
         "fileName": "/run/secrets/backup-known-hosts"}]
    secrets = {r.name: r for r in run.mocks.of_type(SECRET)}
    with open(sftp_files["sshKeyPath"]) as key, open(sftp_files["knownHostsPath"]) as hosts:
        assert secret_value(secrets[f"backup-{SSH_KEY_FILE}"]) == key.read()
        assert secret_value(secrets[f"backup-{KNOWN_HOSTS_FILE}"]) == hosts.read()
    assert secret_value(secrets[f"backup-{PASSWORD_FILE}"]) == BACKUP_PASSWORD
    for value in container["env"].values():
        assert BACKUP_PASSWORD not in value and "PRIVATE KEY" not in value


def test_the_backup_is_a_component_on_the_swarm_provider(key_path, sftp_files):
    run = run_with_backup(key_path, {"repository": REPOSITORY, **sftp_files})
    (component,) = run.mocks.of_type(RESOURCE_TYPE)
    assert component.name == "backup"
    children = [r for r in run.mocks.of_type(SECRET) if r.name.startswith("backup-")]
    assert sorted(r.name for r in children) == [
        "backup-backup-known-hosts", "backup-backup-password", "backup-backup-ssh-key"]
    for r in children:
        assert r.provider.split("::")[-2] == "swarm-docker", (r.name, r.provider)
    backup = run.program["backup"]
    assert not is_secret(backup.env)
    assert resolve(backup.env)["BACKUP_REPOSITORY"] == REPOSITORY


def test_the_program_exports_the_repository_in_plain_text(key_path, sftp_files, monkeypatch):
    exported: dict = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    run_with_backup(key_path, {"repository": REPOSITORY, **sftp_files})
    assert exported["backup_repository"] == REPOSITORY
    exported.clear()
    run_program(stack_config(key_path))
    assert "backup_repository" not in exported and "galera_service" in exported


def test_a_repository_that_is_not_sftp_mounts_only_the_password(key_path):
    run = run_with_backup(key_path, {"repository": "rest:https://192.0.2.60:8000/galera", "schedule": "@hourly"})
    container = galera_spec(run)["taskSpec"]["containerSpec"]
    assert [s["fileName"] for s in container["secrets"]] == [
        "/run/secrets/mysql-root-password", "/run/secrets/mysql-app-password", "/run/secrets/etcd-galera-password",
        *tls_env().values(), "/run/secrets/backup-password"]
    assert {k: v for k, v in container["env"].items() if k.startswith("BACKUP_")} == backup_env(
        repository="rest:https://192.0.2.60:8000/galera", schedule="@hourly", keep=DEFAULT_KEEP,
        drill_schedule="0 12 * * 0", sftp=False, pitr_interval=BackupSettings.model_fields["pitr_interval"].default)


def test_backup_changes_only_the_galera_tasks_env_and_secrets(key_path, sftp_files):
    without = run_program(stack_config(key_path))
    with_backup = run_with_backup(key_path, {"repository": REPOSITORY, **sftp_files})
    plain, backed_up = galera_spec(without), galera_spec(with_backup)
    assert not any(k.startswith("BACKUP_") for k in plain["taskSpec"]["containerSpec"]["env"])
    assert len(plain["taskSpec"]["containerSpec"]["secrets"]) == 6  # the node's three, TLS's three
    strip = lambda spec: {**spec, "taskSpec": {**spec["taskSpec"], "containerSpec": {  # noqa: E731
        k: v for k, v in spec["taskSpec"]["containerSpec"].items() if k not in ("env", "secrets")}}}
    assert strip(plain) == strip(backed_up)
    assert backed_up["taskSpec"]["containerSpec"]["secrets"][:6] == plain["taskSpec"]["containerSpec"]["secrets"]
    # The other services are untouched.
    others = lambda run: {r.inputs["name"]: r.inputs for r in run.mocks.of_type(SERVICE)  # noqa: E731
                          if r.inputs["name"] != "mysql-galera"}
    assert others(without) == others(with_backup)
    assert without.program["backup"] is None and not without.mocks.of_type(RESOURCE_TYPE)


def test_a_missing_backup_key_file_stops_the_program_before_any_resource(key_path, sftp_files, tmp_path):
    mocks = SwarmMocks()
    with pytest.raises(Exception) as err:
        run_program(stack_config(key_path, backup={"password": BACKUP_PASSWORD, "repository": REPOSITORY,
                                                   **sftp_files, "sshKeyPath": str(tmp_path / "absent")}),
                    secret_keys=SECRET_KEYS, mocks=mocks)
    assert f"galera-swarm:backup.sshKeyPath: no file at {tmp_path / 'absent'}" in str(err.value)
    assert mocks.resources == []


def test_a_plain_backup_password_stops_the_program(key_path):
    mocks = SwarmMocks()
    with pytest.raises(Exception) as err:
        run_program(stack_config(key_path, backup={"password": BACKUP_PASSWORD, "repository": "/srv/backup"}),
                    secret_keys=[f"{NAMESPACE}:{k}" for k in PASSWORDS], mocks=mocks)
    assert "galera-swarm:backup.password: is stored in plain text" in str(err.value)
    assert BACKUP_PASSWORD not in str(err.value)
    assert mocks.resources == []


def test_only_one_sftp_text_is_refused():
    with pytest.raises(ValueError, match="ssh_private_key and known_hosts both"):
        GaleraBackup("b", GaleraBackupArgs(repository=REPOSITORY, schedule="@daily", keep=DEFAULT_KEEP, drill_schedule="@weekly",
                                           password="pw", ssh_private_key="key"))


def test_backup_args_hold_no_provider_no_resource_and_no_settings():
    for field in dataclasses.fields(GaleraBackupArgs):
        assert not re.search(r"\b(Provider|Resource|ComponentResource|\w*Settings|Passwords)\b", str(field.type))


def test_restore_reaches_the_galera_tasks_as_restore_snapshot(key_path):
    run = run_with_backup(key_path, {"repository": "/srv/backup/galera"}, restore={"snapshot": "81170a6a"})
    env = galera_spec(run)["taskSpec"]["containerSpec"]["env"]
    assert env["RESTORE_SNAPSHOT"] == "81170a6a" and env["BACKUP_REPOSITORY"] == "/srv/backup/galera"
    assert "RESTORE_SNAPSHOT" not in galera_spec(run_with_backup(key_path, {"repository": "/srv/backup/galera"}))[
        "taskSpec"]["containerSpec"]["env"]


def test_a_point_in_time_and_the_archive_interval_reach_the_galera_tasks(key_path):
    run = run_with_backup(key_path, {"repository": "/srv/backup/galera", "pitrInterval": 15},
                          restore={"snapshot": "latest", "pointInTime": "2026-12-01T10:00:00.5Z"})
    env = galera_spec(run)["taskSpec"]["containerSpec"]["env"]
    assert (env["RESTORE_SNAPSHOT"], env["RESTORE_POINT_IN_TIME"], env["BACKUP_PITR_INTERVAL"]) == (
        "latest", "2026-12-01T10:00:00.5Z", "15")
    plain = galera_spec(run_with_backup(key_path, {"repository": "/srv/backup/galera"}, restore={"snapshot": "latest"}))
    assert "RESTORE_POINT_IN_TIME" not in plain["taskSpec"]["containerSpec"]["env"]
