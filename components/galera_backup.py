"""GaleraBackup: scheduled physical backups of the Galera cluster into a restic repository.

Swarm has no cron, so the scheduler is galera-agent inside each Galera task (agent/): at each
time of `BACKUP_SCHEDULE` (cron, UTC) the nodes race for a claim in etcd, so exactly one takes
the backup, a Synced node that is not the load balancer's writer where there is a choice; the
node stays in the cluster and behind the load balancer. It streams
`mariabackup --backup --galera-info --stream=mbstream` into `restic backup --stdin`, so
nothing is written to the node's disk, then prunes with `restic forget --prune` and the keep
policy. The repository's password, and for sftp the SSH key and the host's known_hosts lines,
reach the tasks only as swarm secrets mounted as files: no password in any environment value
or command line.

With `pitr_interval` above 0 the nodes write binary logs and one node at a time archives them
into the same repository every that many seconds (point-in-time recovery; agent/backup/binlog.go
holds the rules).

With `restore_snapshot`, a NEW cluster starts from that backup (`RESTORE_SNAPSHOT`): the node
that bootstraps it (no cluster in etcd, no node holding data) restores and prepares the
snapshot first, with `restore_point_in_time` replays the archived binary logs onto it up to
that time, and the others join it by state transfer; a cluster that has data ignores it.

This component owns those secrets and the task environment they go with (`backup_env`, the
interface galera-agent reads); GaleraService adds both to the Galera tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from components import service_spec

RESOURCE_TYPE = "galera-swarm:index:GaleraBackup"
# Swarm secret file names inside every Galera task (service_spec.secret_path).
PASSWORD_FILE = "backup-password"
SSH_KEY_FILE = "backup-ssh-key"
KNOWN_HOSTS_FILE = "backup-known-hosts"
# OpenSSH refuses a private key that others may read when it belongs to the user that runs ssh
# (galera-agent runs as root, and swarm mounts secrets as root's, 0o444 by default).
SSH_KEY_FILE_MODE = 0o400


@dataclass(frozen=True)
class RetentionPolicy:
    """restic forget's `--keep-last/-daily/-weekly/-monthly` counts (whole numbers, at least one
    above 0)."""
    last: int
    daily: int
    weekly: int
    monthly: int

    def keep(self) -> str:
        """`BACKUP_KEEP`: `last=N,daily=N,weekly=N,monthly=N`."""
        return f"last={self.last},daily={self.daily},weekly={self.weekly},monthly={self.monthly}"


@dataclass
class GaleraBackupArgs:
    """`repository` a restic repository URL, `schedule` and `drill_schedule` (the restore
    drills') cron schedules (UTC), all checked by the stack's schema; `password` a secret Input. `ssh_private_key` (secret Input) and
    `known_hosts` (OpenSSH known_hosts lines) are the texts of an sftp repository's login, both
    or neither (None: not sftp). `pitr_interval`: seconds between two archives of the binary
    logs (0: none). `restore_snapshot`: `latest` or a snapshot id that a new cluster starts
    from (None: a new cluster starts empty), and `restore_point_in_time` (RFC 3339) the time
    its archived binary logs are replayed to (None: the snapshot as it was taken)."""
    repository: pulumi.Input[str]
    schedule: pulumi.Input[str]
    keep: RetentionPolicy
    drill_schedule: str
    password: pulumi.Input[str]
    ssh_private_key: Optional[pulumi.Input[str]] = None
    known_hosts: Optional[pulumi.Input[str]] = None
    restore_snapshot: Optional[str] = None
    pitr_interval: int = 0
    restore_point_in_time: Optional[str] = None


@dataclass
class BackupTaskSpec:
    """What the Galera tasks get to run the backups: `env` (backup_env) and the secrets to
    mount (beside their own)."""
    env: pulumi.Input[Mapping[str, str]]
    secret_mounts: Sequence[docker.ServiceTaskSpecContainerSpecSecretArgs]


def backup_env(*, repository: str, schedule: str, keep: RetentionPolicy, drill_schedule: str, sftp: bool,
               pitr_interval: int = 0, restore_snapshot: Optional[str] = None,
               restore_point_in_time: Optional[str] = None) -> dict[str, str]:
    """The task environment galera-agent's scheduler reads (agent/backup/settings.go): the
    repository, schedule, keep policy, the restore drills' schedule, the binary logs' archive
    interval (seconds), and the paths of the secret files (PASSWORD_FILE; SSH_KEY_FILE and
    KNOWN_HOSTS_FILE for an sftp repository); never a password. RESTORE_SNAPSHOT with
    `restore_snapshot`, RESTORE_POINT_IN_TIME with `restore_point_in_time`."""
    env = {
        "BACKUP_REPOSITORY": repository,
        "BACKUP_SCHEDULE": schedule,
        "BACKUP_KEEP": keep.keep(),
        "BACKUP_DRILL_SCHEDULE": drill_schedule,
        "BACKUP_PITR_INTERVAL": str(pitr_interval),
        "BACKUP_PASSWORD_FILE": service_spec.secret_path(PASSWORD_FILE),
    }
    if sftp:
        env["BACKUP_SSH_KEY_FILE"] = service_spec.secret_path(SSH_KEY_FILE)
        env["BACKUP_KNOWN_HOSTS_FILE"] = service_spec.secret_path(KNOWN_HOSTS_FILE)
    if restore_snapshot is not None:
        env["RESTORE_SNAPSHOT"] = restore_snapshot
    if restore_point_in_time is not None:
        env["RESTORE_POINT_IN_TIME"] = restore_point_in_time
    return env


class GaleraBackup(pulumi.ComponentResource):
    """The docker provider comes through `opts` (providers=[...] or provider=). Children: the
    swarm secrets `<name>-backup-password` and, for sftp, `<name>-backup-ssh-key` and
    `<name>-backup-known-hosts`. Raises ValueError when only one of the sftp texts is given."""

    env: pulumi.Output[dict]
    secret_mounts: list[docker.ServiceTaskSpecContainerSpecSecretArgs]

    def __init__(self, name: str, args: GaleraBackupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        sftp = args.ssh_private_key is not None
        if sftp != (args.known_hosts is not None):
            raise ValueError("GaleraBackupArgs: give ssh_private_key and known_hosts both (sftp) or neither")
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        password = service_spec.password_secret(name, PASSWORD_FILE, args.password, child)
        mounts = [service_spec.mount_secret(password.id, password.name, PASSWORD_FILE)]
        if sftp:
            key = service_spec.password_secret(name, SSH_KEY_FILE, args.ssh_private_key, child)
            hosts = service_spec.password_secret(name, KNOWN_HOSTS_FILE, args.known_hosts, child)
            mounts += [service_spec.mount_secret(key.id, key.name, SSH_KEY_FILE, file_mode=SSH_KEY_FILE_MODE),
                       service_spec.mount_secret(hosts.id, hosts.name, KNOWN_HOSTS_FILE)]

        self.env = pulumi.Output.all(args.repository, args.schedule).apply(
            lambda v: backup_env(repository=v[0], schedule=v[1], keep=args.keep, drill_schedule=args.drill_schedule, sftp=sftp,
                                 pitr_interval=args.pitr_interval, restore_snapshot=args.restore_snapshot,
                                 restore_point_in_time=args.restore_point_in_time))
        self.secret_mounts = mounts
        self.register_outputs({"env": self.env, "secret_mounts": self.secret_mounts})

    def task_spec(self) -> BackupTaskSpec:
        """The env and secret mounts, as GaleraServiceArgs.backup takes them."""
        return BackupTaskSpec(env=self.env, secret_mounts=self.secret_mounts)
