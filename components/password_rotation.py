"""PasswordRotation: ends a password rotation once every client of the database has moved to
the new passwords, and the step that every rotation runs.

A rotation (`pulumi config set --secret ...` + `pulumi up`) follows MySQL's dual-password
scheme (agent/credentials, in the galera image):
1. New swarm secrets; the Galera service rolls one node at a time, and the first node Synced
   with the new files makes the cluster accept the new passwords besides the old ones.
2. GaleraService's `await-accepted` step holds the clients (WordPress) back until then, so they
   move to the new passwords while the old ones still work.
3. This component's `discard-old` step, after the Galera service and every client rolled,
   makes the new passwords the only valid ones.
Both steps run `galera-passwords` (images/galera) on the leader, in a throwaway container of
the Galera image on the overlay network, where the service name resolves to the nodes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_command as command

from components import remote
from components.config import GaleraSettings, Passwords

# How long a step waits for the cluster to accept the new passwords: long enough for the first
# node of a rolling restart to be Synced again after a state transfer.
ROTATION_TIMEOUT_SECONDS = 900


def rotation_step_script(step: str, settings: GaleraSettings, network: str) -> str:
    """The shell line that runs `galera-passwords <step>` (await-accepted or discard-old)
    against the Galera service `settings.service_name`, from a container of `settings.image`
    attached to `network` (a name or id); the passwords come on its stdin."""
    env = f"-e MYSQL_USER={shlex.quote(settings.user)} -e MYSQL_DATABASE={shlex.quote(settings.database)}"
    return (f"docker run --rm -i --network {shlex.quote(network)} {env} --entrypoint galera-passwords "
            f"{shlex.quote(settings.image)} {step} --host {shlex.quote(settings.service_name)} "
            f"--timeout {ROTATION_TIMEOUT_SECONDS}\n")


def rotation_step(name: str, step: str, settings: GaleraSettings, passwords: Passwords,
                  network_id: pulumi.Input[str], conn: pulumi.Input[command.remote.ConnectionArgs],
                  opts: pulumi.ResourceOptions) -> command.remote.Command:
    """A command on the leader that does nothing when created (a new cluster knows only the
    passwords it was made with) and runs rotation step `step` on every update: each time the
    passwords change (they are its stdin, root's line then the application user's), and, with
    nothing to do, when the image, network, service or leader changes."""
    script = pulumi.Output.from_input(network_id).apply(
        lambda network: rotation_step_script(step, settings, network))
    return remote.run(name, conn, ": the passwords a cluster is made with need no rotation\n", opts,
                      update=script, stdin=pulumi.Output.concat(passwords.root, "\n", passwords.app, "\n"))


@dataclass
class PasswordRotationArgs:
    settings: GaleraSettings
    passwords: Passwords
    network_id: pulumi.Input[str]
    leader_connection: pulumi.Input[command.remote.ConnectionArgs]
    # Everything that holds a password: the old ones are discarded after these rolled.
    clients: Sequence[pulumi.Resource] = field(default_factory=list)


class PasswordRotation(pulumi.ComponentResource):
    discard_step_id: pulumi.Output[str]

    def __init__(self, name: str, args: PasswordRotationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("galera-swarm:index:PasswordRotation", name, None, opts)
        discard = rotation_step(f"{name}-discard-old", "discard-old", args.settings, args.passwords,
                                args.network_id, args.leader_connection,
                                pulumi.ResourceOptions(parent=self, depends_on=list(args.clients)))
        self.discard_step_id = discard.id
        self.register_outputs({"discard_step_id": self.discard_step_id})
