"""A small WordPress client for tests: install, log in, publish, and look as a visitor would.

Shared by the image contract tests (tests/images/test_wordpress.py) and the lab's integration
suite; it speaks plain HTTP with the standard library only (`urllib`, `http.cookiejar`), so it
needs no Python package beyond the test suite's own.

    install(base, "My site", "admin", "secret", "admin@example.org")
    session = login(base, "admin", "secret")
    url = publish_post(base, session, "Hello", "<p>Body</p>")   # the post's permalink
    dom = render_in_chromium(url)                                # what a browser shows

Posts are published through the REST API (`/wp/v2/posts`) authenticated by the login cookie
and a `wp_rest` nonce from `admin-ajax.php?action=rest-nonce`: that is how WordPress's own
block editor saves a post, and it works on Debian's WordPress 6.1 as installed, with any
permalink setting (the route is reached as `?rest_route=`). The alternatives are weaker here:
application passwords are refused over plain HTTP (WordPress wants HTTPS or a "local"
environment type), XML-RPC is commonly switched off by hardening and sends the password on
every call, and scraping the block editor's page for its nonce breaks with each editor release.

`render_in_chromium` needs Debian's `chromium` (scripts/test.sh installs it) and raises
ChromiumError without it: a test that needs a browser fails, it never skips.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser

__all__ = [
    "ChromiumError", "Response", "Session", "WordPressError", "install", "login", "publish_post",
    "render_in_chromium", "request", "rest", "rest_nonce", "set_permalinks",
]

DEFAULT_TIMEOUT = 60.0


class WordPressError(AssertionError):
    """WordPress answered, but not as the step needs (a refusal, an error page, a bad status)."""


class ChromiumError(AssertionError):
    """Chromium is missing, failed, or did not finish within the timeout."""


@dataclass(frozen=True)
class Response:
    status: int
    url: str  # after redirects, if they were followed
    headers: dict[str, str]
    body: str


@dataclass
class Session:
    """A logged-in user's cookies (`base_url` is the site they belong to)."""

    base_url: str
    user: str
    cookies: http.cookiejar.CookieJar


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def request(url: str, data: dict[str, str] | bytes | None = None, *,
            cookies: http.cookiejar.CookieJar | None = None, headers: dict[str, str] | None = None,
            method: str | None = None, follow_redirects: bool = True,
            timeout: float = DEFAULT_TIMEOUT) -> Response:
    """GET `url` (or POST `data`: a dict is form-encoded, bytes go as they are).

    Takes an optional cookie jar that is read and updated, extra headers, an explicit method,
    and whether to follow redirects. Returns a Response for every HTTP status (4xx/5xx included); raises OSError
    (urllib.error.URLError, TimeoutError) when there is no HTTP answer at all.
    """
    handlers: list[urllib.request.BaseHandler] = []
    if cookies is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(cookies))
    if not follow_redirects:
        handlers.append(_NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    if isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return Response(resp.status, resp.geturl(), dict(resp.headers),
                            resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as err:
        return Response(err.code, err.geturl(), dict(err.headers), err.read().decode("utf-8", "replace"))


def install(base_url: str, title: str, admin_user: str, admin_password: str, admin_email: str, *,
            public: bool = True, timeout: float = 120) -> None:
    """Finish WordPress's installer over HTTP, as its form does (wp-admin/install.php?step=2).

    Takes the site's base URL (e.g. "http://127.0.0.1:8080", which becomes the site's address),
    the site title, the administrator's name, password and e-mail address, and whether search
    engines may index the site. Returns once WordPress shows its "Success!" page. Raises
    WordPressError if the site is installed already, or the installer reports an error (its
    message is in the exception), or answers otherwise; OSError if it does not answer.
    """
    resp = request(_url(base_url, "wp-admin/install.php?step=2"), {
        "weblog_title": title,
        "user_name": admin_user,
        "admin_password": admin_password,
        "admin_password2": admin_password,
        "pw_weak": "on",  # the form's "confirm use of weak password" box; harmless otherwise
        "admin_email": admin_email,
        "blog_public": "1" if public else "0",
        "language": "",
        "Submit": "Install WordPress",
    }, timeout=timeout)
    if resp.status == 200 and "<h1>Success!</h1>" in resp.body:
        return
    if "<h1>Already Installed</h1>" in resp.body:
        raise WordPressError(f"{base_url} is installed already (install.php: Already Installed)")
    message = _text_of(resp.body, "p", {"class": "message"}) or _text_of(resp.body, "div", {"class": "wp-die-message"})
    raise WordPressError(f"installing {base_url} failed: HTTP {resp.status}: "
                         f"{message or resp.body[:500]!r}")


def login(base_url: str, user: str, password: str, *, timeout: float = DEFAULT_TIMEOUT) -> Session:
    """Log in through wp-login.php's form, as a browser does (test cookie, then the POST).

    Takes the site's base URL, a user name (or e-mail address) and password. Returns a Session
    holding the login cookies. Raises WordPressError if WordPress refuses the login (its message
    is in the exception) or answers otherwise; OSError if it does not answer.
    """
    jar = http.cookiejar.CookieJar()
    login_url = _url(base_url, "wp-login.php")
    first = request(login_url, cookies=jar, timeout=timeout)  # sets wordpress_test_cookie
    if first.status != 200:
        raise WordPressError(f"GET {login_url} answered HTTP {first.status}")
    admin_url = _url(base_url, "wp-admin/")
    resp = request(login_url, {
        "log": user, "pwd": password, "wp-submit": "Log In", "redirect_to": admin_url, "testcookie": "1",
    }, cookies=jar, timeout=timeout)
    if not any(c.name.startswith("wordpress_logged_in_") for c in jar):
        message = _text_of(resp.body, "div", {"id": "login_error"})
        raise WordPressError(f"login to {base_url} as {user!r} refused: HTTP {resp.status}: "
                             f"{message or resp.body[:300]!r}")
    if resp.status != 200 or not resp.url.startswith(admin_url):
        raise WordPressError(f"login to {base_url} as {user!r} ended at {resp.url} (HTTP {resp.status})")
    return Session(base_url=base_url, user=user, cookies=jar)


def rest_nonce(session: Session, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """A `wp_rest` nonce for the session (admin-ajax.php?action=rest-nonce, WordPress >= 5.3).

    Takes a Session from login(). Returns the nonce (10 hexadecimal digits). Raises
    WordPressError if WordPress does not hand one out (e.g. the session is not logged in).
    """
    resp = request(_url(session.base_url, "wp-admin/admin-ajax.php?action=rest-nonce"),
                   cookies=session.cookies, follow_redirects=False, timeout=timeout)
    nonce = resp.body.strip()
    if resp.status != 200 or not nonce.isalnum() or nonce == "0":
        raise WordPressError(f"no REST nonce for {session.user!r}: HTTP {resp.status}: {resp.body[:200]!r}")
    return nonce


def rest(session: Session, route: str, body: dict | None = None, *, method: str | None = None,
         timeout: float = DEFAULT_TIMEOUT) -> tuple[int, object]:
    """Call the REST API as the session's user (login cookie + `wp_rest` nonce, as the editor does).

    Takes a Session from login(), a route with its query (e.g. "/wp/v2/themes?status=active"),
    an optional JSON body (then the method defaults to POST, else GET) and an explicit method.
    The route is reached as `?rest_route=`, which works with any permalink setting. Returns
    (HTTP status, decoded JSON). Raises WordPressError if the answer is not JSON; OSError if
    WordPress does not answer.
    """
    path, _, query = route.partition("?")
    url = _url(session.base_url, "?" + urllib.parse.urlencode({"rest_route": path}))
    if query:
        url += "&" + query
    headers = {"X-WP-Nonce": rest_nonce(session, timeout=timeout)}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    resp = request(url, data, cookies=session.cookies, headers=headers, method=method,
                   follow_redirects=False, timeout=timeout)
    try:
        return resp.status, json.loads(resp.body)
    except ValueError:
        raise WordPressError(f"{method or ('POST' if data else 'GET')} {route} answered HTTP "
                             f"{resp.status} without JSON: {resp.body[:500]!r}") from None


def publish_post(base_url: str, session: Session, title: str, content: str, *,
                 timeout: float = DEFAULT_TIMEOUT) -> str:
    """Publish a post as the session's user through the REST API (see the module's docstring).

    Takes the site's base URL (the session's site), a Session from login(), the post's title
    (plain text) and content (HTML or block markup). Returns the post's permalink as WordPress
    links to it (its form follows Settings > Permalinks). Raises WordPressError if WordPress
    does not create a published post; OSError if it does not answer.
    """
    if base_url.rstrip("/") != session.base_url.rstrip("/"):
        raise WordPressError(f"the session belongs to {session.base_url}, not {base_url}")
    status, post = rest(session, "/wp/v2/posts", {"title": title, "content": content, "status": "publish"},
                        timeout=timeout)
    if status != 201 or not isinstance(post, dict) or post.get("status") != "publish" or not post.get("link"):
        raise WordPressError(f"publishing {title!r} on {base_url} failed: HTTP {status}: {str(post)[:500]}")
    return post["link"]


def set_permalinks(base_url: str, session: Session, structure: str, *,
                   timeout: float = DEFAULT_TIMEOUT) -> None:
    """Set Settings > Permalinks to a custom structure (e.g. "/%postname%/") through its form.

    Takes the site's base URL, a Session of an administrator, and the structure ("" for plain
    `?p=123` links). Returns once WordPress shows the setting saved. Raises WordPressError if
    the form is not offered or the saved value differs; OSError if WordPress does not answer.
    """
    page_url = _url(base_url, "wp-admin/options-permalink.php")
    page = request(page_url, cookies=session.cookies, timeout=timeout)
    fields = _form_fields(page.body, "_wpnonce", "_wp_http_referer")
    if page.status != 200 or "_wpnonce" not in fields:
        raise WordPressError(f"{page_url} offers no permalink form to {session.user!r} (HTTP {page.status})")
    resp = request(page_url, {
        **fields, "selection": "custom", "permalink_structure": structure,
        "category_base": "", "tag_base": "", "submit": "Save Changes",
    }, cookies=session.cookies, timeout=timeout)
    saved = _form_fields(resp.body, "permalink_structure").get("permalink_structure")
    if resp.status != 200 or saved != structure:
        raise WordPressError(f"setting permalinks to {structure!r} on {base_url} failed: "
                             f"HTTP {resp.status}, the form now shows {saved!r}")


def render_in_chromium(url: str, timeout: float = 60) -> str:
    """The DOM a visitor's browser builds for `url`, from headless Debian chromium (--dump-dom).

    Takes the URL and a timeout in seconds. Chromium runs with a new, deleted-after profile, no background or component traffic, and a
    host resolver that resolves no name but the URL's own host, so the page can reach only the
    site under test. Returns the serialized DOM after the page's load event (scripts have run).
    Raises ChromiumError if chromium is not installed (`apt-get install chromium`), exits with
    an error or an empty DOM, or exceeds the timeout.
    """
    binary = shutil.which("chromium")
    if not binary:
        raise ChromiumError("chromium is not installed: `apt-get install chromium` "
                            "(scripts/test.sh installs it); the browser checks cannot run without it")
    host = urllib.parse.urlsplit(url).hostname or ""
    with tempfile.TemporaryDirectory(prefix="wp-chromium-") as profile:
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {host}",
                f"--user-data-dir={profile}", "--dump-dom", url]
        # Its own process group, so a timeout ends chromium's helpers (zygote, renderer) too.
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "HOME": profile}, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ChromiumError(f"chromium did not render {url} within {timeout:.0f}s") from None
    if proc.returncode != 0 or not out.strip():
        raise ChromiumError(f"chromium --dump-dom {url} exited {proc.returncode} with "
                            f"{len(out)} bytes of DOM; stderr:\n{err[-2000:]}")
    return out


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path


class _Collector(HTMLParser):
    """Hidden/text input values by name, and the text inside the first matching element."""

    def __init__(self, tag: str | None = None, attrs: dict[str, str] | None = None):
        super().__init__(convert_charrefs=True)
        self.inputs: dict[str, str] = {}
        self.tag, self.attrs = tag, attrs or {}
        self.depth = 0
        self.done = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and "name" in a:
            self.inputs.setdefault(a["name"], a.get("value", ""))
        if self.done or tag != self.tag:
            return
        if self.depth:
            self.depth += 1
        elif all(v in a.get(k, "").split() if k == "class" else a.get(k) == v for k, v in self.attrs.items()):
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth and tag == self.tag:
            self.depth -= 1
            self.done = self.depth == 0

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def _form_fields(html: str, *names: str) -> dict[str, str]:
    parser = _Collector()
    parser.feed(html)
    return {n: parser.inputs[n] for n in names if n in parser.inputs}


def _text_of(html: str, tag: str, attrs: dict[str, str]) -> str:
    parser = _Collector(tag, attrs)
    parser.feed(html)
    return " ".join("".join(parser.text).split())
