"""PasswordRotation: both steps of a password rotation, and the application's password secret
handed to the clients once the cluster accepts it.

A rotation (`pulumi config set --secret ...` + `pulumi up`) follows MySQL's dual-password
scheme (agent/credentials, in the galera image):
1. New swarm secrets (GaleraService); the Galera service rolls one node at a time, and the
   first node Synced with the new files makes the cluster accept the new passwords besides the
   old ones.
2. The `new-passwords-accepted` step (`galera-passwords await-accepted`) waits for that; only
   then does this component hand out the application's new password secret
   (`app_password_secret_id`/`_name`), so the clients (WordPress) move to the new password while
   the old one still works.
3. The `discard-old` step, once the Galera service and every client rolled (`rolled`), makes
   the new passwords the only valid ones.
Both steps run `galera-passwords` (images/galera) on the leader, in a throwaway container of
the Galera image on the overlay network, where the service name resolves to the nodes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_command as command

from components import galera_service, remote

# How long a step waits for the cluster to accept the new passwords: long enough for the first
# node of a rolling restart to be Synced again after a state transfer.
ROTATION_TIMEOUT_SECONDS = 900
# What a step does when it is created: a new cluster knows only the passwords it was made with.
CREATE_SCRIPT = ": the passwords a cluster is made with need no rotation\n"


@dataclass
class PasswordRotationArgs:
    network_id: pulumi.Input[str]
    leader_connection: pulumi.Input[command.remote.ConnectionArgs]
    galera_image: pulumi.Input[str]
    galera_service_name: pulumi.Input[str]
    database: pulumi.Input[str]
    user: pulumi.Input[str]
    root_password: pulumi.Input[str]
    app_password: pulumi.Input[str]
    # The application's password secret (GaleraService's), handed on once the cluster accepts it.
    app_password_secret_id: pulumi.Input[str]
    app_password_secret_name: pulumi.Input[str]
    # One value per service that holds a password, known once that service rolled (its id):
    # Galera's and every client's. A client made after this component (it needs the secret)
    # passes a `pulumi.deferred_output()` and resolves it with its service id.
    rolled: Sequence[pulumi.Input[str]]
    # The resource name of the GaleraService (plain text). Until this component owned it, the
    # accepted step was that component's child `<name>-new-passwords-accepted`: an alias keeps
    # the step of an existing stack (updated, so it waits) instead of creating a new one (a no-op).
    galera_resource_name: str


def rotation_step_script(step: str, *, image: str, service_name: str, database: str, user: str,
                         network: str) -> str:
    """The shell line that runs `galera-passwords <step>` (await-accepted or discard-old)
    against the Galera service `service_name`, from a container of `image` attached to
    `network` (a name or id); the passwords come on its stdin."""
    env = f"-e MYSQL_USER={shlex.quote(user)} -e MYSQL_DATABASE={shlex.quote(database)}"
    return (f"docker run --rm -i --network {shlex.quote(network)} {env} --entrypoint galera-passwords "
            f"{shlex.quote(image)} {step} --host {shlex.quote(service_name)} "
            f"--timeout {ROTATION_TIMEOUT_SECONDS}\n")


def after(value: pulumi.Input[Any], *steps: pulumi.Input[Any]) -> pulumi.Output[Any]:
    """`value`, known only once every one of `steps` is (a resource id: once it was created or
    updated), and carrying them as dependencies: whoever takes it waits for them."""
    return pulumi.Output.all(value, *steps).apply(lambda values: values[0])


class PasswordRotation(pulumi.ComponentResource):
    app_password_secret_id: pulumi.Output[str]
    app_password_secret_name: pulumi.Output[str]
    accepted_step_id: pulumi.Output[str]
    discard_step_id: pulumi.Output[str]

    def __init__(self, name: str, args: PasswordRotationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("galera-swarm:index:PasswordRotation", name, None, opts)
        former_accepted = pulumi.Alias(
            name=f"{args.galera_resource_name}-new-passwords-accepted",
            parent=pulumi.create_urn(args.galera_resource_name, galera_service.RESOURCE_TYPE))
        accepted = self._step(f"{name}-new-passwords-accepted", "await-accepted", args, waits_for=(),
                              aliases=[former_accepted])
        discard = self._step(f"{name}-discard-old", "discard-old", args, waits_for=args.rolled)

        self.app_password_secret_id = after(args.app_password_secret_id, accepted.id)
        self.app_password_secret_name = after(args.app_password_secret_name, accepted.id)
        self.accepted_step_id = accepted.id
        self.discard_step_id = discard.id
        self.register_outputs({
            "app_password_secret_id": self.app_password_secret_id,
            "app_password_secret_name": self.app_password_secret_name,
            "accepted_step_id": self.accepted_step_id,
            "discard_step_id": self.discard_step_id,
        })

    def _step(self, resource_name: str, step: str, args: PasswordRotationArgs,
              waits_for: Sequence[pulumi.Input[str]],
              aliases: Sequence[pulumi.Alias] = ()) -> command.remote.Command:
        """A command on the leader that does nothing when created and runs rotation step `step`
        on every update: each time the passwords change (they are its stdin, root's line then
        the application user's), and, with nothing to do, when the image, network, service or
        leader changes. It is sent (and run) only once every value of `waits_for` is known;
        `aliases` are the step's former names (pulumi.Alias)."""
        script = after(
            pulumi.Output.all(args.galera_image, args.galera_service_name, args.database, args.user,
                              args.network_id).apply(
                lambda v: rotation_step_script(step, image=v[0], service_name=v[1], database=v[2],
                                               user=v[3], network=v[4])),
            *waits_for)
        return remote.run(resource_name, args.leader_connection, CREATE_SCRIPT,
                          pulumi.ResourceOptions(parent=self, aliases=list(aliases)), update=script,
                          stdin=pulumi.Output.concat(args.root_password, "\n", args.app_password, "\n"))
