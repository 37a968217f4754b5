"""TLS inside the cluster (the nodes run with ClusterCertificates' files, tls_env, as every
test cluster here does): Galera admits only nodes with a certificate of the cluster's CA, a
state transfer runs over TLS with the CA checked, and the nodes show the CA's chain on 4567
and 3306 and encrypt client sessions."""

from __future__ import annotations

import time

import pytest

from components.cluster_certificates import CA_FILE, CERT_FILE, KEY_FILE
from components.service_spec import SECRETS_DIR
from tests.images.conftest import MEASUREMENTS, make_cluster
from tests.images.docker_helpers import (APP_PASSWORD, APP_USER, ROGUE_GIVE_UP_SECONDS, ROOT_PASSWORD, GaleraCluster,
                                         cluster_pki, container_ip, docker, rogue_node_command, write_tls_files)

# Galera's TLS options with the files where write_tls_files put them.
ROGUE_TLS_OPTIONS = (f"socket.ssl=yes;socket.ssl_ca={SECRETS_DIR}/{CA_FILE};"
                     f"socket.ssl_cert={SECRETS_DIR}/{CERT_FILE};socket.ssl_key={SECRETS_DIR}/{KEY_FILE}")


@pytest.fixture(scope="module")
def tls_cluster(request, run_prefix, network, images):
    cluster = make_cluster(request, run_prefix, network, images, "tls", size=2)
    donor, joiner = cluster.nodes
    cluster.start(donor)
    cluster.wait_all_synced(timeout=180, nodes=[donor])
    cluster.sql(donor, "CREATE TABLE wordpress.secrets (id INT PRIMARY KEY, v TEXT); "
                       "INSERT INTO wordpress.secrets VALUES (1, 'only for the cluster')")
    # The joiner has no data: it gets a full state transfer (mariabackup SST) from the donor.
    cluster.start(joiner)
    cluster.wait_all_synced(timeout=240)
    return cluster


def test_the_state_transfer_runs_over_tls_and_checks_the_ca(tls_cluster: GaleraCluster):
    donor, joiner = tls_cluster.nodes
    logs = tls_cluster.logs(joiner)
    assert "MODE='VERIFY_CA', encrypt='4'" in logs, logs[-3000:]
    assert "Decrypting with cert='/run/mysqld/tls/cert.pem', key='/run/mysqld/tls/key.pem', " \
           "ca='/run/mysqld/tls/ca.pem'" in logs
    assert "Encrypting with cert='/run/mysqld/tls/cert.pem'" in tls_cluster.logs(donor)
    assert tls_cluster.sql(joiner, "SELECT v FROM wordpress.secrets") == "only for the cluster"
    # Replication runs over TLS too: Galera names its peers ssl://.
    assert "ssl://" in tls_cluster.logs(donor)


def test_a_node_without_a_certificate_of_the_cluster_ca_is_not_admitted(tls_cluster: GaleraCluster, tmp_path):
    donor, _ = tls_cluster.nodes
    peer = container_ip(donor, tls_cluster.network)
    own_ca = tmp_path / "own-ca"
    knows_our_ca = tmp_path / "knows-our-ca"
    for directory in (own_ca, knows_our_ca):
        directory.mkdir()
        directory.chmod(0o755)
    write_tls_files(own_ca, *cluster_pki("rogue CA"))
    # The CA certificate is public (a stack output): this rogue trusts it, with its own leaf.
    write_tls_files(knows_our_ca, cluster_pki()[0], cluster_pki("rogue CA")[1])
    rogues = {"plain": (None, None), "own-ca": (own_ca, ROGUE_TLS_OPTIONS),
              "knows-our-ca": (knows_our_ca, ROGUE_TLS_OPTIONS)}
    since = str(int(time.time()))
    for name, (files, options) in rogues.items():
        mount = ["-v", f"{files}:{SECRETS_DIR}:ro"] if files else []
        docker("run", "-d", "--name", f"{tls_cluster.prefix}-rogue-{name}", "--network", tls_cluster.network,
               *mount, "--entrypoint", "bash", tls_cluster.images["galera"], "-c",
               rogue_node_command("gsimg", peer, options))

    # A node that reaches no Primary component gives up (Galera's pc.wait_prim_timeout, 30 s).
    containers = [f"{tls_cluster.prefix}-rogue-{rogue}" for rogue in rogues]
    sizes = []
    deadline = time.monotonic() + ROGUE_GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        sizes.append(tuple(tls_cluster.status(n)["wsrep_cluster_size"] for n in tls_cluster.nodes))
        running = [c for c in containers
                   if docker("inspect", "-f", "{{.State.Running}}", c).stdout.strip() == "true"]
        if not running:
            break
        time.sleep(5)
    MEASUREMENTS.append(f"tls: cluster sizes while three rogues tried to join: {sorted(set(sizes))}")
    assert set(sizes) == {("2", "2")}, sizes
    assert not running, f"{running} still running after {ROGUE_GIVE_UP_SECONDS} s"

    refused = tls_cluster.logs(donor, since=since)
    for container in containers:
        log = tls_cluster.logs(container)
        # It never became a member nor received a state transfer, and gave up.
        assert "Failed to open channel 'gsimg'" in log and "[ERROR] Aborting" in log, log[-3000:]
        assert "Synchronized with group" not in log and "SST" not in log.replace("--wsrep-sst-method", ""), log[-3000:]
    # What the cluster's node logged about each: a peer without TLS, and certificates of another CA.
    assert "Failed to establish connection: unexpected eof while reading" in refused
    assert "tlsv1 alert unknown ca" in refused
    assert "certificate verify failed: unable to get local issuer certificate" in refused
    docker("rm", "-f", "-v", *containers)


@pytest.mark.parametrize("port,starttls", [(4567, []), (3306, ["-starttls", "mysql"])])
def test_the_nodes_show_the_cluster_ca_chain(tls_cluster: GaleraCluster, port, starttls):
    donor, joiner = tls_cluster.nodes
    # (Galera then ends the session: s_client has no client certificate to show.)
    out = docker("exec", joiner, "bash", "-c",
                 f"openssl s_client {' '.join(starttls)} -connect {donor}:{port} -CAfile /run/mysqld/tls/ca.pem "
                 "</dev/null 2>&1", check=False).stdout
    assert "depth=1 O = galera-swarm, CN = gsimg CA" in out, out
    assert "depth=0 O = galera-swarm, CN = gsimg-galera" in out
    assert "Verify return code: 0 (ok)" in out


def test_client_sessions_are_encrypted(tls_cluster: GaleraCluster):
    donor, joiner = tls_cluster.nodes
    cipher = tls_cluster.sql(joiner, "SHOW STATUS LIKE 'Ssl_cipher'", host=donor, user=APP_USER,
                             password=APP_PASSWORD).split("\t")
    assert cipher[0] == "Ssl_cipher" and cipher[1].startswith("TLS_"), cipher


@pytest.mark.parametrize("user,password", [(APP_USER, APP_PASSWORD), ("root", ROOT_PASSWORD)])
def test_the_network_accounts_refuse_a_session_without_tls(tls_cluster: GaleraCluster, user, password):
    donor, joiner = tls_cluster.nodes
    assert tls_cluster.login(donor, user, password, via=joiner) == f"{user}@%"
    refused = tls_cluster.login(donor, user, password, via=joiner, tls=False)
    assert f"Access denied for user '{user}'" in refused, refused
    # The socket is no network: root logs in there as before.
    assert tls_cluster.login(donor, "root", ROOT_PASSWORD, os_user="nobody") == "root@localhost"
