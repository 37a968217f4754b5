"""Conformance stack for pulumi-resource-command: a remote command over SSH to an sshd the
test starts on 127.0.0.1 (as the program runs its swarm commands) and a local command. The
scripts append what they ran to `events.log` in `workDir`, so the test can tell which of
create/update/delete ran, in which order, with which environment. Driven by
tests/providers/test_command_plugin.py, which changes `value` (update in place), `trigger`
(replacement) and `badInput` (a property this plugin refuses)."""

import pulumi
import pulumi_command as command

config = pulumi.Config()
work_dir = config.require("workDir")
value = config.require("value")
trigger = config.require("trigger")
token = config.require_secret("token")
bad_input = config.get_bool("badInput") or False

events = f"{work_dir}/events.log"

connection = command.remote.ConnectionArgs(
    host=config.require("sshHost"),
    port=config.require_int("sshPort"),
    user="root",
    private_key=config.require_secret("privateKey"),
    dial_error_limit=3,
    per_dial_timeout=5,
    # Refused by this plugin: proves Check names what it does not implement.
    proxy=command.remote.ProxyConnectionArgs(host="192.0.2.1") if bad_input else None,
)

# The token arrives on stdin only; the script records a digest, never the token.
remote = command.remote.Command(
    "remote",
    connection=connection,
    create=f'echo "create value=$CONFORMANCE_VALUE token-sha=$(sha256sum | cut -c1-16)" >> {events}; '
           'echo "created $CONFORMANCE_VALUE"; echo "warning on stderr" >&2',
    update=f'echo "update value=$CONFORMANCE_VALUE previous=$PULUMI_COMMAND_STDOUT" >> {events}; '
           'echo "updated $CONFORMANCE_VALUE"',
    delete=f'echo "delete value=$CONFORMANCE_VALUE" >> {events}',
    stdin=token,
    environment={"CONFORMANCE_VALUE": value},
    triggers=[trigger],
    logging="stdoutAndStderr",
)

local = command.local.Command(
    "local",
    create=f'printf "%s" "$CONFORMANCE_VALUE" > local.txt; echo "local $CONFORMANCE_VALUE in $(pwd)"',
    delete="rm -f local.txt",
    dir=work_dir,
    interpreter=["/bin/bash", "-c"],
    environment={"CONFORMANCE_VALUE": value},
)

pulumi.export("remoteId", remote.id)
pulumi.export("remoteStdout", remote.stdout)
pulumi.export("remoteStderr", remote.stderr)
pulumi.export("localStdout", local.stdout)
