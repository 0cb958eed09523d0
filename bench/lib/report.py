"""The markdown report of one benchmark run (results.json -> table)."""

import statistics
import time

LABELS = {
    "floor": "floor: axum + one Redis GET, `GET /me` (Bearer)",
    "bearer": "auth0-client `GET /userinfo` (Bearer)",
    "cookie": "auth0-client `GET /userinfo` (`sid` cookie)",
    "peer": "peer: express-openid-connect + connect-redis, `GET /me` (cookie)",
}

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
    """Medians over the rounds (and the spread of requests/s), total errors, the highest RSS."""
    rps = [r["rps"] for r in runs]
    return {
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_us": statistics.median(r["p50_us"] for r in runs),
        "p99_us": statistics.median(r["p99_us"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "peak_rss_kb": max(r["peak_rss_kb"] for r in runs),
        "hwm_kb": max(r.get("hwm_kb", 0) for r in runs),
    }


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render(results: dict) -> str:
    cfg = results["config"]
    facts = cfg.get("facts", {})
    sessions = results["sessions"]
    stats = {name: summary(runs) for name, runs in results["load"].items()}
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
        f"- load: `wrk -t{cfg['threads']} -c{cfg['connections']} -d{cfg['duration']:g}s` per run, {cfg['rounds']} rounds,"
        f" targets alternated (order reversed every other round), after a 2 s warm-up each; each run rotates"
        f" over all the target's handles. Figures are medians over the rounds; requests/s spread in brackets.",
        f"- sessions: auth0-client {sessions['bearer']['count']} bearer (token client) + {sessions['cookie']['count']}"
        f" cookie (website client), all real password logins of {cfg['users']} distinct users"
        f" ({sessions['bearer']['failed'] + sessions['cookie']['failed']} failed);"
        f" floor: {sessions['floor']['count']} keys for the same tokens"
        f" ({'copies of the service records, ' if sessions['floor']['copied'] else ''}{sessions['floor']['record_bytes']} bytes each).",
    ]
    peer = sessions.get("peer")
    if peer:
        note = ""
        if peer["count"] < peer["wanted"]:
            note = (
                f" **Fewer than N**: its login flow ran {peer['count'] / max(peer['seconds'], 1e-9):.0f} logins/s,"
                f" stopped after {peer['seconds']:.0f} s."
            )
        lines.append(
            f"- peer sessions: {peer['count']} of {peer['wanted']} through its own login flow"
            f" (`/login` -> tenant `/authorize` -> login form -> `/callback`) in {peer['seconds']:.0f} s,"
            f" {peer['failed']} failed.{note}"
        )
    lines += [
        "",
        "## Hot path",
        "",
        "| target | requests/s | p50 | p99 | errors | peak RSS under load | VmHWM |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in stats.items():
        lines.append(
            f"| {LABELS.get(name, name)} | {s['rps']:,.0f} ({s['rps_min']:,.0f}-{s['rps_max']:,.0f}) | {ms(s['p50_us'])}"
            f" | {ms(s['p99_us'])} | {s['errors']} of {s['requests']:,} | {mb(s['peak_rss_kb'])} | {mb(s['hwm_kb'])} |"
        )
    lines += ["", "Errors are socket errors, timeouts and answers >= 400 (wrk's count).", ""]
    lines += ["## Targets", "", "| measure | target | measured | met |", "| --- | ---: | ---: | :---: |"]
    floor = stats.get("floor")
    peer_s = stats.get("peer")
    for name in ("bearer", "cookie"):
        s = stats.get(name)
        if not s:
            continue
        label = "Bearer" if name == "bearer" else "cookie"
        if floor:
            ratio = s["rps"] / floor["rps"]
            lines.append(f"| `/userinfo` {label} requests/s vs floor | >= {TARGETS['floor_ratio']}x | {ratio:.2f}x | {verdict(ratio >= TARGETS['floor_ratio'])} |")
        if peer_s:
            ratio = s["rps"] / peer_s["rps"]
            lines.append(f"| `/userinfo` {label} requests/s vs peer | >= {TARGETS['peer_ratio']:g}x | {ratio:.1f}x | {verdict(ratio >= TARGETS['peer_ratio'])} |")
            ratio = s["p99_us"] / max(peer_s["p99_us"], 1)
            lines.append(f"| `/userinfo` {label} p99 vs peer p99 | <= {TARGETS['p99_ratio']:g}x | {ratio:.2f}x | {verdict(ratio <= TARGETS['p99_ratio'])} |")
    service_rss = max(stats[n]["peak_rss_kb"] for n in ("bearer", "cookie") if n in stats) / 1024
    lines.append(f"| auth0-client peak RSS under load | <= {TARGETS['rss_mb']:g} MB | {service_rss:.1f} MB | {verdict(service_rss <= TARGETS['rss_mb'])} |")
    if floor and peer_s:
        lines.append(f"| (context) floor vs peer requests/s | | {floor['rps'] / peer_s['rps']:.1f}x | |")

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
    lines += ["", "## Every run", "", "| round | target | requests/s | p50 | p99 | errors | peak RSS |", "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, runs in results["load"].items():
        for i, r in enumerate(runs, 1):
            lines.append(f"| {i} | {name} | {r['rps']:,.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {r['errors']} | {mb(r['peak_rss_kb'])} |")
    return "\n".join(lines) + "\n"
