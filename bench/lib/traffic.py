"""Steady mixed client load for the fault scenarios: /userinfo, logins, refreshes, logouts,
abandoned /authorize starts. Every answer is recorded (time, kind, status, latency) and never
retried: a failure the clients see is counted as one."""

import http.client
import json
import random
import threading
import time
import urllib.parse

from logins import PASSWORD, user_email

STATUS_ERROR = 0  # connection error or timeout: no HTTP answer


class Client:
    """One keep-alive HTTP/1.1 connection, reopened after an error; no retries."""

    def __init__(self, base: str, timeout: float = 15.0):
        self.netloc = urllib.parse.urlsplit(base).netloc
        self.timeout = timeout
        self.conn = None
        self.last = ""  # the last answer's body start, or the error

    def request(self, method: str, path: str, headers=None, body=None):
        """(status, headers dict, body); status 0 when no answer came."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.netloc, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.will_close:
                self.close()
            self.last = data[:160].decode(errors="replace")
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        except (http.client.HTTPException, OSError) as err:
            self.close()
            self.last = f"{type(err).__name__}: {err}"
            return STATUS_ERROR, {"error": f"{type(err).__name__}: {err}"}, b""

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Session:
    """One session the clients know: its handle (access token) and refresh token."""

    __slots__ = ("handle", "refresh", "written", "user", "busy")

    def __init__(self, handle, refresh, user):
        self.handle = handle
        self.refresh = refresh
        self.written = time.time()
        self.user = user
        self.busy = False


class Pool:
    """The sessions the clients hold."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sessions = []
        self.next_user = 0

    def add(self, session):
        with self.lock:
            self.sessions.append(session)

    def pick(self):
        with self.lock:
            return random.choice(self.sessions) if self.sessions else None

    def take(self):
        """A session no refresh or logout is working on, marked busy."""
        with self.lock:
            free = [s for s in self.sessions if not s.busy]
            if not free:
                return None
            session = random.choice(free)
            session.busy = True
            return session

    def remove(self, session):
        with self.lock:
            if session in self.sessions:
                self.sessions.remove(session)

    def snapshot(self):
        with self.lock:
            return list(self.sessions)

    def user(self, users: int) -> int:
        with self.lock:
            self.next_user = (self.next_user + 1) % users
            return self.next_user


def login(client: Client, users: int, pool: Pool):
    """One password login (token client); returns (status, latency, session or None)."""
    user = pool.user(users)
    body = urllib.parse.urlencode({"grant_type": "password", "username": user_email(user), "password": PASSWORD})
    headers = {"content-type": "application/x-www-form-urlencoded", "client-type": "token"}
    started = time.monotonic()
    status, _, data = client.request("POST", "/oauth/token", headers, body)
    latency = time.monotonic() - started
    if status != 200:
        return status, latency, None
    answer = json.loads(data)
    return status, latency, Session(answer["accessToken"], answer.get("refreshToken"), user)


def userinfo(client: Client, handle: str):
    started = time.monotonic()
    status, _, _ = client.request("GET", "/userinfo", {"authorization": f"Bearer {handle}"})
    return status, time.monotonic() - started


class Load:
    """Background load on `base` until stopped; records every answer in `events`."""

    def __init__(self, base: str, pool: Pool, users: int, rps: float = 150, userinfo_threads: int = 3,
                 login_every: float = 0.5, refresh_every: float = 0.5, logout_every: float = 0,
                 authorize_every: float = 0, min_sessions: int = 20):
        self.base = base
        self.pool = pool
        self.users = users
        self.rps = rps
        self.userinfo_threads = userinfo_threads
        self.every = {"login": login_every, "refresh": refresh_every, "logout": logout_every,
                      "authorize": authorize_every}
        self.min_sessions = min_sessions
        self.events = []  # (time.time(), kind, status, latency s)
        self.unauthorized = set()  # handles that got a 401 from /userinfo
        self.errors = {}  # first error text per kind
        self.ended = set()  # handles logged out (a /userinfo racing the logout may see 401)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = []

    def record(self, kind, status, latency, handle=None, client=None):
        with self.lock:
            if status == 401 and handle in self.ended:
                kind = f"{kind} after logout"  # the client's own race, not a lost session
            elif status == 401 and handle is not None:
                self.unauthorized.add(handle)
            self.events.append((time.time(), kind, status, latency))
            if client is not None and not 200 <= status < 400 and kind not in self.errors:
                self.errors[kind] = f"{status} {client.last}"


    def start(self):
        workers = [self._userinfo_worker] * self.userinfo_threads
        workers += [self._periodic(kind) for kind, every in self.every.items() if every > 0]
        for work in workers:
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _userinfo_worker(self):
        client = Client(self.base)
        interval = self.userinfo_threads / self.rps
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            session = self.pool.pick()
            if session is None:
                self.stop_event.wait(0.05)
                continue
            handle = session.handle
            status, latency = userinfo(client, handle)
            self.record("userinfo", status, latency, handle, client)
            next_at = max(next_at + interval, time.monotonic() - 1)
            self.stop_event.wait(max(0.0, next_at - time.monotonic()))
        client.close()

    def _periodic(self, kind):
        step = getattr(self, f"_{kind}")

        def work():
            client = Client(self.base)
            while not self.stop_event.is_set():
                started = time.monotonic()
                step(client)
                self.stop_event.wait(max(0.0, self.every[kind] - (time.monotonic() - started)))
            client.close()

        return work

    def _login(self, client):
        status, latency, session = login(client, self.users, self.pool)
        self.record("login", status, latency, client=client)
        if session is not None:
            self.pool.add(session)

    def _refresh(self, client):
        session = self.pool.take()
        if session is None or not session.refresh:
            if session is not None:
                session.busy = False
            return
        body = json.dumps({"refresh_token": session.refresh})
        headers = {"authorization": f"Bearer {session.handle}", "content-type": "application/json"}
        started = time.monotonic()
        status, _, data = client.request("POST", "/oauth/refreshtoken", headers, body)
        latency = time.monotonic() - started
        self.record("refresh", status, latency, session.handle, client)
        if status == 200:
            answer = json.loads(data)
            with self.pool.lock:
                session.handle = answer["accessToken"]
                session.refresh = answer.get("refreshToken") or session.refresh
                session.written = time.time()
        session.busy = False

    def _logout(self, client):
        if len(self.pool.sessions) <= self.min_sessions:
            return
        session = self.pool.take()
        if session is None:
            return
        with self.lock:
            self.ended.add(session.handle)
        started = time.monotonic()
        status, _, _ = client.request("GET", "/logout", {"authorization": f"Bearer {session.handle}"})
        self.record("logout", status, time.monotonic() - started, client=client)
        if status == 204:
            self.pool.remove(session)
        session.busy = False

    def _authorize(self, client):
        started = time.monotonic()
        status, _, _ = client.request("GET", "/authorize", {"client-type": "website"})
        self.record("authorize", status, time.monotonic() - started, client=client)


def window(events, start=None, end=None, kinds=None):
    """The events between `start` and `end` (epoch seconds) of the given kinds."""
    return [e for e in events if (start is None or e[0] >= start) and (end is None or e[0] <= end)
            and (kinds is None or e[1] in kinds)]


def percentile(values, share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(share * len(ordered) + 0.5)) - 1))
    return ordered[index]


def statuses(events) -> dict:
    out = {}
    for e in events:
        out[e[2]] = out.get(e[2], 0) + 1
    return out
