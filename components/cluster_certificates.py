"""ClusterCertificates: the stack's own CA and the Galera nodes' certificate, kept in state.

The CA and the certificate are issued by galera_swarm/tls.py (`cryptography`; no tool or
download from outside), each once, by a `command:local:Command` run on the machine that runs
`pulumi up`: its stdout (the PEM pair as JSON) is a secret output, so the keys stay in the
stack's state, encrypted, and never in a log (logging none). Later runs print the recorded
pair again instead of issuing another (the command's `update`), so a moved checkout or a new
Python path changes nothing; a new certificate comes with a replacement, when the CA or the
certificate's names change (triggers), and a new CA only on purpose (`pulumi up --replace`,
README: TLS inside the cluster). `up` warns when either nears its expiry (tls.renewal_warning).

The Galera tasks get the three files as swarm secrets (TLS_CA_FILE, TLS_CERT_FILE,
TLS_KEY_FILE: tls_env) and galera-agent turns on Galera's TLS with peer verification, the
state transfer's TLS and the server's client TLS (agent/runner/datadir.go MyCnf). Swarm
secrets belong to a service, not to a task, so the nodes share one certificate: a node's own
certificate would be readable by every other node all the same.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components import service_spec
from galera_swarm import tls

RESOURCE_TYPE = "galera-swarm:index:ClusterCertificates"
# Swarm secret file names inside every Galera task (service_spec.secret_path).
CA_FILE = "galera-tls-ca"
CERT_FILE = "galera-tls-cert"
KEY_FILE = "galera-tls-key"
# The key is root's alone in the task (galera-agent copies it for mysql).
KEY_FILE_MODE = 0o400
# Runs galera_swarm/tls.py's CLI with the program's Python, in the directory that holds
# galera_swarm/.
ISSUE_COMMAND = f"{shlex.quote(sys.executable)} -m galera_swarm.tls"
ISSUE_DIR = str(Path(__file__).resolve().parents[1])
# A run after the first (an update) prints the pair recorded in state instead of a new one.
REPRINT_COMMAND = 'printf "%s" "$PULUMI_COMMAND_STDOUT"'
# The issuing commands' names: the component's name and these (tls-ca, tls-galera).
CA_SUFFIX = "-ca"
NODE_SUFFIX = "-galera"


def tls_env() -> dict[str, str]:
    """The task environment that turns TLS on in a Galera node: the paths of the secret files
    CA_FILE, CERT_FILE and KEY_FILE (images/galera, agent/config/tls.go)."""
    return {"TLS_CA_FILE": service_spec.secret_path(CA_FILE),
            "TLS_CERT_FILE": service_spec.secret_path(CERT_FILE),
            "TLS_KEY_FILE": service_spec.secret_path(KEY_FILE)}


@dataclass
class TlsTaskSpec:
    """What the Galera tasks get for TLS: `env` (tls_env) and the secrets to mount."""
    env: Mapping[str, str]
    secret_mounts: Sequence[docker.ServiceTaskSpecContainerSpecSecretArgs]


@dataclass
class ClusterCertificatesArgs:
    """`ca_name`: the CA's common name (it names the stack); `service_name`: the Galera
    service, whose swarm DNS names the certificate holds (tls.node_names), with `extra_names`
    (e.g. the load balancer's service name)."""
    ca_name: str
    service_name: str
    extra_names: Sequence[str] = ()


def _issue(name: str, kind: str, request: pulumi.Input[str], triggers: Sequence[pulumi.Input],
           opts: pulumi.ResourceOptions) -> pulumi.Output[tls.KeyPair]:
    """The pair `python -m galera_swarm.tls <kind>` issues for `request` (JSON text), once: a
    change of `triggers` replaces the command (a new pair); any other change of its inputs
    reprints the pair in state, and a new Python path or checkout is no change at all."""
    run = command.local.Command(
        name, create=f"{ISSUE_COMMAND} {kind}", update=REPRINT_COMMAND, dir=ISSUE_DIR,
        stdin=pulumi.Output.secret(request),
        logging="none", triggers=list(triggers), opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["stdout"], replace_on_changes=["triggers"],
                                         ignore_changes=["create", "dir"])))
    return run.stdout.apply(tls.KeyPair.from_json)


class ClusterCertificates(pulumi.ComponentResource):
    """The docker provider comes through `opts` (providers=[...] or provider=). Children: the
    commands `<name>-ca` and `<name>-galera` (CA_SUFFIX, NODE_SUFFIX) and the swarm secrets of
    CA_FILE, CERT_FILE and KEY_FILE. `ca_certificate` is the CA's PEM (public); `expiry` maps
    "ca" and "galera" to their notAfter (RFC 3339, UTC)."""

    ca_certificate: pulumi.Output[str]
    expiry: pulumi.Output[dict]

    def __init__(self, name: str, args: ClusterCertificatesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        names = tls.node_names(args.service_name, args.extra_names)

        # No trigger: the CA is replaced only on purpose (`pulumi up --replace`, README), not
        # when a rename of the stack changes its name.
        ca = _issue(f"{name}{CA_SUFFIX}", "ca", json.dumps({"commonName": args.ca_name}), [], child)
        ca_certificate = pulumi.Output.unsecret(ca.apply(lambda p: p.certificate))
        request = ca.apply(lambda p: json.dumps({"ca": json.loads(p.to_json()), "commonName": args.service_name,
                                                 "names": names}))
        # A new CA or other names: a new certificate (the trigger replaces the command).
        node = _issue(f"{name}{NODE_SUFFIX}", "certificate", request, [ca_certificate, ",".join(names)], child)

        ca_secret = service_spec.password_secret(name, CA_FILE, ca_certificate, child)
        cert_secret = service_spec.password_secret(name, CERT_FILE, node.apply(lambda p: p.certificate), child)
        key_secret = service_spec.password_secret(name, KEY_FILE, node.apply(lambda p: p.private_key), child)
        self._mounts = [service_spec.mount_secret(ca_secret.id, ca_secret.name, CA_FILE),
                        service_spec.mount_secret(cert_secret.id, cert_secret.name, CERT_FILE),
                        service_spec.mount_secret(key_secret.id, key_secret.name, KEY_FILE, file_mode=KEY_FILE_MODE)]

        self.ca_certificate = ca_certificate
        # Dates are no secret (the pairs they come from are).
        self.expiry = pulumi.Output.unsecret(pulumi.Output.all(ca, node).apply(lambda v: {
            "ca": v[0].expires, "galera": v[1].expires}))
        for what, pair in (("the stack's CA", ca), ("the Galera nodes' certificate", node)):
            pair.apply(lambda p, what=what: _warn(tls.renewal_warning(p, what)))
        self.register_outputs({"ca_certificate": self.ca_certificate, "expiry": self.expiry})

    def task_spec(self) -> TlsTaskSpec:
        """The env and secret mounts, as GaleraServiceArgs.tls takes them."""
        return TlsTaskSpec(env=tls_env(), secret_mounts=self._mounts)


def recorded_pair(deployment: Mapping, suffix: str) -> tls.KeyPair:
    """The pair that this component's issuing command `<name><suffix>` (CA_SUFFIX or
    NODE_SUFFIX) holds in a stack's state. `deployment`: `pulumi stack export --show-secrets`
    parsed (its stdout, a secret output, shows as {<signature>, "plaintext": the stdout as a
    JSON string}). For the operator's own tools and the tests (the bench's TLS client, the
    no-plain-text check). Raises LookupError when the state holds no such command (a stack without TLS)."""
    marker = f"{RESOURCE_TYPE}$command:local:Command::"
    found = [r for r in deployment.get("deployment", {}).get("resources") or []
             if marker in r.get("urn", "") and r["urn"].endswith(suffix) and "stdout" in (r.get("outputs") or {})]
    if len(found) != 1:
        raise LookupError(f"the state holds {len(found)} certificate commands named *{suffix} of a "
                          f"{RESOURCE_TYPE} (one is expected: does the stack run with tls.enabled?)")
    stdout = found[0]["outputs"]["stdout"]
    return tls.KeyPair.from_json(json.loads(stdout["plaintext"]) if isinstance(stdout, dict) else stdout)


def _warn(warning: Optional[str]) -> None:
    if warning:
        pulumi.log.warn(warning)
