"""Host key and agent conformance stack for pulumi-resource-command: one remote command to the
sshd the test starts on 127.0.0.1, with the `hostKey` the test sets (the right one or another)
and either the `privateKey` or an `agentSocketPath` (no key in the program at all). The
command appends to `events.log` in `workDir`, so the test sees whether it ran. Driven by
tests/providers/test_command_host_keys.py."""

import pulumi
import pulumi_command as command

config = pulumi.Config()
events = f"{config.require('workDir')}/events.log"

remote = command.remote.Command(
    "remote",
    connection=command.remote.ConnectionArgs(
        host=config.require("sshHost"),
        port=config.require_int("sshPort"),
        user="root",
        private_key=config.get_secret("privateKey"),
        agent_socket_path=config.get("agentSocketPath"),
        host_key=config.require("hostKey"),
        dial_error_limit=3,
        per_dial_timeout=5,
    ),
    create=f"echo created >> {events}; echo ran",
    delete=f"echo deleted >> {events}",
)

pulumi.export("remoteStdout", remote.stdout)
