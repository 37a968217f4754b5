"""The stack's CA and certificates: what galera_swarm.tls issues (checked with `cryptography`'s
own verification), its CLI, and ClusterCertificates under mocks (the certificate commands run
for real there): what reaches Docker and the Galera tasks, and what stays secret."""

from __future__ import annotations

import base64
import datetime
import json

import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.cluster_certificates import CA_FILE, CERT_FILE, KEY_FILE, REPRINT_COMMAND, tls_env
from galera_swarm import tls
from tests.unit.conftest import is_secret, resolve, secret_input

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
    # The certificate is issued anew when the CA or its names change.
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
            seen[name] = opts.additional_secret_outputs
        original(self, t, name, props, opts, *args, **kwargs)

    monkeypatch.setattr(pulumi.CustomResource, "__init__", record)
    program()
    assert seen == {"tls-ca": ["stdout"], "tls-galera": ["stdout"]}


def test_without_tls_the_galera_tasks_get_no_certificate(program):
    run = program(tls={"enabled": False})
    assert not run.mocks.of_type("command:local:Command")
    assert not [r for r in run.mocks.of_type(SECRET) if r.name.startswith("tls-")]
    (galera,) = [r.inputs for r in run.mocks.of_type("docker:index/service:Service") if r.inputs["name"] == "mysql-galera"]
    assert not any(k.startswith("TLS_") for k in galera["taskSpec"]["containerSpec"]["env"])
    (wordpress,) = [r.inputs for r in run.mocks.of_type("docker:index/service:Service") if r.inputs["name"] == "wordpress"]
    assert "WORDPRESS_DB_SSL" not in wordpress["taskSpec"]["containerSpec"]["env"]
    assert run.program["certificates"] is None
