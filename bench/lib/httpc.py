"""Keep-alive HTTP/1.1 calls to 127.0.0.1 servers (stdlib only), one connection per thread and host."""

import http.client
import json
import threading
import urllib.parse

_local = threading.local()


class Response:
    """Status, headers (lower-case names, repeated ones kept) and body of one answer."""

    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str):
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def cookies(self) -> dict:
        """`Set-Cookie` name -> value (attributes dropped)."""
        out = {}
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                name, _, val = pair.partition("=")
                out[name.strip()] = val.strip()
        return out

    def json(self):
        return json.loads(self.body)


def _connection(netloc: str) -> http.client.HTTPConnection:
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    conn = pool.get(netloc)
    if conn is None:
        conn = pool[netloc] = http.client.HTTPConnection(netloc, timeout=30)
    return conn


def request(method: str, url: str, headers=None, body=None) -> Response:
    """One request (redirects are not followed); retried once on a closed keep-alive connection."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = {"content-type": "application/json", **(headers or {})}
    elif isinstance(body, str):
        body = body.encode()
    for attempt in range(2):
        conn = _connection(parts.netloc)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.getheaders(), data)
        except (http.client.HTTPException, ConnectionError, OSError):
            conn.close()
            _local.pool.pop(parts.netloc, None)
            if attempt == 1:
                raise
    raise RuntimeError("unreachable")


def form(fields: dict) -> tuple:
    """A urlencoded body and its content-type header."""
    return urllib.parse.urlencode(fields), {"content-type": "application/x-www-form-urlencoded"}
