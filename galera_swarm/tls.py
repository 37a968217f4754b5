"""The stack's own certificate authority and the certificates it issues, with `cryptography`.

The CA is a self-signed root that signs the leaf certificates directly: Galera refuses a leaf
issued by an intermediate CA (MDEV-35812), so there is no intermediate. Keys are ECDSA P-256
(OpenSSL 3 in MariaDB, Galera, socat and PHP take them). A leaf is for both ends of a TLS
connection (serverAuth and clientAuth): a Galera node accepts connections from its peers and
opens them to its peers with the one certificate. A node certificate also names `localhost`
(node_names), which a state transfer that checks names (ssl-mode VERIFY_IDENTITY) expects.

`python -m galera_swarm.tls ca|certificate` reads a JSON request on stdin and prints the issued
pair as JSON (KeyPair.to_json): that is how components/cluster_certificates.py issues them once
and keeps them in the stack's state (a command:local:Command whose stdout is a secret).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import sys
from dataclasses import dataclass
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# How long what is issued stays valid, in days. A leaf outlives no CA that signed it.
CA_VALIDITY_DAYS = 3650
CERTIFICATE_VALIDITY_DAYS = 825
# Issued this long before "now", so a host whose clock is a little behind accepts it.
BACKDATE = datetime.timedelta(minutes=5)
# `up` warns this long before an expiry (renewal_warning).
RENEW_BEFORE = datetime.timedelta(days=60)
# The Organization of every subject: says whose CA it is in `openssl s_client`'s output.
ORGANIZATION = "galera-swarm"


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM text (the key unencrypted, PKCS#8)."""
    certificate: str
    private_key: str

    @property
    def not_after(self) -> datetime.datetime:
        """The certificate's expiry, a timezone-aware UTC datetime."""
        return load_certificate(self.certificate).not_valid_after_utc

    @property
    def expires(self) -> str:
        """not_after as RFC 3339 text, e.g. 2029-03-05T22:31:06Z."""
        return self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")

    def to_json(self) -> str:
        """{"certificate", "privateKey", "notAfter" (expires)}: what the CLI prints."""
        return json.dumps({"certificate": self.certificate, "privateKey": self.private_key,
                           "notAfter": self.expires})

    @classmethod
    def from_json(cls, text: str) -> "KeyPair":
        """The pair to_json printed. Raises ValueError (json.JSONDecodeError, or naming the
        missing key) on other text."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("an issued key pair is a JSON object")
        try:
            return cls(certificate=data["certificate"], private_key=data["privateKey"])
        except KeyError as missing:
            raise ValueError(f"an issued key pair has no {missing}") from None


def load_certificate(pem: str) -> x509.Certificate:
    """The certificate in PEM text `pem`. Raises ValueError when it holds none."""
    return x509.load_pem_x509_certificate(pem.encode())


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def issue_ca(common_name: str, *, days: int = CA_VALIDITY_DAYS,
             now: datetime.datetime | None = None) -> KeyPair:
    """A new self-signed root CA named `common_name`, valid `days` days from `now` (UTC;
    default: the current time): it may sign leaf certificates only (path length 0)."""
    now = now or _utcnow()
    key = _new_key()
    name = _name(common_name)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=True, crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))


def _alternative_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue_certificate(ca: KeyPair, common_name: str, names: Sequence[str], *,
                      days: int = CERTIFICATE_VALIDITY_DAYS,
                      now: datetime.datetime | None = None) -> KeyPair:
    """A leaf certificate for `common_name` signed by `ca`, for TLS servers and clients alike,
    with `names` (DNS names and IP literals, in that order) as its subject alternative names;
    valid `days` days from `now`, and never past the CA's own expiry. Raises ValueError when
    `names` is empty or the CA's key does not match its certificate."""
    if not names:
        raise ValueError("a certificate needs at least one name")
    now = now or _utcnow()
    ca_cert = load_certificate(ca.certificate)
    ca_key = serialization.load_pem_private_key(ca.private_key.encode(), password=None)
    if ca_key.public_key() != ca_cert.public_key():
        raise ValueError("the CA's private key does not belong to its certificate")
    key = _new_key()
    cert = (x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=True,
                                         key_cert_sign=False, crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([_alternative_name(n) for n in names]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))


def renewal_warning(pair: KeyPair, what: str, now: datetime.datetime | None = None) -> str | None:
    """The warning `up` prints when `pair` (`what` it is, e.g. "the stack's CA") expires
    within RENEW_BEFORE of `now` (UTC; default the current time), or None."""
    now = now or _utcnow()
    if pair.not_after - now > RENEW_BEFORE:
        return None
    return (f"{what} expires at {pair.expires}: renew it with `pulumi up --replace` of its certificate "
            "command (README: TLS inside the cluster)")


def node_names(service_name: str, extra: Sequence[str] = ()) -> list[str]:
    """The names a Galera node certificate holds: the service's swarm DNS names
    (`<service>`, `tasks.<service>`), `extra` (e.g. the load balancer's name), and `localhost`
    and 127.0.0.1 (for a state transfer that checks names). Sorted, without duplicates, so the
    same inputs give the same list."""
    return sorted({service_name, f"tasks.{service_name}", *extra, "localhost", "127.0.0.1"})


def _request(stdin: str) -> dict:
    try:
        request = json.loads(stdin)
    except json.JSONDecodeError as err:
        raise SystemExit(f"galera_swarm.tls: the request on stdin is not JSON: {err}") from None
    if not isinstance(request, dict):
        raise SystemExit("galera_swarm.tls: the request on stdin must be a JSON object")
    return request


def main(argv: Sequence[str], stdin: str) -> str:
    """The CLI: `ca` with {"commonName", "days"?} or `certificate` with {"ca": to_json's
    object, "commonName", "names", "days"?}; gives the issued pair's JSON. Raises SystemExit
    with the usage or the fault."""
    if len(argv) != 1 or argv[0] not in ("ca", "certificate"):
        raise SystemExit("usage: python -m galera_swarm.tls ca|certificate < request.json")
    request = _request(stdin)
    try:
        if argv[0] == "ca":
            return issue_ca(request["commonName"], days=request.get("days", CA_VALIDITY_DAYS)).to_json()
        ca = KeyPair.from_json(json.dumps(request["ca"]))
        names = request["names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SystemExit("galera_swarm.tls certificate: `names` must be a list of DNS names and IP literals")
        return issue_certificate(ca, request["commonName"], names,
                                 days=request.get("days", CERTIFICATE_VALIDITY_DAYS)).to_json()
    except KeyError as missing:
        raise SystemExit(f"galera_swarm.tls {argv[0]}: the request has no {missing}") from None


if __name__ == "__main__":
    print(main(sys.argv[1:], sys.stdin.read()))
