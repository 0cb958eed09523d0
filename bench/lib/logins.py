"""Sessions for the benchmark: real logins into auth0-client and into the peer, and the floor's keys."""

import concurrent.futures
import hashlib
import html.parser
import threading
import time
import urllib.parse

import httpc
from resp import Redis

PASSWORD = "BenchPassword1!"
CONNECTION = "Username-Password-Authentication"


def user_email(i: int) -> str:
    return f"bench-user-{i:05d}@example.com"


OIDC_CLIENT_ID = "bench-oidc-peer"
OIDC_CLIENT_SECRET = "bench-oidc-secret"


def tenant_clients(oidc_redirect: str) -> list:
    """The devtenant's built-in clients (a tenant file's `clients` replaces them all), plus the
    mod_auth_openidc peer's own client with exactly its redirect URI as callback."""
    local = ["http://127.0.0.1:*", "http://localhost:*"]
    return [
        {"name": "Website", "clientId": "dev-website-client", "clientSecret": "dev-website-secret",
         "callbacks": local, "allowedLogoutUrls": local},
        {"name": "Token app", "clientId": "dev-token-client", "clientSecret": "dev-token-secret",
         "callbacks": local, "allowedLogoutUrls": local},
        {"name": "Management (machine to machine)", "clientId": "dev-management-client",
         "clientSecret": "dev-management-secret"},
        {"name": "mod_auth_openidc peer", "clientId": OIDC_CLIENT_ID, "clientSecret": OIDC_CLIENT_SECRET,
         "grantTypes": ["authorization_code"], "callbacks": [oidc_redirect],
         "tokenEndpointAuthMethod": "client_secret_basic"},
    ]


def tenant_file(users: int, oidc_redirect: str | None = None) -> dict:
    """A devtenant description: the built-in clients and connections, `users` bench users, and
    with `oidc_redirect` the mod_auth_openidc peer's client."""
    tenant = {
        "users": [
            {
                "email": user_email(i),
                "password": PASSWORD,
                "connection": CONNECTION,
                "userId": f"auth0|bench{i:019d}",
                "username": f"bench{i:05d}",
                "name": f"Bench User {i}",
                "nickname": f"bench{i}",
                "emailVerified": True,
                "appMetadata": {"groups": ["bench", "viewer"]},
                "userMetadata": {"locale": "en"},
            }
            for i in range(users)
        ]
    }
    if oidc_redirect:
        tenant["clients"] = tenant_clients(oidc_redirect)
    return tenant


def _parallel(count: int, concurrency: int, work, deadline: float | None = None):
    """Runs work(i) for i in range(count) on `concurrency` threads; stops starting new ones at `deadline`.

    Returns (results that are not None, failures, first failure message)."""
    results, failures, first_error = [], 0, None
    lock = threading.Lock()
    next_index = iter(range(count))

    def worker():
        nonlocal failures, first_error
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            try:
                value = work(i)
                with lock:
                    results.append(value)
            except Exception as err:  # noqa: BLE001 - counted and reported
                with lock:
                    failures += 1
                    first_error = first_error or f"{type(err).__name__}: {err}"

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(worker) for _ in range(concurrency)]:
            f.result()
    return results, failures, first_error


def service_logins(url: str, count: int, users: int, client_type: str, concurrency: int = 8):
    """`count` password logins at auth0-client's /oauth/token with `client_type`.

    The token client answers tokens (the handle is `accessToken`); the website client
    answers the `sid` cookie. Returns (handles, failures, first failure)."""

    def login(i: int) -> str:
        body, headers = httpc.form(
            {"grant_type": "password", "username": user_email(i % users), "password": PASSWORD}
        )
        headers["client-type"] = client_type
        resp = httpc.request("POST", f"{url}/oauth/token", headers, body)
        if resp.status != 200:
            raise RuntimeError(f"/oauth/token answered {resp.status}: {resp.body[:200]!r}")
        sid = resp.cookies().get("sid")
        if sid:
            return sid
        return resp.json()["accessToken"]

    return _parallel(count, concurrency, login)


class _LoginForm(html.parser.HTMLParser):
    """The first form of a page: its action and its hidden fields."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.hidden = {}
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form and attrs.get("type") == "hidden":
            self.hidden[attrs.get("name", "")] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def _cookie_header(jar: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


EXPRESS_SESSION_COOKIE = "appSession"
OIDC_SESSION_COOKIE = "mod_auth_openidc_session"


def peer_login(peer: str, user: int, session_cookie: str = EXPRESS_SESSION_COOKIE) -> str:
    """A peer's own login flow, as a browser does it; returns its session cookie pair.

    GET /login (express: its login route; httpd: any protected page) -> 302 to the tenant's
    /authorize (+ the peer's state/nonce cookie) -> the login form -> POST it -> 302 back to
    the peer's callback (?code&state) -> the peer exchanges the code, checks the id_token and
    stores the session in Redis -> 302 with the session cookie."""
    jar = {}
    resp = httpc.request("GET", f"{peer}/login", {"accept": "text/html"})
    if resp.status != 302:
        raise RuntimeError(f"peer /login answered {resp.status}")
    jar.update(resp.cookies())
    authorize = resp.header("location")
    resp = httpc.request("GET", authorize)
    if resp.status != 200:
        raise RuntimeError(f"tenant /authorize answered {resp.status}: {resp.body[:200]!r}")
    page = _LoginForm()
    page.feed(resp.body.decode())
    if page.action is None:
        raise RuntimeError("no login form on the tenant's page")
    action = urllib.parse.urljoin(authorize, page.action)
    body, headers = httpc.form({**page.hidden, "username": user_email(user), "password": PASSWORD})
    resp = httpc.request("POST", action, headers, body)
    if resp.status not in (302, 303):
        raise RuntimeError(f"tenant login form answered {resp.status}: {resp.body[:200]!r}")
    callback = resp.header("location")
    if not callback.startswith(peer):
        raise RuntimeError(f"tenant redirected to {callback.split('?')[0]}, not the peer")
    resp = httpc.request("GET", callback, {"cookie": _cookie_header(jar)})
    if resp.status not in (302, 303):
        raise RuntimeError(f"peer /callback answered {resp.status}: {resp.body[:300]!r}")
    session = resp.cookies().get(session_cookie)
    if not session:
        raise RuntimeError(f"peer callback set no {session_cookie} cookie")
    return f"{session_cookie}={session}"


def peer_logins(peer: str, count: int, users: int, seconds: float, concurrency: int = 8,
                session_cookie: str = EXPRESS_SESSION_COOKIE):
    """Up to `count` peer logins, for at most `seconds`. Returns (cookies, failures, first failure)."""
    deadline = time.monotonic() + seconds
    return _parallel(count, concurrency, lambda i: peer_login(peer, i % users, session_cookie), deadline)


def check_handles(url: str, path: str, header_sets, expect_sub: bool = True) -> None:
    """A few handles answer 200 with a user (`sub`) before any load is measured."""
    for headers in header_sets[:3]:
        resp = httpc.request("GET", f"{url}{path}", headers)
        if resp.status != 200:
            raise RuntimeError(f"GET {url}{path} answered {resp.status}: {resp.body[:300]!r}")
        if expect_sub and not resp.json().get("sub"):
            raise RuntimeError(f"GET {url}{path} answered a user without sub")


def seed_floor(redis_port: int, handles, prefix: str = "bench-floor:session:") -> int:
    """The floor's keys for `handles`: a copy of auth0-client's session record when it can be found
    (same size, same GET cost), else a 2 KB value. Returns (records copied, size of a record in bytes)."""
    redis = Redis("127.0.0.1", redis_port)
    try:
        sample = b"x" * 2048
        service_keys = [k for k in redis.scan_keys("*session*") if not k.startswith(prefix)]
        by_hash = {}
        for key in service_keys:
            digest = key.rstrip("}").rsplit("{", 1)[-1].rsplit(":", 1)[-1]
            by_hash[digest] = key
        commands = []
        for handle in handles:
            digest = hashlib.sha256(handle.encode()).hexdigest()
            source = by_hash.get(digest)
            if source is not None:
                commands.append(("COPY", source, prefix + digest, "REPLACE"))
            else:
                commands.append(("SET", prefix + digest, sample))
        redis.pipeline(commands)
        copied = sum(1 for c in commands if c[0] == "COPY")
        size = len(sample)
        if copied:
            value = redis.command("GET", prefix + hashlib.sha256(handles[0].encode()).hexdigest())
            size = len(value or b"")
        return copied, size
    finally:
        redis.close()
