"""Small helpers shared by the components that run commands on swarm hosts over SSH."""

from __future__ import annotations

import shlex
from typing import Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

SHELL_PRELUDE = "set -eu\n"


def host_port(address: str, port: int) -> str:
    """`address:port` as Docker and SSH URLs write it: an IPv6 literal in brackets
    (`[2001:db8::2]:2377`), anything else as is."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def connection(address: str, user: str, port: int, private_key: Optional[pulumi.Input[str]],
               host_key: Optional[str]) -> command.remote.ConnectionArgs:
    """SSH connection to one host. `private_key` is expected to be a secret Output; None logs
    in through the SSH agent at SSH_AUTH_SOCK, which the plugin reads when it connects (a
    socket path in the state would change with every login session, making each a change of
    every command, and a later delete would dial a socket long gone). `host_key` (`TYPE
    BASE64`) is the only key the host may present; None checks none (the lab)."""
    return command.remote.ConnectionArgs(
        host=address,
        user=user,
        port=port,
        private_key=private_key,
        host_key=host_key,
        # A freshly booted host (or a lab host) may need a while before sshd answers.
        dial_error_limit=30,
        per_dial_timeout=10,
    )


def run(name: str, conn: pulumi.Input[command.remote.ConnectionArgs], create: pulumi.Input[str],
        opts: pulumi.ResourceOptions, *, update: Optional[pulumi.Input[str]] = None,
        delete: Optional[pulumi.Input[str]] = None,
        stdin: Optional[pulumi.Input[str]] = None,
        triggers: Optional[Sequence[pulumi.Input[object]]] = None,
        secret_stdout: bool = False) -> command.remote.Command:
    """A remote command whose scripts start with `set -eu` (`update` runs instead of `create` when
    an input other than a trigger changed); with `secret_stdout`, stdout is a
    secret output and is not streamed to the CLI's log (the plugin cannot know which outputs
    the program marks secret, so it would print it)."""
    if secret_stdout:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["stdout"]))
    return command.remote.Command(
        name,
        connection=conn,
        create=pulumi.Output.concat(SHELL_PRELUDE, create),
        update=pulumi.Output.concat(SHELL_PRELUDE, update) if update is not None else None,
        delete=pulumi.Output.concat(SHELL_PRELUDE, delete) if delete is not None else None,
        stdin=stdin,
        triggers=list(triggers) if triggers else None,
        logging=command.remote.Logging.STDERR if secret_stdout else None,
        # No script reads its previous output; sending it back would hand a join token to
        # the host's environment (sshd refuses it anyway unless it accepts PULUMI_COMMAND_*).
        add_previous_output_in_env=False,
        opts=opts,
    )


def service_vips(name: str, service: pulumi.Input[str], conn: pulumi.Input[command.remote.ConnectionArgs],
                 triggers: Sequence[pulumi.Input[object]],
                 opts: pulumi.ResourceOptions) -> pulumi.Output[list[str]]:
    """The virtual IPs swarm allocated to a service (one per network), read on the leader."""
    lookup = run(
        name, conn,
        pulumi.Output.concat(
            "docker service inspect --format "
            "'{{range .Endpoint.VirtualIPs}}{{println .Addr}}{{end}}' ", service),
        opts, triggers=triggers)
    return lookup.stdout.apply(lambda out: [line.strip() for line in out.splitlines() if line.strip()])


def published_addresses(name: str, service: docker.Service, host_mode: bool,
                        conn: pulumi.Input[command.remote.ConnectionArgs],
                        manager_address: pulumi.Input[str],
                        parent: pulumi.Resource) -> pulumi.Output[list[str]]:
    """Addresses where a service's published ports answer, sorted. Host-mode ports answer
    only on the nodes that run a task: swarm is asked which (command `name` on the leader),
    again after every change of the service, since an update may place its tasks elsewhere.
    Ingress-mode ports answer on every node: the manager's address stands for them."""
    if not host_mode:
        return pulumi.Output.from_input(manager_address).apply(lambda a: [a])
    triggers = [service.id, pulumi.Output.json_dumps(service.task_spec, sort_keys=True),
                pulumi.Output.json_dumps(service.mode, sort_keys=True)]
    opts = pulumi.ResourceOptions(parent=parent, depends_on=[service])
    script = service.name.apply(lambda svc: (
        f"for node in $(docker service ps --filter desired-state=running "
        f"--format '{{{{.Node}}}}' {shlex.quote(svc)} | sort -u); do\n"
        "  docker node inspect --format '{{.Status.Addr}}' \"$node\"\n"
        "done\n"))
    lookup = run(name, conn, script, opts, triggers=triggers)
    return lookup.stdout.apply(lambda out: sorted({l.strip() for l in out.splitlines() if l.strip()}))
