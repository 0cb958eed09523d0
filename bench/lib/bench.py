"""The benchmark's steps after run.sh has started the processes (stdlib only).

    python3 bench.py tenant-file USERS OUT [OIDC_REDIRECT_URI]
                                                 the devtenant's users (and the httpd peer's client)
    python3 bench.py run                         sessions, load, invalidation, logins, Management token; report
    python3 bench.py report RESULTS_JSON         the report of a finished run again

`run` reads the topology from BENCH_* environment variables (see run.sh) and writes
<BENCH_WORK>/results.json, then the markdown report to BENCH_REPORT (and stdout)."""

import hashlib
import json
import os
import sys
import time
import urllib.parse

import counters
import httpc
import invalidation
import load
import logins
import report
from resp import Redis


def env(name: str, default=None):
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"bench.py: {name} is not set")
    return value


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def write_handles(path: str, lines) -> str:
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
    return path


def sessions(cfg: dict) -> dict:
    """N sessions in auth0-client (bearer + cookie), both floors' keys for them, each peer's own logins."""
    n, users, work = cfg["n"], cfg["users"], cfg["work"]
    cookies = max(1, round(n * cfg["cookie_share"]))
    bearers = max(1, n - cookies)
    out = {}

    log(f"auth0-client: {bearers} password logins with the token client (bearer tokens)")
    started = time.monotonic()
    tokens, failed, error = logins.service_logins(cfg["service"], bearers, users, "token", cfg["login_concurrency"])
    out["bearer"] = {"count": len(tokens), "failed": failed, "error": error, "seconds": time.monotonic() - started}
    log(f"  {len(tokens)} tokens in {out['bearer']['seconds']:.1f} s, {failed} failed {error or ''}")

    log(f"auth0-client: {cookies} password logins with the website client (sid cookies)")
    started = time.monotonic()
    sids, failed, error = logins.service_logins(cfg["service"], cookies, users, "website", cfg["login_concurrency"])
    out["cookie"] = {"count": len(sids), "failed": failed, "error": error, "seconds": time.monotonic() - started}
    log(f"  {len(sids)} cookies in {out['cookie']['seconds']:.1f} s, {failed} failed {error or ''}")
    if not tokens or not sids:
        raise SystemExit("bench.py: auth0-client logins failed; see the service log")

    bearer_lines = [f"Authorization: Bearer {t}\tclient-type: token" for t in tokens]
    cookie_lines = [f"Cookie: sid={s}\tclient-type: website" for s in sids]
    cfg["targets"]["bearer"]["handles"] = write_handles(f"{work}/bearer.handles", bearer_lines)
    cfg["targets"]["cookie"]["handles"] = write_handles(f"{work}/cookie.handles", cookie_lines)
    logins.check_handles(cfg["service"], "/userinfo", [dict([l.split(": ", 1) for l in x.split("\t")]) for x in bearer_lines])
    logins.check_handles(cfg["service"], "/userinfo", [dict([l.split(": ", 1) for l in x.split("\t")]) for x in cookie_lines])

    log("floor: seeding its keys for the same tokens")
    copied, size = logins.seed_floor(cfg["redis_port"], tokens + sids)
    out["floor"] = {"count": len(tokens) + len(sids), "copied": copied, "record_bytes": size}
    cfg["targets"]["floor"]["handles"] = write_handles(
        f"{work}/floor.handles", [f"Authorization: Bearer {t}" for t in tokens]
    )
    logins.check_handles(cfg["floor"], "/me", [{"Authorization": f"Bearer {tokens[0]}"}])

    log("no-I/O floor: its map of the same tokens' digests")
    digests = "\n".join(hashlib.sha256(h.encode()).hexdigest() for h in tokens + sids) + "\n"
    resp = httpc.request("PUT", f"{cfg['noio']}/-/sessions", {"content-type": "text/plain"}, digests)
    if resp.status != 200:
        raise SystemExit(f"bench.py: the no-I/O floor refused its sessions: {resp.status} {resp.body[:200]!r}")
    out["noio"] = {"count": resp.json()["sessions"]}
    cfg["targets"]["noio"]["handles"] = cfg["targets"]["floor"]["handles"]
    logins.check_handles(cfg["noio"], "/me", [{"Authorization": f"Bearer {tokens[0]}"}])

    # The cache-off instance serves the same sessions (same Redis).
    cfg["targets"]["bearer_off"]["handles"] = cfg["targets"]["bearer"]["handles"]
    cfg["targets"]["cookie_off"]["handles"] = cfg["targets"]["cookie"]["handles"]
    logins.check_handles(cfg["service_off"], "/userinfo", [dict([l.split(": ", 1) for l in x.split("\t")]) for x in bearer_lines])
    logins.check_handles(cfg["service_off"], "/userinfo", [dict([l.split(": ", 1) for l in x.split("\t")]) for x in cookie_lines])

    if "peer" in cfg["targets"]:
        budget = cfg["peer_login_seconds"]
        log(f"peer: up to {n} logins through its own flow (at most {budget:.0f} s)")
        started = time.monotonic()
        jar, failed, error = logins.peer_logins(cfg["peer"], n, users, budget, cfg["login_concurrency"])
        seconds = time.monotonic() - started
        out["peer"] = {"count": len(jar), "failed": failed, "error": error, "seconds": seconds, "wanted": n}
        log(f"  {len(jar)} sessions in {seconds:.1f} s ({len(jar) / max(seconds, 1e-9):.0f} logins/s), {failed} failed {error or ''}")
        if not jar:
            raise SystemExit("bench.py: no peer login succeeded; see the peer log")
        cfg["targets"]["peer"]["handles"] = write_handles(f"{work}/peer.handles", [f"Cookie: {c}" for c in jar])
        logins.check_handles(cfg["peer"], "/me", [{"Cookie": jar[0]}])

    if "oidc" in cfg["targets"]:
        budget = cfg["peer_login_seconds"]
        log(f"mod_auth_openidc peer: up to {n} logins through its own flow (at most {budget:.0f} s)")
        started = time.monotonic()
        jar, failed, error = logins.peer_logins(
            cfg["oidc"], n, users, budget, cfg["login_concurrency"], logins.OIDC_SESSION_COOKIE
        )
        seconds = time.monotonic() - started
        out["oidc"] = {"count": len(jar), "failed": failed, "error": error, "seconds": seconds, "wanted": n}
        log(f"  {len(jar)} sessions in {seconds:.1f} s ({len(jar) / max(seconds, 1e-9):.0f} logins/s), {failed} failed {error or ''}")
        if not jar:
            raise SystemExit("bench.py: no mod_auth_openidc login succeeded; see the oidc logs")
        cfg["targets"]["oidc"]["handles"] = write_handles(f"{work}/oidc.handles", [f"Cookie: {c}" for c in jar])
        path = cfg["targets"]["oidc"]["path"]
        logins.check_handles(cfg["oidc"], path, [{"Cookie": jar[0]}], expect_sub=False)
        claims = httpc.request("GET", f"{cfg['oidc']}{path}", {"Cookie": jar[0]}).json()
        if not claims.get("userinfo", {}).get("sub"):
            raise SystemExit(f"bench.py: the mod_auth_openidc info hook answered no userinfo claims: {claims!r:.300}")
        out["oidc"]["answer"] = claims
        if "oidc_static" in cfg["targets"]:
            cfg["targets"]["oidc_static"]["handles"] = cfg["targets"]["oidc"]["handles"]
            logins.check_handles(cfg["oidc"], cfg["targets"]["oidc_static"]["path"], [{"Cookie": jar[0]}])
    return out


def warm_up(cfg: dict) -> None:
    """2 s of unrecorded load per target (caches filled, connection pools and allocators warm)."""
    log("warm-up: 2 s per target")
    for target in cfg["targets"].values():
        load.warm_up(target, cfg["threads"], cfg["connections"])


def load_rounds(cfg: dict) -> dict:
    """The targets one after another, `rounds` times, same wrk settings for all; Redis'
    `INFO commandstats` is read before and after each run (`redis_commands`: calls per command)."""
    threads, conns, seconds = cfg["threads"], cfg["connections"], cfg["duration"]
    names = list(cfg["targets"])
    runs = {name: [] for name in names}
    redis = Redis("127.0.0.1", cfg["redis_port"])
    try:
        for r in range(cfg["rounds"]):
            order = names if r % 2 == 0 else list(reversed(names))
            for name in order:
                before = counters.parse_commandstats(redis.command("INFO", "commandstats"))
                result = load.measure(cfg["targets"][name], threads, conns, seconds)
                after = counters.parse_commandstats(redis.command("INFO", "commandstats"))
                result["redis_commands"] = counters.commands_between(before, after)
                runs[name].append(result)
                per = sum(result["redis_commands"].values()) / max(result["requests"], 1)
                log(
                    f"round {r + 1}/{cfg['rounds']} {name:10s} {result['rps']:9.0f} req/s  p50 {result['p50_us'] / 1000:6.2f} ms"
                    f"  p99 {result['p99_us'] / 1000:6.2f} ms  errors {result['errors']}  peak RSS {result['peak_rss_kb'] / 1024:.1f} MB"
                    f"  Redis {per:.3f}/req"
                )
    finally:
        redis.close()
    return runs


def cache_metrics(url: str) -> dict:
    """The session cache's counters from an instance's `/-/metrics` (empty when not exported)."""
    resp = httpc.request("GET", f"{url}/-/metrics")
    if resp.status != 200:
        return {}
    return counters.parse_prometheus(resp.body)


def invalidation_trials(cfg: dict) -> dict:
    """`trials` logouts on one instance, each timed until the other answers 401 (see invalidation.py):
    B with the cache on (A: the cache-off instance), then the control, B with the cache off."""
    trials, out = cfg["trials"], {}
    for key, a, b in (("cache_on", cfg["service_off"], cfg["service"]), ("cache_off", cfg["service"], cfg["service_off"])):
        log(f"invalidation ({key.replace('_', ' ')} on B): {trials} password logins for the trials")
        tokens, failed, error = logins.service_logins(a, trials, cfg["users"], "token", cfg["login_concurrency"])
        if not tokens:
            raise SystemExit(f"bench.py: no login for the invalidation trials: {error}")
        log(f"  {len(tokens)} sessions ({failed} failed); {len(tokens)} trials one after another")
        summary = invalidation.summarize(invalidation.run_trials(a, b, tokens))
        summary["login_failures"] = failed
        out[key] = summary
        if summary["measured"]:
            log(
                f"  p50 {summary['p50_us']:.0f} us  p99 {summary['p99_us']:.0f} us  max {summary['max_us']:.0f} us;"
                f" 401 on the first poll {summary['first_poll']}/{summary['measured']}, stale 200s {summary['stale_answers']},"
                f" errors {summary['errors']} {summary['first_error'] or ''}"
            )
    return out


def login_throughput(cfg: dict) -> dict:
    """Password-realm logins end to end through auth0-client, and the same grant at the devtenant alone."""
    users, work = cfg["users"], cfg["work"]
    realm = logins.CONNECTION
    service_lines, tenant_lines = [], []
    for i in range(min(users, 10000)):
        email = logins.user_email(i)
        body = urllib.parse.urlencode(
            {"grant_type": "password", "username": email, "password": logins.PASSWORD, "connection": realm}
        )
        service_lines.append(f"client-type: token\t\t{body}")
        body = urllib.parse.urlencode(
            {
                "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                "realm": realm,
                "username": email,
                "password": logins.PASSWORD,
                "client_id": "dev-token-client",
                "client_secret": "dev-token-secret",
                "scope": "openid profile email offline_access",
            }
        )
        tenant_lines.append(f"Accept: application/json\t\t{body}")
    service_file = write_handles(f"{work}/service-logins.bodies", service_lines)
    tenant_file = write_handles(f"{work}/tenant-logins.bodies", tenant_lines)
    threads, conns, seconds = cfg["threads"], cfg["login_connections"], cfg["login_seconds"]
    log(f"logins: {seconds:.0f} s of password-realm logins through auth0-client")
    service = load.logins(cfg["service"], service_file, cfg["service_pid"], threads, conns, seconds)
    log(f"  {service['rps']:.0f} logins/s, p99 {service['p99_us'] / 1000:.1f} ms, errors {service['errors']}")
    log(f"logins: {seconds:.0f} s of the same grant at the devtenant directly")
    tenant = load.logins(cfg["tenant"], tenant_file, cfg["tenant_pid"], threads, conns, seconds)
    log(f"  {tenant['rps']:.0f} logins/s, p99 {tenant['p99_us'] / 1000:.1f} ms, errors {tenant['errors']}")
    return {"service": service, "tenant": tenant}


def management_tokens(cfg: dict) -> dict:
    """`calls` GET /users through auth0-client and the client_credentials grants they cost."""
    calls = cfg["management_calls"]

    def grants() -> int:
        stats = httpc.request("GET", f"{cfg['tenant']}/__devtenant/stats").json()
        return int(stats.get("token_grants", {}).get("client_credentials", 0))

    before = grants()
    statuses = {}
    log(f"management: {calls} GET /users through auth0-client")
    started = time.monotonic()

    def call(i: int) -> int:
        resp = httpc.request("GET", f"{cfg['service']}/users?_l=10&_sk={i % 5}")
        return resp.status

    results, failed, error = logins._parallel(calls, 8, call)
    seconds = time.monotonic() - started
    for status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    after = grants()
    out = {
        "calls": calls,
        "statuses": statuses,
        "failed": failed,
        "error": error,
        "seconds": seconds,
        "grants_before": before,
        "grants_after": after,
        "token_fetches": after - before,
    }
    log(f"  statuses {statuses}, {after - before} client_credentials grants, {calls / seconds:.0f} calls/s")
    return out


def config_from_env() -> dict:
    work = env("BENCH_WORK")
    service = {"url": env("BENCH_SERVICE_URL"), "path": "/userinfo", "pid": int(env("BENCH_SERVICE_PID"))}
    service_off = {"url": env("BENCH_SERVICE_OFF_URL"), "path": "/userinfo", "pid": int(env("BENCH_SERVICE_OFF_PID"))}
    targets = {
        "floor": {"url": env("BENCH_FLOOR_URL"), "path": "/me", "pid": int(env("BENCH_FLOOR_PID"))},
        "noio": {"url": env("BENCH_NOIO_URL"), "path": "/me", "pid": int(env("BENCH_NOIO_PID"))},
        "bearer": dict(service),
        "cookie": dict(service),
        "bearer_off": dict(service_off),
        "cookie_off": dict(service_off),
    }
    if os.environ.get("BENCH_PEER_URL"):
        targets["peer"] = {"url": env("BENCH_PEER_URL"), "path": "/me", "pid": int(env("BENCH_PEER_PID"))}
    if os.environ.get("BENCH_OIDC_URL"):
        targets["oidc"] = {"url": env("BENCH_OIDC_URL"), "path": "/redirect_uri?info=json", "pid": int(env("BENCH_OIDC_PID"))}
        if env("OIDC_STATIC", "1") != "0":
            targets["oidc_static"] = {**targets["oidc"], "path": "/user.json"}
    return {
        "work": work,
        "n": int(env("N")),
        "users": int(env("BENCH_USERS")),
        "cookie_share": float(env("COOKIE_SHARE", "0.2")),
        "login_concurrency": int(env("LOGIN_CONCURRENCY", "8")),
        "peer_login_seconds": float(env("PEER_LOGIN_SECONDS", "180")),
        "rounds": int(env("ROUNDS", "3")),
        "duration": float(env("DURATION", "10")),
        "threads": int(env("THREADS", "2")),
        "connections": int(env("CONNECTIONS", "64")),
        "login_seconds": float(env("LOGIN_SECONDS", "10")),
        "login_connections": int(env("LOGIN_CONNECTIONS", "16")),
        "management_calls": int(env("MANAGEMENT_CALLS", "1000")),
        "service": env("BENCH_SERVICE_URL"),
        "service_pid": int(env("BENCH_SERVICE_PID")),
        "service_off": env("BENCH_SERVICE_OFF_URL"),
        "noio": env("BENCH_NOIO_URL"),
        "oidc": os.environ.get("BENCH_OIDC_URL"),
        "trials": int(env("TRIALS", "1000")),
        "tenant": env("BENCH_TENANT_URL"),
        "tenant_pid": int(env("BENCH_TENANT_PID")),
        "floor": env("BENCH_FLOOR_URL"),
        "peer": os.environ.get("BENCH_PEER_URL"),
        "redis_port": int(env("BENCH_REDIS_PORT")),
        "targets": targets,
        "facts": json.loads(env("BENCH_FACTS", "{}")),
    }


def run() -> None:
    cfg = config_from_env()
    results = {"config": {k: v for k, v in cfg.items() if k != "targets"}, "started": time.time()}
    results["sessions"] = sessions(cfg)
    instances = {"cache_on": cfg["service"], "cache_off": cfg["service_off"]}
    warm_up(cfg)
    metrics_before = {key: cache_metrics(url) for key, url in instances.items()}
    results["load"] = load_rounds(cfg)
    results["cache_metrics"] = {
        key: counters.metrics_between(metrics_before[key], cache_metrics(url)) for key, url in instances.items()
    }
    results["memory_after_load"] = {name: load.memory_kb(t["pid"]) for name, t in cfg["targets"].items()}
    if cfg["trials"] > 0:
        results["invalidation"] = invalidation_trials(cfg)
    results["logins"] = login_throughput(cfg)
    results["management"] = management_tokens(cfg)
    results["finished"] = time.time()
    with open(f"{cfg['work']}/results.json", "w") as out:
        json.dump(results, out, indent=1)
    markdown = report.render(results)
    path = env("BENCH_REPORT")
    with open(path, "w") as out:
        out.write(markdown)


def main(argv) -> None:
    if len(argv) in (3, 4) and argv[0] == "tenant-file":
        with open(argv[2], "w") as out:
            json.dump(logins.tenant_file(int(argv[1]), argv[3] if len(argv) == 4 else None), out)
    elif argv == ["run"]:
        run()
    elif len(argv) == 2 and argv[0] == "report":
        with open(argv[1]) as f:
            print(report.render(json.load(f)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
