"""WordPress image: the install page renders against the Galera cluster (through HAProxy)."""

from __future__ import annotations

from tests.images.docker_helpers import (APP_DATABASE, APP_PASSWORD, APP_USER, docker, http_get,
                                         published_port, wait_until)


def test_wordpress_install_page_renders_against_the_cluster(cluster, haproxy, tmp_path):
    secret = tmp_path / "db_password"
    secret.write_text(APP_PASSWORD)
    secret.chmod(0o644)
    name = f"{cluster.prefix}-wordpress"
    docker("run", "-d", "--name", name, "--network", cluster.network, "-p", "127.0.0.1::80",
           "-e", f"WORDPRESS_DB_HOST={haproxy}:3306", "-e", f"WORDPRESS_DB_USER={APP_USER}",
           "-e", "WORDPRESS_DB_PASSWORD_FILE=/run/secrets/db_password", "-e", f"WORDPRESS_DB_NAME={APP_DATABASE}",
           "-v", f"{secret}:/run/secrets/db_password:ro", cluster.images["wordpress"])
    try:
        base = f"http://{published_port(name, 80)}"
        status, _, headers = wait_until("WordPress to answer on port 80",
                                        lambda: _get_or_none(base + "/"), 30)
        assert status == 302
        assert headers["Location"].endswith("/wp-admin/install.php")
        status, body, _ = http_get(base + "/wp-admin/install.php")
        assert status == 200
        assert "<title>WordPress &rsaquo; Installation</title>" in body
        assert "Error establishing a database connection" not in body
    finally:
        docker("rm", "-f", name, check=False)


def _get_or_none(url):
    try:
        return http_get(url)
    except OSError:
        return None
