"""The stack's CA and certificates: what galera_swarm.tls issues (checked with `cryptography`'s
own verification), its CLI, and ClusterCertificates under mocks (the certificate commands run
for real there): what reaches Docker and the Galera tasks, and what stays secret."""

from __future__ import annotations

import base64
import datetime
import json
import subprocess

import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.cluster_certificates import (CA_FILE, CA_SUFFIX, CERT_FILE, KEY_FILE, NODE_SUFFIX, REPRINT_COMMAND,
                                             recorded_pair, tls_env)
from galera_swarm import tls
from galera_swarm.lifecycle import PreviousDeployment, tls_change
from tests.unit.conftest import (SwarmMocks, certificate_export, is_secret, previous_outputs, resolve, run_program,
                                 secret_input, stack_config)

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
SECRET = "docker:index/secret:Secret"


@pytest.fixture(scope="module")
def ca() -> tls.KeyPair:
    return tls.issue_ca("galera-swarm test CA", now=NOW)


def test_the_ca_is_a_self_signed_root_that_signs_only_leaves(ca):
    cert = tls.load_certificate(ca.certificate)
    cert.verify_directly_issued_by(cert)
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert cert.subject.rfc4514_string() == "CN=galera-swarm test CA,O=galera-swarm"
    assert cert.not_valid_after_utc == NOW + datetime.timedelta(days=tls.CA_VALIDITY_DAYS)
    assert cert.not_valid_before_utc == NOW - tls.BACKDATE


def test_a_node_certificate_is_signed_by_the_ca_itself_for_both_ends_with_every_name(ca):
    names = tls.node_names("mysql-galera", ["galera-lb", "192.0.2.11"])
    assert names == ["127.0.0.1", "192.0.2.11", "galera-lb", "localhost", "mysql-galera", "tasks.mysql-galera"]
    node = tls.issue_certificate(ca, "mysql-galera", names, now=NOW)
    cert = tls.load_certificate(node.certificate)
    # Directly: Galera refuses a leaf of an intermediate CA (MDEV-35812).
    cert.verify_directly_issued_by(tls.load_certificate(ca.certificate))
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == ["galera-lb", "localhost", "mysql-galera", "tasks.mysql-galera"]
    assert [str(a) for a in alt.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "192.0.2.11"]
    key = serialization.load_pem_private_key(node.private_key.encode(), password=None)
    assert key.public_key() == cert.public_key()
    assert node.expires == (NOW + datetime.timedelta(days=tls.CERTIFICATE_VALIDITY_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_certificate_never_outlives_its_ca():
    short = tls.issue_ca("short-lived CA", days=30, now=NOW)
    node = tls.issue_certificate(short, "n", ["localhost"], now=NOW)
    assert node.not_after == tls.load_certificate(short.certificate).not_valid_after_utc


def test_issuing_refuses_no_names_and_a_ca_key_of_another_certificate(ca):
    with pytest.raises(ValueError, match="a certificate needs at least one name"):
        tls.issue_certificate(ca, "n", [], now=NOW)
    other = tls.issue_ca("other", now=NOW)
    mixed = tls.KeyPair(certificate=ca.certificate, private_key=other.private_key)
    with pytest.raises(ValueError, match="the CA's private key does not belong to its certificate"):
        tls.issue_certificate(mixed, "n", ["localhost"], now=NOW)


def test_the_cli_issues_a_ca_then_a_certificate_of_it():
    ca = tls.KeyPair.from_json(tls.main(["ca"], json.dumps({"commonName": "cli CA", "days": 100})))
    assert tls.load_certificate(ca.certificate).subject.rfc4514_string() == "CN=cli CA,O=galera-swarm"
    printed = tls.main(["certificate"], json.dumps({"ca": json.loads(ca.to_json()), "commonName": "n",
                                                   "names": ["localhost"]}))
    node = tls.KeyPair.from_json(printed)
    tls.load_certificate(node.certificate).verify_directly_issued_by(tls.load_certificate(ca.certificate))
    assert json.loads(printed)["notAfter"] == ca.expires  # capped at the CA's 100 days


@pytest.mark.parametrize("argv,stdin,message", [
    ([], "{}", "usage: python -m galera_swarm.tls ca|certificate < request.json"),
    (["intermediate"], "{}", "usage: python -m galera_swarm.tls ca|certificate < request.json"),
    (["ca"], "not json", "galera_swarm.tls: the request on stdin is not JSON: Expecting value: line 1 column 1 (char 0)"),
    (["ca"], "[]", "galera_swarm.tls: the request on stdin must be a JSON object"),
    (["ca"], "{}", "galera_swarm.tls ca: the request has no 'commonName'"),
    (["certificate"], '{"commonName": "n", "names": ["x"]}', "galera_swarm.tls certificate: the request has no 'ca'"),
    (["certificate"], json.dumps({"ca": {"certificate": "c", "privateKey": "k"}, "commonName": "n", "names": "localhost"}),
     "galera_swarm.tls certificate: `names` must be a list of DNS names and IP literals"),
])
def test_the_cli_says_what_is_wrong_with_a_request(argv, stdin, message):
    with pytest.raises(SystemExit) as exit_:
        tls.main(argv, stdin)
    assert str(exit_.value) == message


def secret_text(record) -> str:
    return base64.b64decode(secret_input(record.inputs["data"])).decode()


def test_the_galera_tasks_get_the_ca_and_a_certificate_it_signed_as_secret_files(program):
    run = program()
    secrets = {r.name: r for r in run.mocks.of_type(SECRET)}
    ca_pem, cert_pem, key_pem = (secret_text(secrets[f"tls-{f}"]) for f in (CA_FILE, CERT_FILE, KEY_FILE))
    cert = tls.load_certificate(cert_pem)
    cert.verify_directly_issued_by(tls.load_certificate(ca_pem))
    assert tls.load_certificate(ca_pem).subject.rfc4514_string() == "CN=galera-swarm galera-swarm/unit CA,O=galera-swarm"
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["galera-lb", "localhost", "mysql-galera", "tasks.mysql-galera"]
    assert serialization.load_pem_private_key(key_pem.encode(), password=None).public_key() == cert.public_key()
    (galera,) = [r.inputs for r in run.mocks.of_type("docker:index/service:Service") if r.inputs["name"] == "mysql-galera"]
    container = galera["taskSpec"]["containerSpec"]
    assert {k: v for k, v in container["env"].items() if k.startswith("TLS_")} == tls_env()
    mounts = {m["fileName"]: m for m in container["secrets"]}
    assert mounts["/run/secrets/galera-tls-key"]["secretId"] == "tls-galera-tls-key-id"
    assert mounts["/run/secrets/galera-tls-key"]["fileMode"] == 0o400
    for name, spec in ((r.inputs["name"], r.inputs) for r in run.mocks.of_type("docker:index/service:Service")):
        assert "PRIVATE KEY" not in json.dumps(spec), name
    # WordPress connects over TLS.
    (wordpress,) = [r.inputs for r in run.mocks.of_type("docker:index/service:Service") if r.inputs["name"] == "wordpress"]
    assert wordpress["taskSpec"]["containerSpec"]["env"]["WORDPRESS_DB_SSL"] == "true"


def test_the_keys_stay_secret_in_state_and_logs(program):
    run = program()
    commands = {r.name: r for r in run.mocks.of_type("command:local:Command")}
    assert sorted(commands) == ["tls-ca", "tls-galera"]
    for command in commands.values():
        assert command.inputs["logging"] == "none"
        # A later run prints what state holds instead of issuing anew.
        assert command.inputs["update"] == REPRINT_COMMAND
        secret_input(command.inputs["stdin"])
    # The CA is replaced only on purpose (a stack rename changes its name, not the CA); the
    # certificate is issued anew when the CA or its names change.
    assert commands["tls-ca"].inputs.get("triggers", []) == []
    ca_pem = tls.KeyPair.from_json(commands["tls-ca"].outputs["stdout"]).certificate
    assert commands["tls-galera"].inputs["triggers"] == [
        ca_pem, "127.0.0.1,galera-lb,localhost,mysql-galera,tasks.mysql-galera"]
    certificates = run.program["certificates"]
    assert not is_secret(certificates.ca_certificate) and not is_secret(certificates.expiry)
    expiry = resolve(certificates.expiry)
    assert set(expiry) == {"ca", "galera"} and expiry["galera"] < expiry["ca"]


def test_the_certificate_commands_stdout_is_an_additional_secret_output(program, monkeypatch):
    seen = {}
    original = pulumi.CustomResource.__init__

    def record(self, t, name, props=None, opts=None, *args, **kwargs):
        if t == "command:local:Command":
            seen[name] = (opts.additional_secret_outputs, opts.replace_on_changes, opts.ignore_changes)
        original(self, t, name, props, opts, *args, **kwargs)

    monkeypatch.setattr(pulumi.CustomResource, "__init__", record)
    program()
    # A trigger replaces (a new pair; the SDK adds triggers[*]); another Python or checkout is
    # no change at all.
    options = (["stdout"], ["triggers", "triggers[*]"], ["create", "dir"])
    assert seen == {"tls-ca": options, "tls-galera": options}


def test_a_later_run_prints_the_pair_in_state_again(tmp_path):
    recorded = tls.issue_ca("recorded", now=NOW).to_json()
    again = subprocess.run(["/bin/sh", "-c", REPRINT_COMMAND], env={"PULUMI_COMMAND_STDOUT": recorded},
                           capture_output=True, text=True, check=True)
    assert again.stdout == recorded


def test_the_pairs_in_a_stack_export_are_found_by_their_command(ca):
    node = tls.issue_certificate(ca, "mysql-galera", tls.node_names("mysql-galera"), now=NOW)
    exported = certificate_export(ca.to_json(), node.to_json())
    assert recorded_pair(exported, CA_SUFFIX) == ca
    assert recorded_pair(exported, NODE_SUFFIX) == node
    with pytest.raises(LookupError, match="does the stack run with tls.enabled"):
        recorded_pair({"deployment": {"resources": []}}, NODE_SUFFIX)


def test_up_warns_sixty_days_before_an_expiry(ca):
    soon = NOW + datetime.timedelta(days=tls.CA_VALIDITY_DAYS) - tls.RENEW_BEFORE
    assert tls.renewal_warning(ca, "the stack's CA", now=soon - datetime.timedelta(seconds=1)) is None
    assert tls.renewal_warning(ca, "the stack's CA", now=soon) == (
        f"the stack's CA expires at {ca.expires}: renew it with `pulumi up --replace` of its certificate command "
        "(README: TLS inside the cluster)")


def test_without_tls_the_galera_tasks_get_no_certificate(program):
    run = program(tls={"enabled": False})
    assert not run.mocks.of_type("command:local:Command")
    assert not [r for r in run.mocks.of_type(SECRET) if r.name.startswith("tls-")]
    (galera,) = [r.inputs for r in run.mocks.of_type("docker:index/service:Service") if r.inputs["name"] == "mysql-galera"]
    assert not any(k.startswith("TLS_") for k in galera["taskSpec"]["containerSpec"]["env"])
    (wordpress,) = [r.inputs for r in run.mocks.of_type("docker:index/service:Service") if r.inputs["name"] == "wordpress"]
    assert "WORDPRESS_DB_SSL" not in wordpress["taskSpec"]["containerSpec"]["env"]
    assert run.program["certificates"] is None


WITHOUT_TLS = PreviousDeployment.from_outputs({"hosts": {"docker1": {"name": "docker1", "address": "192.0.2.11"}}})
WITH_TLS = PreviousDeployment.from_outputs({"hosts": {"docker1": {"name": "docker1", "address": "192.0.2.11"}},
                                            "tls_expiry": {"ca": "2036-11-29T12:00:00Z"}})
NEW_STACK = PreviousDeployment.from_outputs({})


@pytest.mark.parametrize("enabled,chosen,previous,problem,warning", [
    (True, False, NEW_STACK, None, None),
    (False, True, NEW_STACK, None, None),
    (True, False, WITH_TLS, None, None),
    (False, True, WITHOUT_TLS, None, None),
    # The default would switch a cluster that predates TLS: the operator chooses.
    (True, False, WITHOUT_TLS, "galera-swarm:tls.enabled: this stack's Galera cluster runs without TLS, and turning "
     "TLS on is no rolling change (README: TLS inside the cluster); choose: `pulumi config set --path "
     "galera-swarm:tls.enabled false` keeps the cluster as it is, `true` turns TLS on", None),
    (True, True, WITHOUT_TLS, None, "galera-swarm:tls.enabled turns TLS on for a cluster that runs with it off: no "
     "rolling change; the nodes need to restart all at once (README: TLS inside the cluster)"),
    (False, True, WITH_TLS, None, "galera-swarm:tls.enabled turns TLS off for a cluster that runs with it on: no "
     "rolling change; the nodes need to restart all at once (README: TLS inside the cluster)"),
])
def test_switching_tls_for_a_running_cluster_is_refused_or_warned(enabled, chosen, previous, problem, warning):
    assert tls_change(enabled, chosen, previous) == (problem, warning)


def test_a_stack_deployed_before_tls_stops_at_preview_until_tls_enabled_is_chosen(key_path):
    first = run_program(stack_config(key_path, tls={"enabled": False}))
    before_tls = previous_outputs(first)
    assert "tls_expiry" not in before_tls
    with pytest.raises(pulumi.RunError) as refused:
        run_program(stack_config(key_path), mocks=SwarmMocks(stack_outputs=before_tls))
    assert "galera-swarm:tls.enabled: this stack's Galera cluster runs without TLS" in str(refused.value)
    # Once up ran with TLS, the next run goes through (the output records it).
    with_tls = run_program(stack_config(key_path, tls={"enabled": True}), mocks=SwarmMocks(stack_outputs=before_tls))
    assert "tls_expiry" in previous_outputs(with_tls)
    run_program(stack_config(key_path), mocks=SwarmMocks(stack_outputs=previous_outputs(with_tls)))
