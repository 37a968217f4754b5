"""Conformance of our pulumi-resource-command, through the real CLI and the unchanged
pulumi-command SDK: remote commands over SSH to an sshd the test starts on 127.0.0.1, and a
local command.

One stack goes through the lifecycle in file order: up runs `create` with the environment
and the secret stdin; a no-change up, refresh and preview run nothing; a changed input runs
`update` in place (with the previous stdout in PULUMI_COMMAND_STDOUT); a changed trigger
replaces (new `create` before old `delete`); the key and the token are never in the CLI's
output and only ciphertext in the state; a refused property is named; destroy runs `delete`.
"""

from __future__ import annotations

import hashlib
import json
import secrets

import pytest

from tests.providers.conftest import assert_refused_by_name
from tests.toolchain.pulumi_stack import REPO_ROOT, Stack

PROGRAM = REPO_ROOT / "tests" / "providers" / "programs" / "command"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, plugins_ready, sshd):
    workdir = tmp_path_factory.mktemp("command-conformance")
    stack = Stack(PROGRAM, workdir, f"command-{secrets.token_hex(3)}")
    stack.work_dir = workdir / "remote"
    stack.work_dir.mkdir()
    stack.token = f"token-{secrets.token_hex(16)}"
    stack.private_key = sshd.private_key
    stack.cli_output: list[str] = []
    run = stack.pulumi

    def pulumi(*args, **kwargs):
        result = run(*args, **kwargs)
        stack.cli_output.append(result.stdout + result.stderr)
        return result

    stack.pulumi = pulumi
    stack.events = lambda: (stack.work_dir / "events.log").read_text().splitlines()
    stack.outputs = lambda: json.loads(run("stack", "output", "--json", "--show-secrets").stdout)
    try:
        stack.init(workDir=str(stack.work_dir), value="one", trigger="t1", sshHost=sshd.host,
                   sshPort=str(sshd.port), secret_token=stack.token,
                   secret_privateKey=sshd.private_key)
        stack.pulumi("up", "--yes", "--skip-preview")
        yield stack
    finally:
        stack.remove()


def test_up_runs_create_with_environment_and_stdin(stack):
    assert stack.events() == [f"create value=one token-sha={token_digest(stack.token)}"]
    out = stack.outputs()
    assert out["remoteStdout"] == "created one"  # one trailing newline trimmed
    assert out["remoteStderr"] == "warning on stderr"
    assert out["localStdout"] == f"local one in {stack.work_dir}"
    assert (stack.work_dir / "local.txt").read_text() == "one"


def test_command_output_is_streamed_to_the_cli(stack):
    # logging=stdoutAndStderr: the first up printed both streams.
    assert any("created one" in o for o in stack.cli_output)
    assert any("warning on stderr" in o for o in stack.cli_output)


def test_second_up_refresh_and_preview_run_nothing(stack):
    stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")
    stack.pulumi("refresh", "--yes", "--skip-preview", "--expect-no-changes")
    stack.pulumi("preview", "--expect-no-changes")
    assert len(stack.events()) == 1


def test_changed_input_runs_update_in_place(stack):
    before = stack.outputs()["remoteId"]
    stack.set_config("value", "two")
    stack.pulumi("up", "--yes", "--skip-preview")
    assert stack.events()[-1] == "update value=two previous=created one"
    out = stack.outputs()
    assert out["remoteId"] == before
    assert out["remoteStdout"] == "updated two"
    # local.Command has no `update`: its `create` runs again.
    assert (stack.work_dir / "local.txt").read_text() == "two"


def test_changed_trigger_replaces_create_before_delete(stack):
    before = stack.outputs()["remoteId"]
    stack.set_config("trigger", "t2")
    stack.pulumi("up", "--yes", "--skip-preview")
    assert stack.events()[-2:] == [f"create value=two token-sha={token_digest(stack.token)}",
                                   "delete value=two"]
    assert stack.outputs()["remoteId"] != before


def test_key_and_token_never_in_cli_output_and_only_ciphertext_in_state(stack):
    exported = stack.pulumi("stack", "export").stdout
    key_body = stack.private_key.strip().splitlines()[1]
    for text in [exported, *stack.cli_output]:
        assert stack.token not in text
        assert key_body not in text
    state = json.loads(exported)
    remote = next(r for r in state["deployment"]["resources"] if r["type"] == "command:remote:Command")
    for section in ("inputs", "outputs"):
        assert set(remote[section]["connection"]) == {"4dabf18193072939515e22adb298388d", "ciphertext"}
        assert "ciphertext" in remote[section]["stdin"]


def test_unsupported_property_is_refused_by_name(stack):
    assert_refused_by_name(stack, "badInput", "connection.proxy")


def test_destroy_runs_delete_with_the_stored_state(stack):
    stack.pulumi("destroy", "--yes", "--skip-preview")
    assert stack.events()[-1] == "delete value=two"
    assert not (stack.work_dir / "local.txt").exists()
