"""Counters read around a measured run: Redis `INFO commandstats` and Prometheus text."""

CACHE_METRICS = (
    "session_cache_hits_total",
    "session_cache_misses_total",
    "session_cache_invalidations_total",
    "session_cache_flushes_total",
)


def parse_commandstats(text) -> dict:
    """`INFO commandstats` -> {command: calls}, e.g. `cmdstat_get:calls=3,usec=...` -> {"get": 3}.

    Subcommands keep Redis' own name (`client|tracking`)."""
    if isinstance(text, bytes):
        text = text.decode()
    calls = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("cmdstat_") or ":" not in line:
            continue
        name, fields = line[len("cmdstat_") :].split(":", 1)
        for field in fields.split(","):
            key, _, value = field.partition("=")
            if key == "calls":
                calls[name] = int(value)
    return calls


def commands_between(before: dict, after: dict, own_info_calls: int = 1) -> dict:
    """Calls per command between two readings, without the `INFO` that took the first one
    (a reading does not count itself). Commands that did not move are left out."""
    delta = {}
    for name, calls in after.items():
        moved = calls - before.get(name, 0)
        if name == "info":
            moved -= own_info_calls
        if moved > 0:
            delta[name] = moved
    return delta


def add_commands(total: dict, more: dict) -> dict:
    """Sum of two {command: calls} maps."""
    out = dict(total)
    for name, calls in more.items():
        out[name] = out.get(name, 0) + calls
    return out


def per_request(commands: dict, requests: int) -> dict:
    """{"total": commands per request, "by_command": {command: per request}}, largest first."""
    requests = max(requests, 1)
    ordered = sorted(commands.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "total": sum(commands.values()) / requests,
        "by_command": {name: calls / requests for name, calls in ordered},
    }


def parse_prometheus(text, names=CACHE_METRICS) -> dict:
    """The value of each metric in `names`, summed over its label sets; a metric the text does
    not have is absent from the result (the build does not export it)."""
    if isinstance(text, bytes):
        text = text.decode()
    wanted = set(names)
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name = head.split("{", 1)[0].strip()
        if name in wanted:
            try:
                out[name] = out.get(name, 0.0) + float(value)
            except ValueError:
                continue
    return out


def metrics_between(before: dict, after: dict) -> dict:
    """Increase of each counter present in `after`."""
    return {name: value - before.get(name, 0.0) for name, value in after.items()}
