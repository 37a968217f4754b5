"""Every printable character works in every password (root, application): initialisation,
state transfer (SST, which needs no password), health checks, HAProxy and WordPress."""

from __future__ import annotations

import string

from components.haproxy_config import HAPROXY_DEFAULTS, render_haproxy_config
from tests.images.docker_helpers import APP_DATABASE, APP_USER, docker, http_get, published_port, wait_until

# Each holds '#', space, '"', "'", '\\', '$', '`', ';', '=', ','; root holds every printable
# ASCII punctuation character, the application password is 64 characters long.
ROOT = "r " + string.punctuation + " end"
SST = "a#b c\"d\\e'f $x`y`;=,"
APP = ("A#b c\"d\\e'f$g`h;i=j,k" + string.ascii_letters + string.punctuation)[:64]


def test_special_passwords_are_what_they_say(images):
    for pw in (ROOT, SST, APP):
        assert all(c in pw for c in "# \"'\\$`;=,"), pw
    assert len(APP) == 64 and set(string.punctuation) <= set(ROOT)


def test_every_printable_character_works_in_every_password(cluster_factory, tmp_path):
    cluster = cluster_factory("pw", root_password=ROOT, app_password=APP)
    g1, g2, g3 = cluster.nodes
    # g1 and g3 get the passwords as values, g2 as files (docker secrets).
    cluster.start(g1)
    cluster.wait_all_synced(timeout=180, nodes=[g1])
    cluster.sql(g1, "CREATE DATABASE pw; CREATE TABLE pw.t (id INT PRIMARY KEY); INSERT INTO pw.t VALUES (1),(2)")
    # g2 and g3 have empty data directories: they can only join by SST (mariabackup).
    cluster.start(g2, g3)
    cluster.wait_all_synced(timeout=240)
    for node in (g2, g3):
        assert cluster.sql(node, "SELECT COUNT(*) FROM pw.t") == "2"
        log = cluster.logs(node)
        assert "WSREP_SST: [INFO] Proceeding with SST" in log or "SST received" in log, log[-3000:]

    for node in cluster.nodes:
        other = g1 if node != g1 else g2
        assert cluster.login(node, "root", ROOT, via=other) == "root@%"
        assert cluster.login(node, APP_USER, APP, via=other) == f"{APP_USER}@%"
        # root@localhost over the socket by an OS user other than root: the password is checked.
        assert cluster.login(node, "root", ROOT, os_user="nobody") == "root@localhost"
        assert "ERROR 1045 (28000): Access denied" in cluster.login(node, "root", ROOT + "x", via=other)
        # The container health check and the HTTP health endpoint.
        assert docker("exec", node, "galera-health", "--check", "--donor-ok", check=False).returncode == 0
        assert "200 OK" in docker("exec", other, "bash", "-c",
                                  f"exec 3<>/dev/tcp/{node}/9200; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; head -n1 <&3").stdout

    # HAProxy checks the health endpoint and routes the application user to every node (its
    # reader port; the MySQL port is the writer, one node).
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_haproxy_config(**{**HAPROXY_DEFAULTS, "galera_dns": cluster.alias}))
    cfg.chmod(0o644)
    haproxy = f"{cluster.prefix}-haproxy"
    docker("run", "-d", "--name", haproxy, "--network", cluster.network, "-p", "127.0.0.1::8404",
           "-v", f"{cfg}:/usr/local/etc/haproxy/haproxy.cfg:ro", cluster.images["haproxy"])

    def routed():
        out = {cluster.sql(g1, "SELECT @@wsrep_node_name", host=haproxy, user=APP_USER, password=APP,
                           check=False, port=HAPROXY_DEFAULTS["read_port"]) for _ in range(12)}
        return out if out == set(cluster.nodes) else None
    wait_until("HAProxy to route the application user to all three nodes", routed, 60)

    # WordPress reads the application password from a file and connects through HAProxy.
    secret = tmp_path / "db_password"
    secret.write_text(APP)
    secret.chmod(0o644)
    wordpress = f"{cluster.prefix}-wordpress"
    docker("run", "-d", "--name", wordpress, "--network", cluster.network, "-p", "127.0.0.1::80",
           "-e", f"WORDPRESS_DB_HOST={haproxy}:3306", "-e", f"WORDPRESS_DB_USER={APP_USER}",
           "-e", "WORDPRESS_DB_PASSWORD_FILE=/run/secrets/db_password", "-e", f"WORDPRESS_DB_NAME={APP_DATABASE}",
           "-e", f"WORDPRESS_DB_SSL={cluster.wordpress_db_ssl}",
           "-v", f"{secret}:/run/secrets/db_password:ro", cluster.images["wordpress"])
    base = f"http://{published_port(wordpress, 80)}"

    def install_page():
        try:
            return http_get(base + "/wp-admin/install.php")
        except OSError:
            return None
    status, body, _ = wait_until("the WordPress install page", install_page, 60)
    assert status == 200, body[:2000]
    assert "Error establishing a database connection" not in body
    assert "<title>WordPress &rsaquo; Installation</title>" in body
