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

import counters
import httpc
import invalidation
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


def issue17_results(cache_rps=45000, cache_p99=3000, redis_per_request=0.01, invalidation_p99_us=800.0, metrics=True):
    """A run with both floors, the cache on and off, both peers, trials and cache counters."""
    out = results(cache_rps, cache_p99, 30_000)
    out["config"]["n"] = 10_000
    commands = {"get": int(cache_rps * 10 * redis_per_request)}
    for name in ("bearer", "cookie"):
        out["load"][name] = [{**run(cache_rps, cache_p99, 30_000), "redis_commands": commands}] * 2
    off = {**run(25000, 6000, 24_000), "redis_commands": {"get": 250000, "pexpire": 1000}}
    out["load"]["bearer_off"] = [off] * 2
    out["load"]["cookie_off"] = [off] * 2
    out["load"]["noio"] = [run(60000, 2000, 8_000)] * 2
    out["load"]["oidc"] = [{**run(9000, 20000, 60_000), "redis_commands": {"get": 180000}}] * 2
    out["sessions"]["noio"] = {"count": 10}
    out["sessions"]["oidc"] = {"count": 10, "wanted": 10, "seconds": 2.0, "failed": 0}
    out["invalidation"] = {
        "cache_on": {"trials": 1000, "measured": 1000, "errors": 0, "first_error": None, "gave_up": 0,
                     "first_poll": 990, "stale_answers": 12, "p50_us": 300.0, "p99_us": invalidation_p99_us,
                     "max_us": 2500.0, "rtt_p50_us": 120.0},
    }
    out["cache_metrics"] = {
        "cache_on": {"session_cache_hits_total": 999.0, "session_cache_misses_total": 1.0,
                     "session_cache_invalidations_total": 0.0, "session_cache_flushes_total": 0.0} if metrics else {},
        "cache_off": {},
    }
    return out


class CacheReportTest(unittest.TestCase):
    def test_the_cache_targets_compare_cache_on_with_both_floors_and_mod_auth_openidc(self):
        text = report.render(issue17_results())
        self.assertIn("| cache on, Bearer: requests/s vs Redis-GET floor | >= 1.5x | 1.50x | yes |", text)
        self.assertIn("| cache on, Bearer: requests/s vs no-I/O floor | >= 0.7x | 0.75x | yes |", text)
        self.assertIn("| cache on, cookie: requests/s vs mod_auth_openidc | >= 2x | 5.00x | yes |", text)
        self.assertIn("| cache on, cookie: p99 vs mod_auth_openidc p99 | <= 0.5x | 0.15x | yes |", text)
        self.assertIn("| cache on, Bearer: Redis commands per `/userinfo` | <= 0.05 | 0.010 | yes |", text)
        self.assertIn("| invalidation p99 (logout on A -> 401 on cache-on B), 1000 trials | <= 5 ms | 0.800 ms | yes |", text)
        self.assertIn("| cache on: peak RSS under load, 10,000 sessions | <= 40 MB | 29.3 MB | yes |", text)
        self.assertIn("| (context) Bearer: cache on vs cache off requests/s | | 1.80x | |", text)

    def test_missed_cache_targets_are_marked_no(self):
        text = report.render(issue17_results(cache_rps=30000, redis_per_request=1.0, invalidation_p99_us=7000.0))
        self.assertIn("| cache on, Bearer: requests/s vs Redis-GET floor | >= 1.5x | 1.00x | **no** |", text)
        self.assertIn("| cache on, Bearer: Redis commands per `/userinfo` | <= 0.05 | 1.000 | **no** |", text)
        self.assertIn("| <= 5 ms | 7.000 ms | **no** |", text)

    def test_the_earlier_targets_are_those_of_the_cache_off_instance(self):
        text = report.render(issue17_results())
        self.assertIn("## Earlier targets (cache off)", text)
        self.assertIn("| `/userinfo` Bearer requests/s vs floor | >= 0.8x | 0.83x | yes |", text)
        self.assertIn("| auth0-client peak RSS under load | <= 30 MB | 23.4 MB | yes |", text)

    def test_redis_commands_are_given_per_request_and_by_command(self):
        text = report.render(issue17_results())
        self.assertIn("| auth0-client, cache off, `GET /userinfo` (Bearer) | 1.004 | `get` 1.000, `pexpire` 0.004 |", text)

    def test_cache_counters_give_the_hit_ratio_or_say_the_build_has_no_cache(self):
        self.assertIn("| cache on | 999 | 1 | 0.9990 | 0 | 0 |", report.render(issue17_results()))
        self.assertIn("this build has no session cache", report.render(issue17_results(metrics=False)))

    def test_a_run_from_before_the_cache_has_no_cache_targets(self):
        self.assertNotIn("issue 17", report.render(results(28000, 6000, 20_000)))


class CountersTest(unittest.TestCase):
    STATS = (
        "# Commandstats\r\ncmdstat_get:calls=120,usec=300,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n"
        "cmdstat_info:calls=7,usec=90,usec_per_call=12.86,rejected_calls=0,failed_calls=0\r\n"
        "cmdstat_client|tracking:calls=2,usec=4,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n"
    )

    def test_commandstats_give_calls_per_command(self):
        self.assertEqual(counters.parse_commandstats(self.STATS.encode()), {"get": 120, "info": 7, "client|tracking": 2})

    def test_commands_between_readings_leave_out_the_reading_itself_and_unmoved_commands(self):
        before = {"get": 100, "info": 6, "client|tracking": 2}
        after = {"get": 120, "info": 7, "client|tracking": 2, "set": 1}
        self.assertEqual(counters.commands_between(before, after), {"get": 20, "set": 1})

    def test_per_request_orders_commands_by_share(self):
        per = counters.per_request({"set": 10, "get": 30}, 40)
        self.assertEqual(per["total"], 1.0)
        self.assertEqual(list(per["by_command"].items()), [("get", 0.75), ("set", 0.25)])

    def test_prometheus_counters_are_summed_over_labels_and_absent_ones_left_out(self):
        text = (
            "# HELP session_cache_hits_total hits\n# TYPE session_cache_hits_total counter\n"
            'session_cache_hits_total{client="token"} 5\nsession_cache_hits_total{client="website"} 2\n'
            "session_cache_misses_total 3\nhttp_requests_total 99\n"
        )
        self.assertEqual(counters.parse_prometheus(text), {"session_cache_hits_total": 7.0, "session_cache_misses_total": 3.0})
        self.assertEqual(counters.metrics_between({"session_cache_hits_total": 2.0}, {"session_cache_hits_total": 7.0}),
                         {"session_cache_hits_total": 5.0})


class ScriptedConnection:
    """Answers the statuses it is given, one per request (for `invalidation.trial`)."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.sent = []

    def get(self, path, headers):
        return f"GET {path}".encode()

    def send(self, request):
        self.sent.append(request)
        return self.statuses.pop(0)


class InvalidationTest(unittest.TestCase):
    def test_answers_are_delimited_by_length_chunks_or_status(self):
        parse = invalidation.parse_response
        head = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n"
        self.assertEqual(parse(head + b"{}HTTP/1.1"), (401, len(head) + 2))
        self.assertEqual(parse(b"HTTP/1.1 204 No Content\r\n\r\n"), (204, 27))
        self.assertEqual(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"), (200, 59))
        self.assertIsNone(parse(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}"))
        self.assertIsNone(parse(b"HTTP/1.1 200 OK\r\n"))

    def test_a_trial_polls_b_until_401_and_counts_the_stale_answers(self):
        a, b = ScriptedConnection([204]), ScriptedConnection([200, 200, 200, 401])
        result = invalidation.trial(a, b, "token", give_up_ns=10**10)
        self.assertEqual(result["polls"], 3)
        self.assertGreater(result["latency_ns"], 0)
        self.assertEqual(a.sent, [b"GET /logout"])

    def test_a_trial_needs_b_to_serve_the_handle_before_the_logout(self):
        with self.assertRaises(RuntimeError):
            invalidation.trial(ScriptedConnection([204]), ScriptedConnection([401]), "token", give_up_ns=10**10)

    def test_nearest_rank_percentiles(self):
        values = list(range(1000, 0, -1))
        self.assertEqual(invalidation.percentile(values, 50), 500)
        self.assertEqual(invalidation.percentile(values, 99), 990)
        self.assertEqual(invalidation.percentile([7], 99), 7)
        self.assertIsNone(invalidation.percentile([], 50))

    def test_the_summary_counts_first_polls_stale_answers_give_ups_and_errors(self):
        trials = [
            {"latency_ns": 100_000, "polls": 1, "rtt_ns": 50_000},
            {"latency_ns": 300_000, "polls": 3, "rtt_ns": 70_000},
            {"latency_ns": None, "polls": 5, "rtt_ns": 60_000},
            {"error": "RuntimeError: B answered 503 after the logout"},
        ]
        s = invalidation.summarize(trials)
        self.assertEqual((s["trials"], s["measured"], s["first_poll"], s["gave_up"], s["errors"]), (4, 2, 1, 1, 1))
        self.assertEqual(s["stale_answers"], 2 + 5)
        self.assertEqual((s["p50_us"], s["max_us"], s["rtt_p50_us"]), (100.0, 300.0, 50.0))
        self.assertIn("503", s["first_error"])


class TenantFileTest(unittest.TestCase):
    def test_the_oidc_peer_gets_its_own_client_with_exactly_its_redirect_uri(self):
        tenant = logins.tenant_file(2, "http://127.0.0.1:4000/redirect_uri")
        clients = {c["clientId"]: c for c in tenant["clients"]}
        self.assertEqual(set(clients), {"dev-website-client", "dev-token-client", "dev-management-client", "bench-oidc-peer"})
        self.assertEqual(clients["bench-oidc-peer"]["callbacks"], ["http://127.0.0.1:4000/redirect_uri"])
        self.assertEqual(clients["bench-oidc-peer"]["tokenEndpointAuthMethod"], "client_secret_basic")
        self.assertEqual(len(tenant["users"]), 2)

    def test_without_the_oidc_peer_the_built_in_clients_stay(self):
        self.assertNotIn("clients", logins.tenant_file(2))


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
