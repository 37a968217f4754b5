"""Run the whole Pulumi program against mocks: no engine, no provider plugins, no network.

The mocks stand in for the providers: every resource echoes its inputs as state, and the
swarm commands answer the way `docker` would (a node id for init/join/node settings, a
recognisable token for `join-token`), so the tests can follow values from one resource to
the next.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import grpc
import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from galera_swarm.lifecycle import CHECKPOINT_READ_RACE

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "galera-swarm"
PASSWORDS = {"rootPassword": "root-pw-4a7c", "appPassword": "app-pw-3f00",
             "etcdRootPassword": "etcd-root-pw-91b2", "etcdPassword": "etcd-pw-5e6d"}


@dataclass
class Recorded:
    typ: str
    name: str
    inputs: dict
    outputs: dict
    custom: bool
    # The provider reference the engine would use ("<provider urn>::<id>"); None: the default.
    provider: Optional[str] = None


def node_id(host_key: str) -> str:
    """The swarm node id the mocks answer for the host under `host_key`: 25 lowercase letters
    and digits, as `docker info --format '{{.Swarm.NodeID}}'` prints one."""
    return (host_key.replace("-", "") + "0" * 25)[:25]


class EngineError(grpc.RpcError):
    """An invoke the engine answered with an error, as the gRPC client raises it (a call's
    status code and details)."""

    def __init__(self, details: str):
        super().__init__(details)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


@dataclass
class SwarmMocks(pulumi.runtime.Mocks):
    resources: list[Recorded] = field(default_factory=list)
    # What the engine answers when the program reads its own stack's last outputs: {} is a new
    # stack; a dict like previous_outputs(run) is the stack after that run.
    stack_outputs: dict = field(default_factory=dict)
    # How many reads of those outputs fail first as the file backend's do when they meet the
    # engine saving the checkpoint (lifecycle.CHECKPOINT_READ_RACE).
    racing_reads: int = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "command:remote:Command":
            outputs["stdout"] = self._command_stdout(args.name, args.inputs)
            outputs["stderr"] = ""
        if args.typ == "command:local:Command":
            # Local commands are the program's own (the certificate issuer): run them for real.
            stdin = args.inputs.get("stdin", "")
            stdin = stdin["value"] if isinstance(stdin, dict) else stdin  # a secret's wire form
            run = subprocess.run(["/bin/sh", "-c", args.inputs["create"]], input=stdin,
                                 capture_output=True, text=True, cwd=args.inputs.get("dir", ROOT), check=True)
            outputs["stdout"], outputs["stderr"] = run.stdout.rstrip("\n"), run.stderr
        if args.typ in ("docker:index/secret:Secret", "docker:index/serviceConfig:ServiceConfig"):
            outputs.setdefault("name", f"{args.name}-0c1d2e3")
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), outputs, bool(args.custom),
                                       args.provider))
        return f"{args.name}-id", outputs

    @staticmethod
    def _command_stdout(name: str, inputs: dict) -> str:
        if name.endswith("-manager-token"):
            return "SWMTKN-1-manager-token\n"
        if name.endswith("-worker-token"):
            return "SWMTKN-1-worker-token\n"
        if "-init-" in name or "-join-" in name:
            return f"{node_id(name.rsplit('-', 1)[-1])}\n"
        if "-node-" in name:
            # `node_settings_script` ends by echoing the node id it was given.
            return inputs["create"].rstrip().rsplit(" ", 1)[-1] + "\n"
        if "-drain-" in name:
            # `drain_script` prints the drained node's host name: the lab's are the host keys.
            return name.rsplit("-drain-", 1)[-1] + "\n"
        if name.endswith("-vips"):
            return "10.0.1.2\n"
        if name.endswith("-nodes"):
            return "192.0.2.11\n192.0.2.12\n"
        return ""

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "pulumi:pulumi:readStackOutputs":
            if self.racing_reads:
                self.racing_reads -= 1
                raise EngineError(f"invocation of {args.token} returned an error: {CHECKPOINT_READ_RACE}")
            return {"name": args.args["name"], "outputs": self.stack_outputs, "secretOutputNames": []}, []
        return {}, None

    def custom(self) -> list[Recorded]:
        """What a provider would create: everything but the component resources."""
        return [r for r in self.resources if r.custom]

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ == typ]

    def position(self, name: str) -> int:
        """When the resource was registered: after every resource whose outputs it waits for."""
        (index,) = [i for i, r in enumerate(self.resources) if r.name == name]
        return index

    def named(self, name: str) -> Recorded:
        (match,) = [r for r in self.resources if r.name == name]
        return match


def stack_config(key_path: Path, host_count: int = 3, **overrides: Any) -> dict[str, Any]:
    """A valid config like the lab's (dnsrr, host mode); `overrides` replace top-level keys."""
    config: dict[str, Any] = {
        "hosts": [{"name": f"docker{i}", "address": f"192.0.2.{10 + i}"} for i in range(1, host_count + 1)],
        "ssh": {"user": "root", "privateKeyPath": str(key_path), "ignoreHostKey": True},
        "endpointMode": "dnsrr",
        "publishMode": "host",
        "images": {"prefix": "registry.test:5000/galera-swarm", "tag": "dev"},
        "galera": {"replicas": min(3, host_count)},
        "loadBalancer": {"replicas": min(2, host_count)},
        "wordpress": {"replicas": min(2, host_count)},
        **PASSWORDS,
    }
    config.update(overrides)
    return config


def stand_in_secrets(value: Any, stand_in: str = "secret-stand-in-1f2e") -> Any:
    """A stack file's config value with every `{secure: ...}` inside it replaced by `stand_in`,
    as the engine hands a decrypted object to the program."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return stand_in
        return {k: stand_in_secrets(v, stand_in) for k, v in value.items()}
    if isinstance(value, list):
        return [stand_in_secrets(v, stand_in) for v in value]
    return value


@dataclass
class ProgramRun:
    mocks: SwarmMocks
    program: dict  # the globals of __main__.py after it ran: its components


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "id_ed25519"
    path.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nunit-test-key\n-----END OPENSSH PRIVATE KEY-----\n")
    return path


def run_program(config: dict[str, Any], secret_keys: Optional[list[str]] = None,
                mocks: Optional[SwarmMocks] = None) -> ProgramRun:
    """Run __main__.py under mocks with `config` (keys without namespace)."""
    mocks = mocks if mocks is not None else SwarmMocks()
    pulumi.runtime.set_mocks(mocks, project=NAMESPACE, stack="unit", preview=False)
    if secret_keys is None:
        secret_keys = [f"{NAMESPACE}:{k}" for k in PASSWORDS if k in config]
    # As the engine does: every key in PULUMI_CONFIG (values as text, objects as JSON), the
    # secret ones in PULUMI_CONFIG_SECRET_KEYS, loaded the way Pulumi's exec script loads them.
    env = {"PULUMI_CONFIG": json.dumps(
               {f"{NAMESPACE}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}),
           "PULUMI_CONFIG_SECRET_KEYS": json.dumps(secret_keys)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    result: dict = {}
    try:
        pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(),
                                      pulumi.runtime.get_config_secret_keys_env())

        @pulumi.runtime.test
        def program():
            result.update(runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"))

        program()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ProgramRun(mocks, result)


def previous_outputs(run: ProgramRun) -> dict[str, Any]:
    """The outputs about hosts (and TLS) that `run` exported, as the next deployment reads them back."""
    swarm = run.program["swarm"]
    return {"nodes": resolve(swarm.node_ids), "manager_address": resolve(swarm.manager_address),
            "hosts": resolve(swarm.hosts), "leader_host": resolve(swarm.leader_key),
            "etcd_hosts": run.program["etcd_placement"],
            **({"tls_expiry": resolve(run.program["certificates"].expiry)} if run.program["certificates"] else {})}


def resolve(output: pulumi.Output) -> Any:
    """The value of an Output once the mocked deployment has settled."""
    return _sync_await(output.future())


def is_secret(output: pulumi.Output) -> bool:
    return _sync_await(output.is_secret())


# How the mock monitor hands a secret input to a provider: a marked wrapper around the value.
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def certificate_export(ca_stdout: str, node_stdout: str) -> dict:
    """`pulumi stack export --show-secrets` (parsed) of a stack whose two certificate commands
    (ClusterCertificates' tls-ca and tls-galera) printed these: the CA's as a plain output, the
    node's as a secret one ({SECRET_SIG, "plaintext": the value as JSON}), beside the stack."""
    from components.cluster_certificates import RESOURCE_TYPE

    def command(name: str, stdout: Any) -> dict:
        return {"urn": f"urn:pulumi:dev::galera-swarm::{RESOURCE_TYPE}$command:local:Command::{name}",
                "type": "command:local:Command", "outputs": {"stdout": stdout}}
    secret = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(node_stdout)}
    return {"deployment": {"resources": [command("tls-ca", ca_stdout), command("tls-galera", secret),
                                         {"urn": "urn:pulumi:dev::galera-swarm::pulumi:pulumi:Stack::x"}]}}


def secret_input(value: Any) -> Any:
    """The value inside a secret input; fails when the input was sent in plain text."""
    assert isinstance(value, dict) and SECRET_SIG in value, f"not sent as a secret: {value!r}"
    return value["value"]


@pytest.fixture
def program(key_path):
    """Run the program with the lab-like config, optionally changed: program(host_count=5, ...)."""
    def run(**kwargs: Any) -> ProgramRun:
        return run_program(stack_config(key_path, **kwargs))
    return run
