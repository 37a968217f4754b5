"""SSH host keys of the configured hosts: which key each host must present, read from an OpenSSH
known_hosts file (`ssh.knownHostsPath`) or pinned in config (`hosts[].hostKey`), and a check at
preview that every host answers with it.

Lookups go through OpenSSH's own `ssh-keygen -F` (hashed entries, patterns, `[host]:port`
entries for other ports), so a file `ssh` itself accepts means the same here. The commands get
one key per host (`preferred_key`: ed25519, then ECDSA, then RSA; the plugins ask the host for
that key's algorithm); the docker provider reads the file itself.

A problem is a ConfigError line naming the key and the fix; the fix for a missing host is
`ssh-keyscan -H` into the file, after the fingerprint was verified on the host.

The login files of an sftp backup repository (`backup.sshKeyPath`, `backup.knownHostsPath`)
are checked here too, at preview: there, galera-agent's ssh uses them without a prompt.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from galera_swarm.settings import NAMESPACE, BackupSettings, ConfigError, Host, SshSettings, parse_key_line

# OpenSSH's preference among host key types (ssh_config HostKeyAlgorithms, without certs).
KEY_TYPE_ORDER = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                  "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
KEYSCAN_TIMEOUT_S = 5
# OpenSSH's private key format (PROTOCOL.key): PEM armour around AUTH_MAGIC, then the
# cipher's name as an SSH string ("none": no passphrase).
OPENSSH_KEY_BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----"
OPENSSH_KEY_END = "-----END OPENSSH PRIVATE KEY-----"
_AUTH_MAGIC = b"openssh-key-v1\0"


def login_key_path(ssh: SshSettings, environ: Mapping[str, str] = os.environ) -> Optional[Path]:
    """The private key file the hosts are logged in with (`ssh.privateKeyPath`, expanded), or
    None with `ssh.agent`, where the key stays in the agent at `SSH_AUTH_SOCK` and goes neither
    into a command's state nor to the provider. Raises ConfigError naming the key and the fix
    when the agent socket or the key file is not there."""
    if ssh.agent:
        socket = environ.get("SSH_AUTH_SOCK", "")
        if not socket or not Path(socket).is_socket():
            raise ConfigError([
                f"{NAMESPACE}:ssh.agent: SSH_AUTH_SOCK ({socket or 'unset'}) is no agent socket; start an agent "
                "(`eval \"$(ssh-agent)\"`) and add the hosts' key (`ssh-add KEYFILE`), or set ssh.privateKeyPath"])
        return None
    key_path = Path(ssh.private_key_path).expanduser() if ssh.private_key_path else None
    if key_path is None or not key_path.is_file():
        raise ConfigError([
            f"{NAMESPACE}:ssh.privateKeyPath: no file at {key_path}; point it at the SSH private key for the "
            "hosts (for the local lab, run `lab/lab up` first)"])
    return key_path.resolve()


def known_hosts_name(address: str, port: int) -> str:
    """How known_hosts names a host: `address` for port 22, `[address]:port` for another
    (OpenSSH's rule, also for IPv6 literals)."""
    return address if port == 22 else f"[{address}]:{port}"


def lookup(known_hosts: Path, name: str) -> list[str]:
    """The public keys (`TYPE BASE64`) that `known_hosts` holds for `name` (as
    known_hosts_name writes it), in file order; [] when none. Markers (@revoked,
    @cert-authority) are skipped. Raises OSError when ssh-keygen cannot run."""
    result = subprocess.run(["ssh-keygen", "-F", name, "-f", str(known_hosts)],
                            capture_output=True, text=True, timeout=30, check=False)
    keys = []
    for line in result.stdout.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("@"):
            continue
        parts = line.split()
        parsed = parse_key_line(" ".join(parts[1:]))
        if parsed is not None:
            keys.append(" ".join(parsed))
    return keys


def preferred_key(keys: Sequence[str]) -> str:
    """The key a host is asked for among `keys` (`TYPE BASE64` lines): the first type in
    KEY_TYPE_ORDER, unknown types last."""
    def rank(key: str) -> int:
        key_type = key.split()[0]
        return KEY_TYPE_ORDER.index(key_type) if key_type in KEY_TYPE_ORDER else len(KEY_TYPE_ORDER)
    return sorted(keys, key=rank)[0]


def _keyscan_fix(address: str, port: int, path: Path) -> str:
    return (f"verify the host's fingerprint on the host (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), "
            f"then add it: `ssh-keyscan -H -p {port} {address} >> {path}` (and compare `ssh-keygen -lf {path}`)")


def expected_host_keys(hosts: Sequence[Host], ssh: SshSettings, leader: Host,
                       find: Callable[[Path, str], list[str]] = lookup) -> dict[str, str]:
    """address -> the public key (`TYPE BASE64`) each host must present: its `hostKey`, else
    the preferred of ssh.knownHostsPath's keys for it. {} with ssh.ignoreHostKey.

    The leader must be in the file even with a `hostKey` (the docker provider reads the file),
    with that key among its keys. Raises ConfigError naming each host that has no key, with
    the fix."""
    if ssh.ignore_host_key:
        return {}
    path = Path(ssh.known_hosts_path).expanduser()
    if not path.is_file():
        raise ConfigError([f"{NAMESPACE}:ssh.knownHostsPath: no file at {path}; create it with the hosts' keys: "
                           + _keyscan_fix(hosts[0].address, ssh.port, path)
                           + ", or point ssh.knownHostsPath at your known_hosts file"])
    found: dict[str, str] = {}
    problems: list[str] = []
    for i, host in enumerate(hosts):
        try:
            recorded = find(path, known_hosts_name(host.address, ssh.port))
        except OSError as err:
            raise ConfigError([f"{NAMESPACE}:ssh.knownHostsPath: cannot read {path} with OpenSSH's ssh-keygen "
                               f"({err}); install the OpenSSH client"]) from None
        pinned = " ".join(parse_key_line(host.host_key) or ()) if host.host_key else None
        fix = _keyscan_fix(host.address, ssh.port, path)
        if pinned and host is leader and pinned not in recorded:
            problems.append(f"{NAMESPACE}:hosts[{i}].hostKey: {host.name} ({host.address}) is the first manager, "
                            f"where the docker provider connects, and it checks ssh.knownHostsPath ({path}), "
                            f"which does not hold this key for it; {fix}")
        elif pinned:
            found[host.address] = pinned
        elif recorded:
            found[host.address] = preferred_key(recorded)
        else:
            problems.append(f"{NAMESPACE}:hosts[{i}].address: {host.name} ({host.address}) is not in "
                            f"ssh.knownHostsPath ({path}); {fix}"
                            + ("" if host is leader else f", or set hosts[{i}].hostKey"))
    if problems:
        raise ConfigError(problems)
    return found


@dataclass(frozen=True)
class Offered:
    """What a host answered with: its keys (`TYPE BASE64`), [] when it did not answer."""
    address: str
    keys: tuple[str, ...]


def keyscan(address: str, port: int) -> Offered:
    """The host keys `address:port` offers, by `ssh-keyscan` (every key type, KEYSCAN_TIMEOUT_S);
    no keys when it does not answer. Reads only: no login, nothing sent but the handshake."""
    result = subprocess.run(["ssh-keyscan", "-T", str(KEYSCAN_TIMEOUT_S), "-p", str(port), address],
                            capture_output=True, text=True, timeout=KEYSCAN_TIMEOUT_S * 4 + 10, check=False)
    keys = []
    for line in result.stdout.splitlines():
        if line.startswith("#"):
            continue
        parsed = parse_key_line(" ".join(line.split()[1:]))
        if parsed is not None:
            keys.append(" ".join(parsed))
    return Offered(address, tuple(keys))


def fingerprint(key: str) -> str:
    """The SHA256 fingerprint of a `TYPE BASE64` key, as `ssh-keygen -l` prints it."""
    digest = hashlib.sha256(base64.b64decode(key.split()[1])).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def check_offered(hosts: Sequence[Host], expected: Mapping[str, str], ssh: SshSettings,
                  scan: Optional[Callable[[str, int], Offered]] = None) -> list[str]:
    """Ask each host for its keys (at preview and up, before anything runs) and refuse one that
    answers without the expected key: someone else may be at its address. Returns warnings for
    hosts that did not answer (the commands check the key when they connect); raises
    ConfigError naming every host whose key differs, with both fingerprints."""
    scan = scan or keyscan
    problems, warnings = [], []
    for i, host in enumerate(hosts):
        want = expected.get(host.address)
        if want is None:
            continue
        where = f"hosts[{i}].hostKey" if host.host_key else f"ssh.knownHostsPath ({Path(ssh.known_hosts_path).expanduser()})"
        offered = scan(host.address, ssh.port)
        if not offered.keys:
            warnings.append(f"{NAMESPACE}:hosts[{i}]: {host.name} ({host.address}:{ssh.port}) did not answer an SSH "
                            "key scan; its host key is checked when the commands connect")
        elif want not in offered.keys:
            problems.append(
                f"{NAMESPACE}:hosts[{i}]: ssh: host key of {host.name} ({host.address}:{ssh.port}) does not match "
                f"{where}: it offered {', '.join(fingerprint(k) for k in offered.keys)}, expected {fingerprint(want)}; "
                "someone else may be answering at its address, or the host was re-installed: verify its new "
                "fingerprint on the host before you replace the recorded key (`ssh-keygen -R`, then `ssh-keyscan -H`)")
    if problems:
        raise ConfigError(problems)
    return warnings


@dataclass(frozen=True)
class SftpLogin:
    """The texts of an sftp backup repository's login files: the private key and the
    known_hosts lines of its host."""
    private_key: str
    known_hosts: str


def openssh_key_problem(text: str) -> Optional[str]:
    """What keeps `text` from being an OpenSSH private key that logs in without a prompt (the
    armour, AUTH_MAGIC and cipher `none` of PROTOCOL.key); None when it is one."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != OPENSSH_KEY_BEGIN or lines[-1] != OPENSSH_KEY_END:
        return f"is not an OpenSSH private key (`{OPENSSH_KEY_BEGIN}` ... `{OPENSSH_KEY_END}`, as `ssh-keygen -t ed25519` writes)"
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        return "is not an OpenSSH private key: its body is not base64"
    if not blob.startswith(_AUTH_MAGIC) or len(blob) < len(_AUTH_MAGIC) + 4:
        return "is not an OpenSSH private key: its body does not start with openssh-key-v1"
    start = len(_AUTH_MAGIC) + 4
    cipher = blob[start:start + int.from_bytes(blob[start - 4:start], "big")]
    if cipher != b"none":
        return ("is protected by a passphrase, which the scheduled backups cannot type; use a key without one "
                "(`ssh-keygen -p -N '' -f KEYFILE` removes it)")
    return None


def backup_sftp_login(backup: BackupSettings, find: Callable[[Path, str], list[str]] = lookup) -> Optional[SftpLogin]:
    """The texts of `backup.sshKeyPath` and `backup.knownHostsPath` (expanded; relative to the
    project directory, where the program runs) for an sftp repository; None for another
    backend. Raises ConfigError naming each file that is missing or unreadable, a key that is
    not an OpenSSH private key without passphrase, and a known_hosts file that holds no key
    for the repository's host (looked up as OpenSSH does, `ssh-keygen -F`)."""
    target = backup.sftp
    if target is None:
        return None
    assert backup.ssh_key_path is not None and backup.known_hosts_path is not None  # the schema's rule
    problems: list[str] = []
    texts: dict[str, str] = {}
    for key, value in (("sshKeyPath", backup.ssh_key_path), ("knownHostsPath", backup.known_hosts_path)):
        path = Path(value).expanduser()
        try:
            texts[key] = path.read_text()
        except FileNotFoundError:
            problems.append(f"{NAMESPACE}:backup.{key}: no file at {path}; point it at the file (for the local lab, "
                            "run `lab/lab up` first)")
        except (OSError, UnicodeDecodeError) as err:
            problems.append(f"{NAMESPACE}:backup.{key}: cannot read {path} ({getattr(err, 'strerror', None) or err}); "
                            "make it a readable text file")
    if "sshKeyPath" in texts:
        wrong = openssh_key_problem(texts["sshKeyPath"])
        if wrong is not None:
            problems.append(f"{NAMESPACE}:backup.sshKeyPath: {Path(backup.ssh_key_path).expanduser()} {wrong}")
    if "knownHostsPath" in texts:
        path = Path(backup.known_hosts_path).expanduser()
        name = known_hosts_name(target.host, target.port)
        try:
            recorded = find(path, name)
        except OSError as err:
            raise ConfigError([f"{NAMESPACE}:backup.knownHostsPath: cannot read {path} with OpenSSH's ssh-keygen "
                               f"({err}); install the OpenSSH client"]) from None
        if not recorded:
            problems.append(f"{NAMESPACE}:backup.knownHostsPath: {path} holds no key for {name}, the repository's "
                            f"host; {_keyscan_fix(target.host, target.port, path)}")
    if problems:
        raise ConfigError(problems)
    return SftpLogin(private_key=texts["sshKeyPath"], known_hosts=texts["knownHostsPath"])
