"""`galera-swarm:backup`: every bad repository, schedule, keep policy, sftp login and password
is refused at preview, naming the key and the fix; the defaults are what README says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from galera_swarm import known_hosts
from galera_swarm.settings import ConfigError, parse_settings, sftp_target, SftpTarget
from tests.unit.conftest import NAMESPACE, PASSWORDS, is_secret, resolve, stack_config

# A secure value inside `backup` makes the whole key secret (the engine lists top-level keys).
SECRET_KEYS = {f"{NAMESPACE}:{k}" for k in PASSWORDS} | {f"{NAMESPACE}:backup"}
BACKUP_PASSWORD = "restic-pw-77d1"
REPOSITORY = "sftp:backup@192.0.2.60:/srv/backup/galera"


@pytest.fixture
def sftp_files(tmp_path: Path) -> dict[str, str]:
    """A real unencrypted OpenSSH key and a known_hosts file naming 192.0.2.60 (port 22) and
    [192.0.2.61]:2222."""
    key = tmp_path / "backup_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    hosts = tmp_path / "backup_known_hosts"
    hosts.write_text(f"192.0.2.60 {public}\n[192.0.2.61]:2222 {public}\n")
    return {"sshKeyPath": str(key), "knownHostsPath": str(hosts)}


def backup(**fields) -> dict:
    return {"repository": "/srv/backup/galera", "password": BACKUP_PASSWORD, **fields}


def settings_with(key_path, section, secret_keys=SECRET_KEYS):
    return parse_settings(stack_config(key_path, backup=section), secret_keys)


def problems_of(key_path, section, secret_keys=SECRET_KEYS) -> list[str]:
    with pytest.raises(ConfigError) as err:
        settings_with(key_path, section, secret_keys)
    return err.value.problems


def test_no_backup_section_means_no_backups(key_path):
    s = parse_settings(stack_config(key_path), SECRET_KEYS - {f"{NAMESPACE}:backup"})
    assert s.backup is None and s.passwords.backup is None


def test_defaults_are_daily_with_restics_usual_keep_policy(key_path):
    s = settings_with(key_path, backup())
    assert s.backup.schedule == "@daily" and s.backup.drill_schedule == "0 12 * * 0"
    assert (s.backup.keep.last, s.backup.keep.daily, s.backup.keep.weekly, s.backup.keep.monthly) == (7, 7, 4, 6)
    assert (s.backup.ssh_key_path, s.backup.known_hosts_path) == (None, None)
    assert is_secret(s.passwords.backup) and resolve(s.passwords.backup) == BACKUP_PASSWORD
    assert BACKUP_PASSWORD not in repr(s)


@pytest.mark.parametrize("repository", [
    "sftp:backup@192.0.2.60:/srv/backup/galera", "sftp:backup@backup.example.org:srv/galera",
    "sftp://backup@192.0.2.61:2222//srv/backup", "sftp://backup@[2001:db8::6]//srv/backup",
    "s3:s3.amazonaws.com/bucket/galera", "s3:https://minio.example.org:9000/bucket",
    "rest:https://backup.example.org:8000/galera", "rest:http://192.0.2.60:8000/", "/srv/backup/galera",
])
def test_restics_repository_forms_are_accepted(key_path, sftp_files, repository):
    fields = sftp_files if repository.startswith("sftp") else {}
    assert settings_with(key_path, backup(repository=repository, **fields)).backup.repository == repository


FORMS = ("`sftp:USER@HOST:/PATH`, `sftp://USER@HOST[:PORT]//PATH`, `s3:HOST/BUCKET[/PREFIX]`, "
         "`s3:https://HOST[:PORT]/BUCKET`, `rest:https://HOST[:PORT]/[PATH]` or an absolute local path (tests only)")
SFTP_FIX = ("is not an sftp repository; write `sftp:USER@HOST:/PATH` or `sftp://USER@HOST[:PORT]//PATH` "
            "(restic's forms; no password in the URL, the login is backup.sshKeyPath)")


@pytest.mark.parametrize("repository,message", [
    ("sftp:192.0.2.60:/srv", f"'sftp:192.0.2.60:/srv' {SFTP_FIX}"),
    ("sftp:backup@192.0.2.60", f"'sftp:backup@192.0.2.60' {SFTP_FIX}"),
    ("sftp://backup:pw@192.0.2.60//srv", "holds a password in the URL, which would be in every Galera task's "
     "environment; log in without one in the URL (sftp: backup.sshKeyPath)"),
    ("sftp://backup@192.0.2.60:70000//srv", "'sftp://backup@192.0.2.60:70000//srv' names port 70000; use a port "
     "from 1 to 65535"),
    ("rest:https://user:pw@192.0.2.60/", "holds a password in the URL, which would be in every Galera task's "
     "environment; log in without one in the URL (sftp: backup.sshKeyPath)"),
    ("rest:https://user@192.0.2.60/", "holds a login in the URL, which would be in every Galera task's "
     "environment; use a REST server without one in the URL"),
    ("rest:ftp://192.0.2.60/", "'rest:ftp://192.0.2.60/' is not a restic REST repository; write "
     "`rest:https://HOST[:PORT]/[PATH]`"),
    ("s3:bucket", "'s3:bucket' is not a restic S3 repository; write `s3:HOST/BUCKET[/PREFIX]` or "
     "`s3:https://HOST[:PORT]/BUCKET`"),
    ("b2:bucket:galera", f"'b2:bucket:galera' is not a restic repository this stack supports; use {FORMS}"),
    ("backups/galera", f"'backups/galera' is not a restic repository this stack supports; use {FORMS}"),
    ("/srv/my backups", f"'/srv/my backups' is not a restic repository this stack supports; use {FORMS}"),
])
def test_bad_repository_forms_are_refused(key_path, repository, message):
    problems = problems_of(key_path, backup(repository=repository))
    assert problems == [f"galera-swarm:backup.repository: {message}"]
    assert ":pw@" not in problems[0]


@pytest.mark.parametrize("repository,target", [
    ("sftp:backup@192.0.2.60:/srv", SftpTarget("backup", "192.0.2.60", 22)),
    ("sftp://backup@192.0.2.61:2222//srv", SftpTarget("backup", "192.0.2.61", 2222)),
    ("sftp://restic@[2001:db8::6]//srv", SftpTarget("restic", "2001:db8::6", 22)),
    ("rest:https://192.0.2.60/", None), ("/srv/backup", None),
])
def test_sftp_target_is_the_login_of_either_form(repository, target):
    assert sftp_target(repository) == target


@pytest.mark.parametrize("schedule", [
    "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly",
    "0 3 * * *", "*/15 * * * *", "30 2 1,15 * *", "0 4 * jan-mar mon-fri", "0 0-23/6 * * 0", "5/20 * * * SUN",
])
def test_schedules_the_agents_parser_takes_are_accepted(key_path, schedule):
    assert settings_with(key_path, backup(schedule=schedule)).backup.schedule == schedule


FIX = ("write 5 fields, minute hour day-of-month month day-of-week (UTC), e.g. '0 3 * * *', or one of "
       "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly")
RANGES = ("is out of cron's ranges (minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or jan-dec, "
          "day-of-week 0-6 or sun-sat, step 1 or more)")
NOT_STANDARD = "is not standard cron (no 'L', 'W', '#', 'H' or '?'); use numbers, names, '*', ',', '-' and '/'"


@pytest.mark.parametrize("schedule,message", [
    ("0 0 3 * * *", f"'0 0 3 * * *' has 6 fields (a seconds or year field, or a time zone, is not taken); {FIX}"),
    ("0 3 * *", f"'0 3 * *' has 4 fields (a seconds or year field, or a time zone, is not taken); {FIX}"),
    ("CRON_TZ=UTC 0 3 * * *", f"'CRON_TZ=UTC 0 3 * * *' has 6 fields (a seconds or year field, or a time zone, "
     f"is not taken); {FIX}"),
    ("@every 1h", f"'@every 1h' is not a descriptor the backup scheduler takes; {FIX}"),
    ("@reboot", f"'@reboot' is not a descriptor the backup scheduler takes; {FIX}"),
    ("0 0 L * *", f"'0 0 L * *': the day-of-month field 'L' {NOT_STANDARD}; {FIX}"),
    ("0 0 * * 5#2", f"'0 0 * * 5#2': the day-of-week field '5#2' {NOT_STANDARD}; {FIX}"),
    ("0 0 ? * *", f"'0 0 ? * *': the day-of-month field '?' {NOT_STANDARD}; {FIX}"),
    ("H 3 * * *", f"'H 3 * * *': the minute field 'H' {NOT_STANDARD}; {FIX}"),
    ("0 0 15W * *", f"'0 0 15W * *': the day-of-month field '15W' {NOT_STANDARD}; {FIX}"),
    ("0 0 * * 7", "'0 0 * * 7': day of week 7 is not taken; write Sunday as 0 (days of week are 0-6)"),
    ("0 22-2 * * *", "'0 22-2 * * *': the range '22-2' runs backwards; write it from low to high, split in two "
     "where it wraps (e.g. '22-23,0-2')"),
    ("0 0 * * fri-mon", "'0 0 * * fri-mon': the range 'fri-mon' runs backwards; write it from low to high, "
     "split in two where it wraps (e.g. '22-23,0-2')"),
    ("60 * * * *", f"'60 * * * *' {RANGES}"),
    ("0 24 * * *", f"'0 24 * * *' {RANGES}"),
    ("0 0 0 * *", f"'0 0 0 * *' {RANGES}"),
    ("0 0 * 13 *", f"'0 0 * 13 *' {RANGES}"),
    ("*/0 * * * *", f"'*/0 * * * *' {RANGES}"),
    ("0 0 * mon *", f"'0 0 * mon *' {RANGES}"),
])
def test_schedules_outside_robfig_cron_standard_form_are_refused(key_path, schedule, message):
    assert problems_of(key_path, backup(schedule=schedule)) == [f"galera-swarm:backup.schedule: {message}"]


def test_a_keep_policy_of_zeros_is_refused(key_path):
    assert problems_of(key_path, backup(keep={"last": 0, "daily": 0, "weekly": 0, "monthly": 0})) == [
        "galera-swarm:backup.keep: every count is 0, so the prune after each backup would keep no snapshot; "
        "set at least one of last, daily, weekly, monthly above 0"]
    kept = settings_with(key_path, backup(keep={"last": 0, "daily": 0, "weekly": 0, "monthly": "12"})).backup.keep
    assert (kept.last, kept.monthly) == (0, 12)


@pytest.mark.parametrize("count", [-1, 1.5, "many", True])
def test_keep_counts_are_whole_numbers(key_path, count):
    assert problems_of(key_path, backup(keep={"daily": count})) == [
        f"galera-swarm:backup.keep.daily: must be a whole number from 0 to 2147483647, got {count!r}"]


def test_unknown_keys_in_backup_are_refused(key_path):
    assert problems_of(key_path, backup(keep={"yearly": 2}, schedul="@daily")) == [
        "galera-swarm:backup.keep.yearly: unknown key; known keys are: daily, last, monthly, weekly",
        "galera-swarm:backup.schedul: unknown key; did you mean 'schedule'?"]


def test_repository_is_required_in_the_section(key_path):
    assert problems_of(key_path, {"password": BACKUP_PASSWORD}) == [
        "galera-swarm:backup.repository: missing; set the restic repository, e.g. "
        "`sftp:backup@backup.example.org:/srv/backup/galera`"]


def test_an_sftp_repository_needs_a_key_and_known_hosts(key_path):
    assert problems_of(key_path, backup(repository=REPOSITORY)) == [
        "galera-swarm:backup.sshKeyPath: missing; an sftp repository needs the path of the SSH private key that "
        "logs in to it (OpenSSH, no passphrase)",
        "galera-swarm:backup.knownHostsPath: missing; an sftp repository needs the path of a known_hosts file with "
        "its host's key (`ssh-keyscan -H HOST`, after verifying the fingerprint on the host)"]


def test_key_and_known_hosts_are_refused_for_other_repositories(key_path, sftp_files):
    assert problems_of(key_path, backup(repository="rest:https://192.0.2.60/", **sftp_files)) == [
        "galera-swarm:backup.sshKeyPath: is only for sftp repositories; remove it (this repository is not `sftp:`)",
        "galera-swarm:backup.knownHostsPath: is only for sftp repositories; remove it (this repository is not `sftp:`)"]


HINT = "`pulumi config set --secret --path galera-swarm:backup.password <password>`"


def test_the_password_is_required(key_path):
    assert problems_of(key_path, {"repository": "/srv/backup"}) == [
        f"galera-swarm:backup.password: missing; set it with {HINT}"]


def test_a_plain_password_is_refused(key_path):
    assert problems_of(key_path, backup(), SECRET_KEYS - {f"{NAMESPACE}:backup"}) == [
        f"galera-swarm:backup.password: is stored in plain text; store it encrypted with {HINT}"]


@pytest.mark.parametrize("password,message", [
    ("   ", f"starts or ends with white space, which restic cuts from its password file; use a password without: {HINT}"),
    (" padded", f"starts or ends with white space, which restic cuts from its password file; use a password without: {HINT}"),
    ("two\nlines", f"holds a line break or another non-printable character; use printable characters only: {HINT}"),
    (1234, "must be a string"),
])
def test_bad_passwords_are_refused_without_being_printed(key_path, password, message):
    problems = problems_of(key_path, backup(password=password))
    assert problems == [f"galera-swarm:backup.password: {message}"]
    assert str(password) not in " ".join(problems)


# ------------------------------------------------------------------ the sftp login files
def sftp_backup(key_path, **fields):
    return settings_with(key_path, backup(repository=REPOSITORY, **fields)).backup


def test_the_login_files_texts_are_read_for_an_sftp_repository(key_path, sftp_files):
    login = known_hosts.backup_sftp_login(sftp_backup(key_path, **sftp_files))
    assert login.private_key == Path(sftp_files["sshKeyPath"]).read_text()
    assert login.known_hosts == Path(sftp_files["knownHostsPath"]).read_text()
    other = settings_with(key_path, backup(repository="rest:https://192.0.2.60/")).backup
    assert known_hosts.backup_sftp_login(other) is None


def login_problems(section) -> list[str]:
    with pytest.raises(ConfigError) as err:
        known_hosts.backup_sftp_login(section)
    return err.value.problems


def test_missing_login_files_are_named_with_the_fix(key_path, tmp_path):
    absent = {"sshKeyPath": str(tmp_path / "nokey"), "knownHostsPath": str(tmp_path / "nohosts")}
    assert login_problems(sftp_backup(key_path, **absent)) == [
        f"galera-swarm:backup.sshKeyPath: no file at {tmp_path / 'nokey'}; point it at the file (for the local lab, "
        "run `lab/lab up` first)",
        f"galera-swarm:backup.knownHostsPath: no file at {tmp_path / 'nohosts'}; point it at the file (for the local "
        "lab, run `lab/lab up` first)"]


def test_an_unreadable_file_is_named(key_path, sftp_files, tmp_path):
    assert login_problems(sftp_backup(key_path, **{**sftp_files, "sshKeyPath": str(tmp_path)})) == [
        f"galera-swarm:backup.sshKeyPath: cannot read {tmp_path} (Is a directory); make it a readable text file"]


@pytest.mark.parametrize("text,message", [
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGr6 public\n", "is not an OpenSSH private key "
     "(`-----BEGIN OPENSSH PRIVATE KEY-----` ... `-----END OPENSSH PRIVATE KEY-----`, as `ssh-keygen -t ed25519` writes)"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nunit-test-key!\n-----END OPENSSH PRIVATE KEY-----\n",
     "is not an OpenSSH private key: its body is not base64"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END OPENSSH PRIVATE KEY-----\n",
     "is not an OpenSSH private key: its body does not start with openssh-key-v1"),
])
def test_a_key_file_that_is_no_openssh_private_key_is_refused(key_path, sftp_files, tmp_path, text, message):
    bad = tmp_path / "bad_key"
    bad.write_text(text)
    assert login_problems(sftp_backup(key_path, **{**sftp_files, "sshKeyPath": str(bad)})) == [
        f"galera-swarm:backup.sshKeyPath: {bad} {message}"]


def test_a_key_with_a_passphrase_is_refused(key_path, sftp_files, tmp_path):
    locked = tmp_path / "locked_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(locked)], check=True)
    assert login_problems(sftp_backup(key_path, **{**sftp_files, "sshKeyPath": str(locked)})) == [
        f"galera-swarm:backup.sshKeyPath: {locked} is protected by a passphrase, which the scheduled backups cannot "
        "type; use a key without one (`ssh-keygen -p -N '' -f KEYFILE` removes it)"]


@pytest.mark.parametrize("repository,name", [
    ("sftp:backup@192.0.2.99:/srv", "192.0.2.99"),
    # Listed as [192.0.2.61]:2222 only: port 22 is another entry.
    ("sftp:backup@192.0.2.61:/srv", "192.0.2.61"),
    ("sftp://backup@192.0.2.60:2222//srv", "[192.0.2.60]:2222"),
])
def test_known_hosts_must_name_the_repositorys_host(key_path, sftp_files, repository, name):
    section = settings_with(key_path, backup(repository=repository, **sftp_files)).backup
    target = section.sftp
    path = sftp_files["knownHostsPath"]
    assert login_problems(section) == [
        f"galera-swarm:backup.knownHostsPath: {path} holds no key for {name}, the repository's host; verify the "
        "host's fingerprint on the host (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then add it: "
        f"`ssh-keyscan -H -p {target.port} {target.host} >> {path}` (and compare `ssh-keygen -lf {path}`)"]


def test_a_hashed_known_hosts_entry_names_the_host(key_path, sftp_files):
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", sftp_files["knownHostsPath"]], check=True, capture_output=True)
    assert "192.0.2.60" not in Path(sftp_files["knownHostsPath"]).read_text()
    assert known_hosts.backup_sftp_login(sftp_backup(key_path, **sftp_files)) is not None
    port = settings_with(key_path, backup(repository="sftp://backup@192.0.2.61:2222//srv", **sftp_files)).backup
    assert known_hosts.backup_sftp_login(port) is not None


def test_the_dev_stack_backs_up_to_the_lab_backup_host(key_path):
    import yaml  # PyYAML comes with the Pulumi SDK (pinned in requirements.txt)
    from tests.unit.conftest import ROOT, stand_in_secrets
    section = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["galera-swarm:backup"]
    assert set(section["password"]) == {"secure"}  # encrypted with the dev stack's passphrase
    dev = settings_with(key_path, stand_in_secrets(section)).backup
    # lab/lab's backup host: its address, user and data directory.
    lab = (ROOT / "lab" / "lab").read_text()
    target = dev.sftp
    assert f'BACKUP_ADDRESS="{target.host}"' in lab and f'BACKUP_USER="{target.user}"' in lab
    assert 'BACKUP_PATH="/srv/backup"' in lab and dev.repository.endswith(":/srv/backup/galera")
    assert (dev.schedule, dev.ssh_key_path, dev.known_hosts_path) == (
        "@daily", "lab/.state/id_ed25519", "lab/.state/backup_known_hosts")


@pytest.mark.parametrize("snapshot", ["latest", "81170a6a", "81170a6a" * 8])
def test_restore_takes_latest_or_a_snapshot_id(key_path, snapshot):
    s = parse_settings(stack_config(key_path, backup=backup(), restore={"snapshot": snapshot}), SECRET_KEYS)
    assert s.restore.snapshot == snapshot


@pytest.mark.parametrize("point_in_time", ["2026-12-01T10:00:00Z", "2026-12-01T11:00:00.25+01:00"])
def test_restore_takes_a_point_in_time_in_rfc_3339(key_path, point_in_time):
    s = parse_settings(stack_config(key_path, backup=backup(), restore={"snapshot": "latest", "pointInTime": point_in_time}),
                       SECRET_KEYS)
    assert s.restore.point_in_time == point_in_time


@pytest.mark.parametrize("interval,message", [
    (60, None), (0, None), ("30", None),
    (-1, "galera-swarm:backup.pitrInterval: must be a whole number from 0 to 86400, got -1"),
    (90000, "galera-swarm:backup.pitrInterval: must be a whole number from 0 to 86400, got 90000"),
    ("1m", "galera-swarm:backup.pitrInterval: must be a whole number from 0 to 86400, got '1m'"),
])
def test_the_binary_logs_archive_interval_is_whole_seconds_up_to_a_day(key_path, interval, message):
    config = stack_config(key_path, backup={**backup(), "pitrInterval": interval})
    if message is None:
        assert parse_settings(config, SECRET_KEYS).backup.pitr_interval == int(interval)
        return
    with pytest.raises(ValueError) as err:
        parse_settings(config, SECRET_KEYS)
    assert message in str(err.value)


@pytest.mark.parametrize("restore,with_backup,message", [
    ({"snapshot": "81170a6"}, True, "galera-swarm:restore.snapshot: '81170a6' is neither `latest` nor a snapshot "
     "id (8 to 64 hex digits, as `make backups` shows)"),
    ({"snapshot": "Latest"}, True, "galera-swarm:restore.snapshot: 'Latest' is neither `latest` nor a snapshot id"),
    ({}, True, "galera-swarm:restore.snapshot: missing; set `latest` or a snapshot id from `make backups`"),
    ({"snapshot": "latest", "pointInTime": "2026-12-01 10:00:00"}, True, "galera-swarm:restore.pointInTime: "
     "'2026-12-01 10:00:00' is not an RFC 3339 time with its offset, e.g. 2026-12-02T06:15:00Z"),
    ({"snapshot": "latest", "pointInTime": "2026-12-01T10:00:00"}, True, "galera-swarm:restore.pointInTime: "
     "'2026-12-01T10:00:00' is not an RFC 3339 time with its offset"),
    ({"snapshot": "latest", "pointInTime": "2026-02-30T10:00:00Z"}, True, "galera-swarm:restore.pointInTime: "
     "'2026-02-30T10:00:00Z' is not a time that exists (day is out of range for month)"),
    ({"pointInTime": "2026-12-01T10:00:00Z"}, True, "galera-swarm:restore.snapshot: missing"),
    ({"snapshot": "latest"}, False, "galera-swarm:restore: needs `backup`, whose repository and password the backup "
     "is read with; set galera-swarm:backup (README: Backups)"),
])
def test_bad_restore_settings_are_refused(key_path, restore, with_backup, message):
    sections = {"backup": backup()} if with_backup else {}
    with pytest.raises(ConfigError) as err:
        parse_settings(stack_config(key_path, restore=restore, **sections), SECRET_KEYS)
    assert any(p.startswith(message) for p in err.value.problems), err.value.problems


def test_the_drill_schedule_follows_the_schedule_rules(key_path):
    assert settings_with(key_path, backup(drillSchedule="0 4 * * 0")).backup.drill_schedule == "0 4 * * 0"
    assert problems_of(key_path, backup(drillSchedule="@every 1h")) == [
        f"galera-swarm:backup.drillSchedule: '@every 1h' is not a descriptor the backup scheduler takes; {FIX}"]
