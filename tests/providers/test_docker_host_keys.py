"""Host keys of our pulumi-resource-docker through the real CLI and the unchanged pulumi-docker
SDK: with `-o StrictHostKeyChecking=yes` and a known_hosts file that holds another key for the
sshd the fixtures start, `up` fails naming the host and nothing is created. (The conformance
stack of test_docker_plugin.py runs with the right file, the program's sshOpts form.)"""

from __future__ import annotations

import json
import secrets
import subprocess

from tests.providers.conftest import docker, free_port
from tests.toolchain.pulumi_stack import REPO_ROOT, Stack

PROGRAM = REPO_ROOT / "tests" / "providers" / "programs" / "docker"


def test_a_host_with_another_key_fails_up_naming_it_and_nothing_is_created(tmp_path, plugins_ready, sshd):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                   check=True, timeout=30)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{sshd.host}]:{sshd.port} {(tmp_path / 'other.pub').read_text()}")
    prefix = f"gshk-{secrets.token_hex(3)}"
    (tmp_path / "stack").mkdir()
    stack = Stack(PROGRAM, tmp_path / "stack", f"docker-{prefix}")
    try:
        stack.init(prefix=prefix, image="galera-swarm-conformance:dev", replicas="1", envValue="one",
                   webPort=str(free_port()), secret_secretValue=secrets.token_hex(8),
                   dockerHost=f"ssh://{sshd.user}@{sshd.host}:{sshd.port}",
                   sshOpts=json.dumps(["-i", str(sshd.key_path), "-o", "StrictHostKeyChecking=yes",
                                       "-o", f"UserKnownHostsFile={known_hosts}"]))
        result = stack.pulumi("up", "--yes", "--skip-preview", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert (f"ssh: host key of {sshd.host}:{sshd.port} does not match known_hosts [{known_hosts}] "
                "(host key mismatch") in output
        resources = json.loads(stack.pulumi("stack", "export").stdout)["deployment"].get("resources") or []
        assert [r["type"] for r in resources if r["type"].startswith("docker:index")] == []
        assert docker("network", "ls", "-q", "--filter", f"name={prefix}-").strip() == ""
    finally:
        stack.remove()
