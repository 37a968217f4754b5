"""WordPress image: installs against the Galera cluster (through HAProxy) and serves a site.

Each container gets its own table prefix in the shared database, so each starts as a fresh,
uninstalled WordPress whatever ran before. The installed site is looked at as a visitor's
browser sees it (headless chromium, tests/wordpress_site.py): the default theme must render,
and posts must answer at their pretty permalinks, which the image's vhost rewrites.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape

import pytest

from tests.images.docker_helpers import (APP_DATABASE, APP_PASSWORD, APP_USER, docker, http_get,
                                         published_port, wait_until)
from tests import wordpress_site
from tests.wordpress_site import (ChromiumError, Session, WordPressError, install, login,
                                  publish_post, render_in_chromium, rest, set_permalinks)

THEME = "twentytwentythree"
DATE_PERMALINKS = "/%year%/%monthnum%/%day%/%postname%/"  # what WordPress's installer picks


@pytest.fixture(scope="module")
def db_secret(tmp_path_factory):
    """The application's database password as a file, mounted as a docker secret would be."""
    secret = tmp_path_factory.mktemp("wordpress") / "db_password"
    secret.write_text(APP_PASSWORD)
    secret.chmod(0o644)
    return secret


@contextmanager
def running_wordpress(cluster, haproxy, db_secret, name: str, table_prefix: str, env: tuple[str, ...] = (),
                      wait: float = 60):
    """A wordpress container on the cluster's network, with extra `env` ("K=V"; they win over
    the defaults, among them WORDPRESS_DB_SSL=true on a cluster with TLS, as the stack sets it);
    yields its base URL on 127.0.0.1 once it reaches its database (for up to `wait` s;
    AssertionError with its last answer)."""
    container = f"{cluster.prefix}-{name}"
    settings = {"WORDPRESS_DB_HOST": f"{haproxy}:3306", "WORDPRESS_DB_USER": APP_USER,
                "WORDPRESS_DB_PASSWORD_FILE": "/run/secrets/db_password", "WORDPRESS_DB_NAME": APP_DATABASE,
                "WORDPRESS_TABLE_PREFIX": table_prefix, "WORDPRESS_DB_SSL": cluster.wordpress_db_ssl,
                **dict(item.split("=", 1) for item in env)}
    docker("run", "-d", "--name", container, "--network", cluster.network, "-p", "127.0.0.1::80",
           *[arg for key, value in settings.items() for arg in ("-e", f"{key}={value}")],
           "-v", f"{db_secret}:/run/secrets/db_password:ro", cluster.images["wordpress"])
    try:
        base = f"http://{published_port(container, 80)}"
        # HAProxy routes to the nodes only once its checks pass (rise 2, inter 2s): until then
        # WordPress answers 500, "Error establishing a database connection".
        try:
            wait_until("WordPress to answer on port 80 with its database reachable",
                       lambda: (answer := _get_or_none(base + "/")) and answer[0] != 500 and answer, wait)
        except AssertionError as err:
            proxy = docker("logs", "--tail", "30", haproxy, check=False)
            answer = _get_or_none(base + "/")
            heading = re.search(r"<h1>(.*?)</h1>", answer[1] if answer else "", re.S)
            raise AssertionError(f"{err}\nlast answer: {str(answer)[:600]}\n"
                                 f"its heading: {heading.group(1).strip() if heading else None}\n"
                                 f"{haproxy} log:\n{proxy.stdout}{proxy.stderr}") from None
        yield base
    finally:
        docker("rm", "-f", container, check=False)


def test_wordpress_install_page_renders_against_the_cluster(cluster, haproxy, db_secret):
    with running_wordpress(cluster, haproxy, db_secret, "wp-fresh", f"wp_fresh{secrets.token_hex(3)}_") as base:
        status, _, headers = http_get(base + "/")
        assert status == 302
        assert headers["Location"].endswith("/wp-admin/install.php")
        status, body, _ = http_get(base + "/wp-admin/install.php")
        assert status == 200
        assert "<title>WordPress &rsaquo; Installation</title>" in body
        assert "Error establishing a database connection" not in body


def test_the_application_account_takes_wordpress_only_over_tls(cluster, haproxy, db_secret):
    # On a cluster with TLS the application account refuses sessions without it (REQUIRE SSL,
    # agent/credentials): WordPress reaches it with WORDPRESS_DB_SSL=true, not without.
    assert cluster.tls
    with running_wordpress(cluster, haproxy, db_secret, "wp-tls", f"wp_tls{secrets.token_hex(3)}_",
                           env=("WORDPRESS_DB_SSL=true",)) as base:
        status, body, _ = http_get(base + "/wp-admin/install.php")
        assert status == 200 and "Error establishing a database connection" not in body
    with pytest.raises(AssertionError, match="Error establishing a database connection"):
        with running_wordpress(cluster, haproxy, db_secret, "wp-no-tls", f"wp_notls{secrets.token_hex(3)}_",
                               env=("WORDPRESS_DB_SSL=false",), wait=20):
            pass


@dataclass
class Site:
    base: str
    title: str
    user: str
    password: str
    session: Session


@pytest.fixture(scope="module")
def site(cluster, haproxy, db_secret):
    """A WordPress installed through its installer over HTTP, as a new user does; no other step."""
    token = secrets.token_hex(3)
    with running_wordpress(cluster, haproxy, db_secret, "wp-site", f"wp_site{token}_") as base:
        title = f"Galera Swarm Site {token}"
        password = f"pw-{secrets.token_hex(8)}"
        install(base, title, "siteadmin", password, "siteadmin@example.org")
        yield Site(base, title, "siteadmin", password, login(base, "siteadmin", password))


def test_front_page_renders_the_default_theme_in_a_browser(site):
    dom = render_in_chromium(site.base + "/")
    # The block theme's page: its template's wrapper, its header's site title and the first
    # post the installer wrote, listed by the theme's query loop (none of it without a theme).
    assert '<div class="wp-site-blocks">' in dom, dom[:3000]
    header = _texts(dom, r'<header class="wp-block-template-part">.*?class="wp-block-site-title"[^>]*>(.*?)</p>')
    assert header == [site.title]
    assert "Hello world!" in _texts(dom, r'<h2 class="wp-block-post-title[^"]*"[^>]*>(.*?)</h2>')
    assert site.title in _texts(dom, r"<title>(.*?)</title>")[0]
    # Its assets come from the theme, served through /wp-content and Debian's symlink.
    fonts = sorted(set(re.findall(rf"/wp-content/themes/{THEME}/assets/fonts/[^)\"' ]+", dom)))
    assert fonts, "the page names none of the theme's fonts"
    status, _, headers = http_get(site.base + fonts[0])
    assert (status, headers.get("Content-Type")) == (200, "font/woff2")
    status, style, _ = http_get(f"{site.base}/wp-content/themes/{THEME}/style.css")
    assert status == 200 and "Theme Name: Twenty Twenty-Three" in style


def test_default_theme_is_the_active_one(site):
    status, themes = rest(site.session, "/wp/v2/themes?status=active")
    assert status == 200, themes
    assert [(t["stylesheet"], t["name"]["raw"]) for t in themes] == [(THEME, "Twenty Twenty-Three")]


def test_post_answers_at_the_installers_date_permalink(site):
    url = publish_post(site.base, site.session, "Date permalink post", "<p>Body of the date post.</p>")
    # No manual step after the installer: its date-based structure, with no /index.php/ in it.
    assert re.fullmatch(re.escape(site.base) + r"/\d{4}/\d{2}/\d{2}/date-permalink-post/", url), url
    _assert_post_page(url, "Date permalink post", "Body of the date post.")


def test_post_answers_at_a_postname_permalink(site):
    set_permalinks(site.base, site.session, "/%postname%/")
    try:
        url = publish_post(site.base, site.session, "Postname permalink post", "<p>Body by name.</p>")
        assert url == f"{site.base}/postname-permalink-post/"
        _assert_post_page(url, "Postname permalink post", "Body by name.")
        # Anything else under a pretty path is WordPress's own themed 404, not Apache's.
        status, body, _ = http_get(f"{site.base}/no-such-post-{secrets.token_hex(3)}/")
        assert status == 404
        assert "wp-site-blocks" in body and site.title in body
    finally:
        set_permalinks(site.base, site.session, DATE_PERMALINKS)


def test_installed_site_refuses_a_second_install_and_a_wrong_password(site):
    with pytest.raises(WordPressError, match="Already Installed"):
        install(site.base, "Taken over", "intruder", "intruder-pw", "intruder@example.org")
    with pytest.raises(WordPressError, match="refused"):
        login(site.base, site.user, "not-the-password")
    # The site is still the one installed first.
    assert site.title in render_in_chromium(site.base + "/")


def test_browser_checks_fail_rather_than_skip_without_chromium(monkeypatch):
    monkeypatch.setattr(wordpress_site.shutil, "which", lambda name: None)
    with pytest.raises(ChromiumError, match="apt-get install chromium"):
        render_in_chromium("http://127.0.0.1:9/")


def test_browser_checks_time_out_on_a_page_that_never_answers():
    with socket.socket() as listener:  # accepts connections, never answers them
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        started = time.monotonic()
        with pytest.raises(ChromiumError, match="did not render"):
            render_in_chromium(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=5)
        assert time.monotonic() - started < 15


def _assert_post_page(url, title, text):
    status, body, _ = http_get(url)
    assert status == 200, f"{url} answered {status}"
    dom = render_in_chromium(url)
    assert _texts(dom, r'<h1 [^>]*class="wp-block-post-title[ "][^>]*>(.*?)</h1>') == [title], dom[:3000]
    assert text in _texts(dom, r'<p>(.*?)</p>')


def _texts(dom: str, pattern: str) -> list[str]:
    """The visible text of each match's group: tags stripped, entities decoded, space folded."""
    return [" ".join(unescape(re.sub(r"<[^>]+>", "", m)).split()) for m in re.findall(pattern, dom, re.S)]


def _get_or_none(url):
    try:
        return http_get(url)
    except OSError:
        return None


def test_site_url_from_request_serves_each_address_under_its_own_name(cluster, haproxy, db_secret):
    """WORDPRESS_SITE_URL=from-request: replicas without one address in front of them (swarm
    host-mode ports) answer under the address asked for instead of redirecting to the one
    WordPress was installed under."""
    prefix = f"wp_req{secrets.token_hex(3)}_"
    with running_wordpress(cluster, haproxy, db_secret, "wp-from-request", prefix,
                           env=("WORDPRESS_SITE_URL=from-request",)) as base:
        install(base, "Per-address site", "reqadmin", f"pw-{secrets.token_hex(8)}", "reqadmin@example.org")
        port = base.rsplit(":", 1)[1]
        other = wordpress_site.request(base + "/", headers={"Host": f"localhost:{port}"}, follow_redirects=False)
        assert other.status == 200, (other.status, other.headers.get("Location"))
        assert f'href="http://localhost:{port}/' in other.body
        assert "http://127.0.0.1" not in other.body

