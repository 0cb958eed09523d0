"""The markdown report of one benchmark run (results.json -> tables)."""

import statistics
import time

import counters

LABELS = {
    "floor": "Redis-GET floor: axum + one Redis GET, `GET /me` (Bearer)",
    "noio": "no-I/O floor: axum + an in-memory map, `GET /me` (Bearer)",
    "bearer": "auth0-client, cache on, `GET /userinfo` (Bearer)",
    "cookie": "auth0-client, cache on, `GET /userinfo` (`sid` cookie)",
    "bearer_off": "auth0-client, cache off, `GET /userinfo` (Bearer)",
    "cookie_off": "auth0-client, cache off, `GET /userinfo` (`sid` cookie)",
    "peer": "express-openid-connect + connect-redis, `GET /me` (cookie)",
    "oidc": "Apache httpd + mod_auth_openidc, info hook `GET /redirect_uri?info=json` (cookie)",
    "oidc_static": "Apache httpd + mod_auth_openidc, static `GET /user.json` behind `Require valid-user` (cookie)",
}

# The targets of issue 17 (the session cache), for the cache-on instance.
CACHE_TARGETS = {
    "floor_ratio": 1.5,
    "noio_ratio": 0.7,
    "oidc_ratio": 2.0,
    "oidc_p99_ratio": 0.5,
    "invalidation_p99_ms": 5.0,
    "redis_per_request": 0.05,
    "rss_mb": 40.0,
    "rss_sessions": 10_000,
}

# The earlier targets (set before the cache), for the cache-off instance.
TARGETS = {
    "floor_ratio": 0.8,
    "peer_ratio": 5.0,
    "p99_ratio": 0.2,
    "rss_mb": 30.0,
}


def ms(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def summary(runs) -> dict:
    """Medians over the rounds (and the spread of requests/s), total errors, the highest RSS,
    answer size, and the Redis commands of all rounds per request (None when not read)."""
    rps = [r["rps"] for r in runs]
    requests = sum(r["requests"] for r in runs)
    out = {
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_us": statistics.median(r["p50_us"] for r in runs),
        "p99_us": statistics.median(r["p99_us"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "requests": requests,
        "bytes_per_answer": sum(r.get("bytes", 0) for r in runs) / max(requests, 1),
        "peak_rss_kb": max(r["peak_rss_kb"] for r in runs),
        "hwm_kb": max(r.get("hwm_kb", 0) for r in runs),
        "redis": None,
    }
    if all("redis_commands" in r for r in runs):
        total = {}
        for r in runs:
            total = counters.add_commands(total, r["redis_commands"])
        out["redis"] = counters.per_request(total, requests)
    return out


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def by_command(per: dict, limit: int = 4) -> str:
    """`get 1.000, client|tracking 0.001` (the largest `limit`, then how many more)."""
    items = list(per["by_command"].items())
    text = ", ".join(f"`{name}` {value:.3f}" for name, value in items[:limit])
    if len(items) > limit:
        text += f", {len(items) - limit} more"
    return text or "none"


def header(results: dict) -> list:
    cfg = results["config"]
    facts = cfg.get("facts", {})
    sessions = results["sessions"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(results["started"]))
    lines = [
        f"# auth0-client benchmark, {when}",
        "",
        f"- machine: {facts.get('cpu', '?')}, {facts.get('cores', '?')} cores, {facts.get('memory', '?')};"
        f" everything on 127.0.0.1 (load generator included)",
        f"- code: `{facts.get('commit', '?')}`{facts.get('dirty', '')}; auth0-client `LOG_LEVEL={facts.get('log_level', '?')}`"
        f"{', sealed sessions (SESSION_ENCRYPTION_KEY)' if facts.get('sealed') else ''}"
        f"{'; Redis over TLS for the floor and auth0-client (REDIS_TLS=1; the peer on plain TCP)' if facts.get('redis_tls') else ''}; redis-server {facts.get('redis', '?')};"
        f" node {facts.get('node', '?')}; peer packages {facts.get('peer_packages', '?')}",
    ]
    if "cache_size" in facts:
        lines.append(
            f"- auth0-client twice on the same Redis and sessions: cache on (`SESSION_CACHE_SIZE` {facts['cache_size']})"
            " and cache off (`SESSION_CACHE_SIZE=0`)"
        )
    if facts.get("oidc_peer") and facts["oidc_peer"] != "(not run)":
        lines.append(f"- mod_auth_openidc peer: {facts['oidc_peer']}")
    lines += [
        f"- load: `wrk -t{cfg['threads']} -c{cfg['connections']} -d{cfg['duration']:g}s` per run, {cfg['rounds']} rounds,"
        f" targets alternated (order reversed every other round), after a 2 s warm-up each; each run rotates"
        f" over all the target's handles. Figures are medians over the rounds; requests/s spread in brackets.",
        f"- sessions: auth0-client {sessions['bearer']['count']} bearer (token client) + {sessions['cookie']['count']}"
        f" cookie (website client), all real password logins of {cfg['users']} distinct users"
        f" ({sessions['bearer']['failed'] + sessions['cookie']['failed']} failed);"
        f" floor: {sessions['floor']['count']} keys for the same tokens"
        f" ({'copies of the service records, ' if sessions['floor']['copied'] else ''}{sessions['floor']['record_bytes']} bytes each)"
        f"{'; no-I/O floor: ' + str(sessions['noio']['count']) + ' digests in its map' if 'noio' in sessions else ''}.",
    ]
    for key, name, flow in (
        ("peer", "peer", "`/login` -> tenant `/authorize` -> login form -> `/callback`"),
        ("oidc", "mod_auth_openidc", "protected `/login` -> tenant `/authorize` -> login form -> `/redirect_uri`"),
    ):
        peer = sessions.get(key)
        if not peer:
            continue
        note = ""
        if peer["count"] < peer["wanted"]:
            note = (
                f" **Fewer than N**: its login flow ran {peer['count'] / max(peer['seconds'], 1e-9):.0f} logins/s,"
                f" stopped after {peer['seconds']:.0f} s."
            )
        lines.append(
            f"- {name} sessions: {peer['count']} of {peer['wanted']} through its own login flow"
            f" ({flow}) in {peer['seconds']:.0f} s, {peer['failed']} failed.{note}"
        )
    return lines


def hot_path(stats: dict) -> list:
    lines = [
        "",
        "## Hot path",
        "",
        "| target | requests/s | p50 | p99 | errors | bytes/answer | Redis commands/request | peak RSS under load | VmHWM |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in stats.items():
        redis = f"{s['redis']['total']:.3f}" if s["redis"] else "-"
        lines.append(
            f"| {LABELS.get(name, name)} | {s['rps']:,.0f} ({s['rps_min']:,.0f}-{s['rps_max']:,.0f}) | {ms(s['p50_us'])}"
            f" | {ms(s['p99_us'])} | {s['errors']} of {s['requests']:,} | {s['bytes_per_answer']:,.0f} | {redis}"
            f" | {mb(s['peak_rss_kb'])} | {mb(s['hwm_kb'])} |"
        )
    lines += [
        "",
        "Errors are socket errors, timeouts and answers >= 400 (wrk's count). Bytes/answer: wrk's bytes read"
        " per answer, headers included.",
    ]
    return lines


def redis_commands(stats: dict) -> list:
    rows = [(name, s) for name, s in stats.items() if s["redis"]]
    if not rows:
        return []
    lines = [
        "",
        "## Redis commands per request",
        "",
        "`INFO commandstats` read before and after each measured run (its own `INFO` taken out), divided by"
        " the run's answers; all rounds together. Anything else on the same redis-server during a run"
        " (the other instances' background work) is counted too.",
        "",
        "| target | commands/request | by command (per request) |",
        "| --- | ---: | --- |",
    ]
    for name, s in rows:
        lines.append(f"| {LABELS.get(name, name)} | {s['redis']['total']:.3f} | {by_command(s['redis'])} |")
    return lines


def cache_section(results: dict) -> list:
    metrics = results.get("cache_metrics")
    if metrics is None:
        return []
    lines = ["", "## Session cache counters", ""]
    if not any(metrics.values()):
        return lines + [
            "Neither instance exports `session_cache_*` metrics: this build has no session cache, so"
            " \"cache on\" and \"cache off\" ran the same code."
        ]
    lines += [
        "Increase of each instance's `/-/metrics` counters over the measured rounds (after the warm-up).",
        "",
        "| instance | hits | misses | hit ratio | invalidations | flushes |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("cache_on", "cache on"), ("cache_off", "cache off (`SESSION_CACHE_SIZE=0`)")):
        m = metrics.get(key, {})
        if not m:
            lines.append(f"| {label} | - | - | - | - | - |")
            continue
        hits, misses = m.get("session_cache_hits_total", 0), m.get("session_cache_misses_total", 0)
        ratio = f"{hits / (hits + misses):.4f}" if hits + misses else "-"
        lines.append(
            f"| {label} | {hits:,.0f} | {misses:,.0f} | {ratio} | {m.get('session_cache_invalidations_total', 0):,.0f}"
            f" | {m.get('session_cache_flushes_total', 0):,.0f} |"
        )
    return lines


def us(value) -> str:
    return "-" if value is None else f"{value / 1000:.3f} ms"


def invalidation_section(results: dict) -> list:
    inv = results.get("invalidation")
    if not inv:
        return []
    lines = [
        "",
        "## Invalidation latency",
        "",
        "Per trial: a fresh session (password login, token client); B answers `/userinfo` once (200),"
        " A answers `GET /logout`, then B is asked again on its keep-alive connection until it answers 401."
        " Latency: from A's answer read to B's 401 read (`time.perf_counter_ns`, one Python client), so it"
        " includes B's last round trip; that round trip's median is the resolution. Stale answers: 200s"
        " B gave after A's logout answer. Gave up: no 401 within 2 s.",
        "",
        "| B | trials | p50 | p99 | max | 401 on the first poll | stale answers | gave up | errors | B round trip (p50) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("cache_on", "cache on (A: cache off)"), ("cache_off", "cache off (control; A: cache on)")):
        s = inv.get(key)
        if not s:
            continue
        lines.append(
            f"| {label} | {s['measured']} of {s['trials']} | {us(s['p50_us'])} | {us(s['p99_us'])} | {us(s['max_us'])}"
            f" | {s['first_poll']} | {s['stale_answers']} | {s['gave_up']} | {s['errors']} | {us(s['rtt_p50_us'])} |"
        )
        if s.get("first_error"):
            lines.append(f"| | first error: {s['first_error']} | | | | | | | | |")
    return lines


def cache_targets(results: dict, stats: dict) -> list:
    """The issue-17 targets, for the cache-on instance."""
    t = CACHE_TARGETS
    rows = []
    floor, noio, oidc = stats.get("floor"), stats.get("noio"), stats.get("oidc")
    for name, label in (("bearer", "Bearer"), ("cookie", "cookie")):
        s = stats.get(name)
        if not s:
            continue
        if floor:
            r = s["rps"] / floor["rps"]
            rows.append(f"| cache on, {label}: requests/s vs Redis-GET floor | >= {t['floor_ratio']:g}x | {r:.2f}x | {verdict(r >= t['floor_ratio'])} |")
        if noio:
            r = s["rps"] / noio["rps"]
            rows.append(f"| cache on, {label}: requests/s vs no-I/O floor | >= {t['noio_ratio']:g}x | {r:.2f}x | {verdict(r >= t['noio_ratio'])} |")
        if oidc:
            r = s["rps"] / oidc["rps"]
            rows.append(f"| cache on, {label}: requests/s vs mod_auth_openidc | >= {t['oidc_ratio']:g}x | {r:.2f}x | {verdict(r >= t['oidc_ratio'])} |")
            r = s["p99_us"] / max(oidc["p99_us"], 1)
            rows.append(f"| cache on, {label}: p99 vs mod_auth_openidc p99 | <= {t['oidc_p99_ratio']:g}x | {r:.2f}x | {verdict(r <= t['oidc_p99_ratio'])} |")
        if s["redis"]:
            r = s["redis"]["total"]
            rows.append(f"| cache on, {label}: Redis commands per `/userinfo` | <= {t['redis_per_request']:g} | {r:.3f} | {verdict(r <= t['redis_per_request'])} |")
    inv = (results.get("invalidation") or {}).get("cache_on")
    if inv:
        p99 = inv["p99_us"]
        ok = p99 is not None and p99 / 1000 <= t["invalidation_p99_ms"] and inv["gave_up"] == 0 and inv["errors"] == 0
        rows.append(
            f"| invalidation p99 (logout on A -> 401 on cache-on B), {inv['measured']} trials | <= {t['invalidation_p99_ms']:g} ms"
            f" | {us(p99)} | {verdict(ok)} |"
        )
    on = [stats[n]["peak_rss_kb"] for n in ("bearer", "cookie") if n in stats]
    if on:
        rss = max(on) / 1024
        n = results["config"].get("n")
        scope = f"{n:,} sessions" if n else "N sessions"
        note = "" if not n or n >= t["rss_sessions"] else f" (target set for {t['rss_sessions']:,})"
        rows.append(f"| cache on: peak RSS under load, {scope}{note} | <= {t['rss_mb']:g} MB | {rss:.1f} MB | {verdict(rss <= t['rss_mb'])} |")
    context = []
    for name, label in (("bearer", "Bearer"), ("cookie", "cookie")):
        if name in stats and f"{name}_off" in stats:
            context.append(f"| (context) {label}: cache on vs cache off requests/s | | {stats[name]['rps'] / stats[name + '_off']['rps']:.2f}x | |")
    static = stats.get("oidc_static")
    if static and "bearer" in stats:
        context.append(f"| (context) cache on, Bearer: requests/s vs mod_auth_openidc's static page | | {stats['bearer']['rps'] / static['rps']:.2f}x | |")
    if floor and noio:
        context.append(f"| (context) Redis-GET floor vs no-I/O floor requests/s | | {floor['rps'] / noio['rps']:.2f}x | |")
    if not rows or not any(k in stats for k in ("noio", "bearer_off", "cookie_off", "oidc")):
        return []  # a run from before the cache's bench
    return [
        "",
        "## Targets of the session cache (issue 17)",
        "",
        "| measure | target | measured | met |",
        "| --- | ---: | ---: | :---: |",
        *rows,
        *context,
    ]


def earlier_targets(stats: dict) -> list:
    """The targets set before the cache, for the cache-off instance (the cache-on one for a run
    that has no cache-off instance)."""
    off = "bearer_off" in stats or "cookie_off" in stats
    lines = [
        "",
        "## Earlier targets (" + ("cache off" if off else "auth0-client") + ")",
        "",
        "| measure | target | measured | met |",
        "| --- | ---: | ---: | :---: |",
    ]
    floor = stats.get("floor")
    peer_s = stats.get("peer")
    names = ("bearer_off", "cookie_off") if off else ("bearer", "cookie")
    for name in names:
        s = stats.get(name)
        if not s:
            continue
        label = "Bearer" if name.startswith("bearer") else "cookie"
        if floor:
            ratio = s["rps"] / floor["rps"]
            lines.append(f"| `/userinfo` {label} requests/s vs floor | >= {TARGETS['floor_ratio']}x | {ratio:.2f}x | {verdict(ratio >= TARGETS['floor_ratio'])} |")
        if peer_s:
            ratio = s["rps"] / peer_s["rps"]
            lines.append(f"| `/userinfo` {label} requests/s vs peer | >= {TARGETS['peer_ratio']:g}x | {ratio:.1f}x | {verdict(ratio >= TARGETS['peer_ratio'])} |")
            ratio = s["p99_us"] / max(peer_s["p99_us"], 1)
            lines.append(f"| `/userinfo` {label} p99 vs peer p99 | <= {TARGETS['p99_ratio']:g}x | {ratio:.2f}x | {verdict(ratio <= TARGETS['p99_ratio'])} |")
    rss = [stats[n]["peak_rss_kb"] for n in names if n in stats]
    if rss:
        service_rss = max(rss) / 1024
        lines.append(f"| auth0-client peak RSS under load | <= {TARGETS['rss_mb']:g} MB | {service_rss:.1f} MB | {verdict(service_rss <= TARGETS['rss_mb'])} |")
    if floor and peer_s:
        lines.append(f"| (context) floor vs peer requests/s | | {floor['rps'] / peer_s['rps']:.1f}x | |")
    return lines


def oidc_note(results: dict) -> list:
    if "oidc" not in results["load"]:
        return []
    return [
        "",
        "## How the mod_auth_openidc peer compares",
        "",
        "The targets use its `OIDCInfoHook` (`OIDCInfoHook userinfo`): `GET /redirect_uri?info=json` with the"
        " `mod_auth_openidc_session` cookie answers, as `/userinfo` does, the logged-in user's claims from the"
        " session (the userinfo endpoint's answer at login), and 401 without a session: the same work for the"
        " same answer. Like auth0-client it keeps the session server-side (`OIDCSessionType server-cache`) in"
        " the same redis-server (`OIDCCacheType redis`), so a request reads the session from Redis, and also"
        " reads the provider's metadata from there; its entries are encrypted (`OIDCCacheEncrypt On`, its"
        " default for Redis) exactly when auth0-client's are (`SEALED=1`), since that costs it about half its"
        " requests/s; the info hook"
        " does both in the access check and again when it answers (see the Redis commands above). It writes a"
        " session back at most once a minute (its inactivity timeout). Not counted against it: it copies no"
        " claims into request headers (`OIDCPassClaimsAs none`), writes no access log, and keeps connections"
        " alive without a request limit. The static page (a fixed JSON file behind `Require valid-user`, when"
        " measured) does the access check once and answers no claims: its figures bound what the hook could"
        " reach.",
    ]


def render(results: dict) -> str:
    cfg = results["config"]
    stats = {name: summary(runs) for name, runs in results["load"].items()}
    lines = header(results)
    lines += hot_path(stats)
    lines += cache_targets(results, stats)
    lines += earlier_targets(stats)
    lines += redis_commands(stats)
    lines += invalidation_section(results)
    lines += cache_section(results)
    lines += oidc_note(results)

    lg = results.get("logins")
    if lg:
        lines += [
            "",
            "## Logins",
            "",
            f"`wrk -t{cfg['threads']} -c{cfg['login_connections']} -d{cfg['login_seconds']:g}s`, password-realm grant"
            " (`connection=Username-Password-Authentication`), users rotated.",
            "",
            "| path | logins/s | p50 | p99 | errors | peak RSS |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for key, label in (
            ("service", "auth0-client `POST /oauth/token` end to end (devtenant + id_token check + session write)"),
            ("tenant", "devtenant `POST /oauth/token` alone (the upper bound here)"),
        ):
            r = lg[key]
            lines.append(
                f"| {label} | {r['rps']:,.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {r['errors']} of {r['requests']:,} | {mb(r['peak_rss_kb'])} |"
            )
    mg = results.get("management")
    if mg:
        failed = f", {mg['failed']} failed ({mg['error']})" if mg["failed"] else ""
        lines += [
            "",
            "## Management API token",
            "",
            f"{mg['calls']} `GET /users` through auth0-client (8 at a time, {mg['calls'] / max(mg['seconds'], 1e-9):.0f} calls/s):"
            f" answers {', '.join(f'{k}: {v}' for k, v in sorted(mg['statuses'].items()))}"
            f"{failed};"
            f" devtenant `token_grants.client_credentials` {mg['grants_before']} -> {mg['grants_after']}:"
            f" **{mg['token_fetches']} token fetch{'es' if mg['token_fetches'] != 1 else ''}**.",
        ]
    lines += [
        "",
        "## Every run",
        "",
        "| round | target | requests/s | p50 | p99 | errors | Redis commands/request | peak RSS |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in results["load"].items():
        for i, r in enumerate(runs, 1):
            redis = f"{sum(r['redis_commands'].values()) / max(r['requests'], 1):.3f}" if "redis_commands" in r else "-"
            lines.append(
                f"| {i} | {name} | {r['rps']:,.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {r['errors']} | {redis} | {mb(r['peak_rss_kb'])} |"
            )
    return "\n".join(lines) + "\n"
