"""Invalidation latency: a logout answered by replica A, then replica B polled until it answers 401.

Each trial uses its own session (a password login through the token client, made before the
trials). B serves the handle once (200, so a cache-on B holds it), A answers the logout, and
B is asked again and again on a keep-alive connection until it answers 401. The latency is
from the moment A's answer is read to the moment B's 401 is read (`time.perf_counter_ns`),
so it includes B's last round trip: that round trip (reported) is the resolution."""

import socket
import time
import urllib.parse


def parse_response(buf: bytes):
    """(status, bytes consumed) of the first complete HTTP/1.1 answer in `buf`, else None.

    Bodies are delimited by Content-Length or chunked transfer encoding; 1xx, 204 and 304
    answers have none."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if status in (204, 304) or 100 <= status < 200:
        return status, start
    if "chunked" in headers.get("transfer-encoding", "").lower():
        pos = start
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(buf[pos:line_end].split(b";", 1)[0], 16)
            pos = line_end + 2 + size + 2
            if pos > len(buf):
                return None
            if size == 0:
                return status, pos
    length = int(headers.get("content-length", "0"))
    if len(buf) < start + length:
        return None
    return status, start + length


class KeepAlive:
    """One keep-alive HTTP/1.1 connection to a 127.0.0.1 server; requests are pre-formatted bytes."""

    def __init__(self, url: str, timeout: float = 10.0):
        parts = urllib.parse.urlsplit(url)
        self.address = (parts.hostname, parts.port or 80)
        self.host = parts.netloc
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(self.address, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def get(self, path: str, headers: dict) -> bytes:
        """A GET request for this connection, as bytes."""
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}"] + [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send(self, request: bytes) -> int:
        """Sends `request` and reads its answer; returns the status. Reconnects once when the
        server had closed the connection."""
        for attempt in range(2):
            if self.sock is None:
                self._connect()
            try:
                self.sock.sendall(request)
                while True:
                    parsed = parse_response(self.buf)
                    if parsed is not None:
                        status, used = parsed
                        self.buf = self.buf[used:]
                        return status
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("server closed the connection")
                    self.buf += chunk
            except (ConnectionError, OSError):
                self.close()
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")


def trial(a: KeepAlive, b: KeepAlive, token: str, give_up_ns: int) -> dict:
    """One logout on A and B polled until 401; see the module's doc."""
    auth = {"Authorization": f"Bearer {token}", "client-type": "token"}
    userinfo = b.get("/userinfo", auth)
    status = b.send(userinfo)
    if status != 200:
        raise RuntimeError(f"B answered {status} before the logout")
    status = a.send(a.get("/logout", auth))
    logged_out = time.perf_counter_ns()
    if status not in (200, 204):
        raise RuntimeError(f"A answered {status} to the logout")
    polls = 0
    while True:
        sent = time.perf_counter_ns()
        status = b.send(userinfo)
        answered = time.perf_counter_ns()
        polls += 1
        if status == 401:
            return {"latency_ns": answered - logged_out, "polls": polls, "rtt_ns": answered - sent}
        if status != 200:
            raise RuntimeError(f"B answered {status} after the logout")
        if answered - logged_out > give_up_ns:
            return {"latency_ns": None, "polls": polls, "rtt_ns": answered - sent}


def run_trials(a_url: str, b_url: str, tokens, give_up_s: float = 2.0) -> list:
    """One trial per token, one after another; failed trials are recorded with their error."""
    a, b = KeepAlive(a_url), KeepAlive(b_url)
    out = []
    try:
        for token in tokens:
            try:
                out.append(trial(a, b, token, int(give_up_s * 1e9)))
            except (RuntimeError, OSError) as err:
                out.append({"error": f"{type(err).__name__}: {err}"})
    finally:
        a.close()
        b.close()
    return out


def percentile(values, p: float):
    """Nearest-rank percentile (p in 0..100) of a non-empty list; None for an empty one."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summarize(trials) -> dict:
    """p50/p99/max of the latencies (us), and how many trials failed, gave up, or were refused
    on B's first poll after the logout."""
    done = [t for t in trials if t.get("latency_ns") is not None]
    latencies = [t["latency_ns"] / 1000 for t in done]
    rtts = [t["rtt_ns"] / 1000 for t in done]
    return {
        "trials": len(trials),
        "measured": len(done),
        "errors": sum(1 for t in trials if "error" in t),
        "first_error": next((t["error"] for t in trials if "error" in t), None),
        "gave_up": sum(1 for t in trials if "error" not in t and t.get("latency_ns") is None),
        "first_poll": sum(1 for t in done if t["polls"] == 1),
        "stale_answers": sum(t["polls"] - (t.get("latency_ns") is not None) for t in trials if "polls" in t),
        "p50_us": percentile(latencies, 50),
        "p99_us": percentile(latencies, 99),
        "max_us": max(latencies) if latencies else None,
        "rtt_p50_us": percentile(rtts, 50),
    }
