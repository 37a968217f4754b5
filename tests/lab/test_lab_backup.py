"""The lab's backup host `backup1`, checked as restic over SFTP would meet it: the lab key, the pinned host key."""

from __future__ import annotations

import json
import subprocess
import tempfile
import uuid
from pathlib import Path

from lab_helpers import LAB_JSON, PROBE_REPO, REPO, Lab, lab, run

BACKUP_HOST = {
    "name": "backup1", "address": "172.30.213.6", "port": 22, "user": "backup", "path": "/srv/backup",
    "known_hosts": str(REPO / "lab" / ".state" / "backup_known_hosts"),
}


def ssh_options(key: str, known_hosts: str) -> list[str]:
    """What a careful client passes: one key, the pinned known_hosts, no prompts."""
    return ["-i", key, "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5"]


def sftp(the_lab: Lab, commands: list[str], *, key: str | None = None, known_hosts: str | None = None,
         user: str = "backup") -> subprocess.CompletedProcess[str]:
    """Run an sftp batch on the backup host; by default with the lab key and lab.json's known_hosts."""
    backup = the_lab.info["backup_host"]
    with tempfile.NamedTemporaryFile("w", suffix=".sftp") as batch:
        batch.write("".join(f"{command}\n" for command in commands))
        batch.flush()
        return run(["sftp", "-b", batch.name, "-P", str(backup["port"]),
                    *ssh_options(key or the_lab.info["ssh_key"], known_hosts or backup["known_hosts"]),
                    f"{user}@{backup['address']}"], check=False, timeout=60)


def ssh(the_lab: Lab, options: list[str], command: str) -> subprocess.CompletedProcess[str]:
    """ssh as `backup` with the lab key and the pinned host key, extra options, one remote command."""
    backup = the_lab.info["backup_host"]
    return run(["ssh", "-p", str(backup["port"]), *ssh_options(the_lab.info["ssh_key"], backup["known_hosts"]),
                *options, f"{backup['user']}@{backup['address']}", command], check=False, timeout=60)


def listing(the_lab: Lab) -> list[str]:
    result = sftp(the_lab, [f"ls -1 {the_lab.info['backup_host']['path']}"])
    assert result.returncode == 0, result.stderr
    return [Path(line).name for line in result.stdout.splitlines() if not line.startswith("sftp>")]


def other_key(tmp_path: Path) -> Path:
    key = tmp_path / "other_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "not-the-lab", "-f", str(key)])
    return key


def put_and_get(the_lab: Lab, tmp_path: Path, name: str, text: str) -> str:
    """Put a file into the backup directory, read it back, return what came back."""
    sent, received = tmp_path / f"{name}.sent", tmp_path / f"{name}.received"
    sent.write_text(text)
    remote = f"{the_lab.info['backup_host']['path']}/{name}"
    result = sftp(the_lab, [f"put {sent} {remote}", f"get {remote} {received}"])
    assert result.returncode == 0, result.stderr
    return received.read_text()


def test_lab_json_names_the_backup_host_and_its_pinned_key(lab_hosts: Lab) -> None:
    info = json.loads(LAB_JSON.read_text())
    assert info["backup_host"] == BACKUP_HOST
    pinned = Path(BACKUP_HOST["known_hosts"]).read_text().splitlines()
    # The key the lab made before the host started is the one the host presents.
    scanned = run(["ssh-keyscan", "-t", "ed25519", BACKUP_HOST["address"]]).stdout.splitlines()
    assert len(pinned) == 1 and pinned[0].startswith("172.30.213.6 ssh-ed25519 AAAA")
    assert [line for line in scanned if not line.startswith("#")] == pinned


def test_sftp_with_the_lab_key_and_the_pinned_host_key_puts_and_gets_a_file(lab_hosts: Lab, tmp_path: Path) -> None:
    text = f"backup {uuid.uuid4()}\n"
    assert put_and_get(lab_hosts, tmp_path, "roundtrip.txt", text) == text
    assert "roundtrip.txt" in listing(lab_hosts)


def test_a_different_host_key_is_refused_and_nothing_is_written(lab_hosts: Lab, tmp_path: Path) -> None:
    impostor = other_key(tmp_path)
    known_hosts = tmp_path / "known_hosts"
    key_type, key_base64 = impostor.with_suffix(".pub").read_text().split()[:2]
    known_hosts.write_text(f"{BACKUP_HOST['address']} {key_type} {key_base64}\n")
    sent = tmp_path / "must-not-arrive.txt"
    sent.write_text("nothing\n")
    result = sftp(lab_hosts, [f"put {sent} {BACKUP_HOST['path']}/{sent.name}"], known_hosts=str(known_hosts))
    assert result.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr
    assert "Host key verification failed" in result.stderr
    assert sent.name not in listing(lab_hosts)


def test_a_command_gets_no_shell_only_sftp(lab_hosts: Lab) -> None:
    result = ssh(lab_hosts, [], "id")
    assert result.returncode != 0
    # sshd's own answer for internal-sftp; `id` would have printed uid=34(backup) ...
    assert result.stdout.strip() == "This service allows sftp connections only."


def test_no_forwarding_through_the_backup_host(lab_hosts: Lab) -> None:
    result = ssh(lab_hosts, ["-W", "127.0.0.1:22"], "forward")
    assert result.returncode == 255
    assert "administratively prohibited" in result.stderr
    assert "SSH-2.0" not in result.stdout


def test_root_is_refused_even_with_the_lab_key(lab_hosts: Lab) -> None:
    result = sftp(lab_hosts, ["ls"], user="root")
    assert result.returncode == 255
    assert "root@172.30.213.6: Permission denied (publickey)" in result.stderr


def test_a_key_other_than_the_lab_key_is_refused(lab_hosts: Lab, tmp_path: Path) -> None:
    result = sftp(lab_hosts, ["ls"], key=str(other_key(tmp_path)))
    assert result.returncode == 255
    assert "backup@172.30.213.6: Permission denied (publickey)" in result.stderr


def test_a_container_on_a_lab_host_reaches_the_backup_host(lab_hosts: Lab) -> None:
    """The path of the Galera containers: out of the nested engine, through the host's NAT."""
    image = f"{lab_hosts.registry}/{PROBE_REPO}:dev"
    host = lab_hosts.hosts[0]
    banner = lab_hosts.sh(host, f"docker run --rm {image} socat -t3 - "
                                f"TCP:{BACKUP_HOST['address']}:{BACKUP_HOST['port']} </dev/null", timeout=180)
    assert banner.startswith("SSH-2.0-OpenSSH"), banner


def test_backup_data_survives_stop_and_start(lab_hosts: Lab, tmp_path: Path) -> None:
    # On the lab's named volume, so it also outlives a replaced container (lab down removes it).
    mounted = run(["docker", "inspect", "--format",
                   '{{range .Mounts}}{{if eq .Destination "/srv/backup"}}{{.Name}}{{end}}{{end}}', "backup1"])
    assert mounted.stdout.strip() == "galera-lab-backup1-data"
    text = f"kept {uuid.uuid4()}\n"
    put_and_get(lab_hosts, tmp_path, "kept.txt", text)
    lab("stop", "backup1")
    try:
        assert "backup1   backup@172.30.213.6:/srv/backup (exited)" in lab("status").stdout
        assert sftp(lab_hosts, ["ls"]).returncode == 255
    finally:
        lab("start", "backup1")
    assert "backup1   backup@172.30.213.6:/srv/backup (running, sftp answers)" in lab("status").stdout
    received = tmp_path / "kept.back"
    result = sftp(lab_hosts, [f"get {BACKUP_HOST['path']}/kept.txt {received}"])
    assert result.returncode == 0, result.stderr
    assert received.read_text() == text
