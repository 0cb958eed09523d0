"""Behaviour tests of the benchmark's helpers (no timing is asserted).

    python3 -m unittest discover -s bench/lib -p 'test_*.py'
"""

import hashlib
import os
import shutil
import socket
import subprocess
import time
import unittest

import httpc
import logins
import report
from resp import Redis


def run(rps, p99_us, rss_kb=10_000):
    return {"requests": int(rps * 10), "duration_us": 10_000_000, "errors": 0, "p50_us": p99_us // 3,
            "p99_us": p99_us, "peak_rss_kb": rss_kb, "hwm_kb": rss_kb, "rps": rps}


def results(service_rps, service_p99, service_rss_kb):
    return {
        "config": {"threads": 2, "connections": 64, "duration": 10.0, "rounds": 2, "users": 10,
                   "login_connections": 16, "login_seconds": 10.0, "facts": {}},
        "started": 0,
        "sessions": {"bearer": {"count": 8, "failed": 0}, "cookie": {"count": 2, "failed": 0},
                     "floor": {"count": 10, "copied": 10, "record_bytes": 3000},
                     "peer": {"count": 4, "wanted": 10, "seconds": 5.0, "failed": 0}},
        "load": {"floor": [run(30000, 5000)] * 2,
                 "bearer": [run(service_rps, service_p99, service_rss_kb)] * 2,
                 "cookie": [run(service_rps, service_p99, service_rss_kb)] * 2,
                 "peer": [run(1500, 90000, 200_000)] * 2},
    }


class ReportTest(unittest.TestCase):
    def test_targets_met_are_marked_yes(self):
        text = report.render(results(28000, 6000, 20_000))
        self.assertIn("| `/userinfo` Bearer requests/s vs floor | >= 0.8x | 0.93x | yes |", text)
        self.assertNotIn("**no**", text)

    def test_a_missed_target_is_marked_no(self):
        text = report.render(results(20000, 6000, 40_000))
        self.assertIn("| `/userinfo` Bearer requests/s vs floor | >= 0.8x | 0.67x | **no** |", text)
        self.assertIn("| auth0-client peak RSS under load | <= 30 MB | 39.1 MB | **no** |", text)

    def test_fewer_peer_sessions_than_asked_are_said(self):
        self.assertIn("**Fewer than N**", report.render(results(28000, 6000, 20_000)))


class ParsingTest(unittest.TestCase):
    def test_the_login_form_yields_its_action_and_hidden_fields(self):
        page = logins._LoginForm()
        page.feed('<form method="post" action="/u/login"><input type="hidden" name="state" value="t1">'
                  '<input type="text" name="username"></form><form action="/other"></form>')
        self.assertEqual(page.action, "/u/login")
        self.assertEqual(page.hidden, {"state": "t1"})

    def test_set_cookie_headers_give_names_and_values_without_attributes(self):
        resp = httpc.Response(200, [("Set-Cookie", "sid=abc; Path=/; HttpOnly"), ("set-cookie", "x=1")], b"")
        self.assertEqual(resp.cookies(), {"sid": "abc", "x": "1"})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipIf(shutil.which("redis-server") is None and os.environ.get("CI") != "true", "redis-server not installed")
class FloorSeedTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.server = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                self.redis = Redis("127.0.0.1", self.port)
                break
            except OSError:
                time.sleep(0.05)

    def tearDown(self):
        self.redis.close()
        self.server.terminate()
        self.server.wait(10)

    def test_floor_keys_copy_the_service_record_of_each_token(self):
        digest = hashlib.sha256(b"token-1").hexdigest()
        self.redis.command("SET", f"auth0-client::session:{{{digest}}}", b"record" * 100)
        copied, size = logins.seed_floor(self.port, ["token-1", "token-2"])
        self.assertEqual(copied, 1)
        self.assertEqual(size, 600)
        self.assertEqual(self.redis.command("GET", f"bench-floor:session:{digest}"), b"record" * 100)
        other = hashlib.sha256(b"token-2").hexdigest()
        self.assertEqual(len(self.redis.command("GET", f"bench-floor:session:{other}")), 2048)


if __name__ == "__main__":
    unittest.main()
