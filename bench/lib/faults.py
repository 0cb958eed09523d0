"""The fault scenarios of bench/faults.sh: real redis-server (AOF; or master + replica + 3
sentinels), two auth0-client replicas behind HAProxy, the devtenant, and the load of traffic.py.

Environment (set by faults.sh): FAULTS_WORK, FAULTS_BIN, FAULTS_REPORT, FAULTS_SHORT,
FAULTS_SOAK_SECONDS, FAULTS_SCENARIOS, FAULTS_RPS, FAULTS_COMMIT.
Exit status 1 when a must-be-zero figure is not zero."""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import logins
import traffic
from procs import Procs, fd_count, free_port, wait_until
from resp import Redis
from load import memory_kb

ENV = os.environ
WORK = ENV["FAULTS_WORK"]
BIN = ENV["FAULTS_BIN"]
SHORT = ENV.get("FAULTS_SHORT", "0") not in ("", "0")
SOAK_SECONDS = float(ENV.get("FAULTS_SOAK_SECONDS") or (30 if SHORT else 120))
RPS = float(ENV.get("FAULTS_RPS") or 150)
USERS = 200
SCENARIOS = [s for s in (ENV.get("FAULTS_SCENARIOS") or "rolling,redis-crash,auth0,soak,slow-clients,sentinel").split(",") if s]

# HAProxy health checks and the shutdown delay they imply (the README's rule):
# DELAY_SHUTDOWN_SECONDS >= CHECK_INTER x CHECK_FALL + one request's time (1 s margin).
CHECK_INTER_MS = 1000
CHECK_FALL = 2
CHECK_RISE = 2
DELAY_SHUTDOWN = int(ENV.get("FAULTS_DELAY_SHUTDOWN") or CHECK_INTER_MS * CHECK_FALL // 1000 + 1)
AUTH0_TIMEOUT = 5.0  # crates/auth0-client/src/auth0/authentication.rs CALL_TIMEOUT
# Server-side connection limits (another change adds them; ignored by builds without it).
SERVER_LIMITS = {
    "HTTP_HEADER_READ_TIMEOUT_SECONDS": "5",
    "HTTP_IDLE_TIMEOUT_SECONDS": "30",
    "HTTP_MAX_CONNECTIONS": "4096",
}


def say(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S', time.gmtime())}] {message}", file=sys.stderr, flush=True)


def redis_ping(port: int) -> bool:
    try:
        r = Redis("127.0.0.1", port, timeout=1)
        try:
            return r.command("PING") == "PONG"
        finally:
            r.close()
    except (OSError, RuntimeError, ConnectionError):
        return False


def http_status(url: str, timeout: float = 2) -> int:
    client = traffic.Client(url, timeout=timeout)
    status, _, _ = client.request("GET", urllib_path(url))
    client.close()
    return status


def urllib_path(url: str) -> str:
    rest = url.split("://", 1)[1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


class Stack:
    """Redis (standalone with AOF, or sentinel set), devtenant, replicas a and b, HAProxy."""

    def __init__(self, procs: Procs, tenant_url: str, mode: str):
        self.procs = procs
        self.tenant_url = tenant_url
        self.mode = mode
        self.dir = os.path.join(WORK, mode)
        os.makedirs(self.dir, exist_ok=True)
        self.redis_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.ports = {"a": free_port(), "b": free_port()}
        self.front_port = free_port()
        self.front = f"http://127.0.0.1:{self.front_port}"

    # --- redis ---------------------------------------------------------------------------
    def redis_argv(self, port: int, name: str, replica_of=None):
        data = os.path.join(self.dir, name)
        os.makedirs(data, exist_ok=True)
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", data,
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "no"]
        if replica_of:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        return argv

    def start_redis(self):
        self.procs.start("redis", self.redis_argv(self.redis_port, "redis"))
        wait_until(lambda: redis_ping(self.redis_port), 30, "redis-server answering PING")

    def start_sentinels(self):
        self.start_redis()
        self.procs.start("replica", self.redis_argv(self.replica_port, "replica", self.redis_port))
        for i, port in enumerate(self.sentinel_ports):
            conf = os.path.join(self.dir, f"sentinel-{i}.conf")
            with open(conf, "w") as f:
                f.write(f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                        f"sentinel monitor mymaster 127.0.0.1 {self.redis_port} 2\n"
                        "sentinel down-after-milliseconds mymaster 1000\n"
                        "sentinel failover-timeout mymaster 5000\n"
                        "sentinel parallel-syncs mymaster 1\n")
            self.procs.start(f"sentinel-{i}", ["redis-server", conf, "--sentinel"])

        def ready():
            for port in self.sentinel_ports:
                r = Redis("127.0.0.1", port, timeout=1)
                try:
                    fields = r.command("SENTINEL", "MASTER", "mymaster")
                finally:
                    r.close()
                info = {fields[i].decode(): fields[i + 1].decode() for i in range(0, len(fields), 2)}
                if info.get("num-slaves") != "1" or info.get("num-other-sentinels") != "2":
                    return False
            return True

        wait_until(ready, 60, "sentinels seeing the replica and each other", interval=0.5)

    def master_port(self) -> int:
        r = Redis("127.0.0.1", self.sentinel_ports[0], timeout=1)
        try:
            return int(r.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")[1])
        finally:
            r.close()

    def data_port(self) -> int:
        return self.master_port() if self.mode == "sentinel" else self.redis_port

    # --- auth0-client replicas -----------------------------------------------------------
    def write_config(self):
        """The dev tenant's config.json as dev mode writes it (`dev --print-config`), with
        the token client as the default (bearer logouts name no client)."""
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            subprocess.run(
                [os.path.join(BIN, "auth0-client"), "dev", "--print-config", self.tenant_url,
                 "--default-client", "token"],
                check=True, stdout=f,
            )

    def service_env(self, name: str) -> dict:
        env = {
            "HTTP_PORT": str(self.ports[name]), "SERVICE_CONFIG_PATH": self.dir,
            "SERVICE_CONFIG_FILE_NAME": "config.json", "ORIGINAL_PROTOCOL_HEADER": "x-forwarded-proto",
            "LOG_LEVEL": "warn", "DELAY_SHUTDOWN_SECONDS": str(DELAY_SHUTDOWN), **SERVER_LIMITS,
        }
        if self.mode == "sentinel":
            env.update(REDIS_MODE="sentinel", REDIS_MASTER_NAME="mymaster",
                       REDIS_HOSTS=",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports))
        else:
            env["REDIS_HOSTS"] = f"127.0.0.1:{self.redis_port}"
        return env

    def start_service(self, name: str):
        self.procs.start(name, [os.path.join(BIN, "auth0-client"), "serve"], self.service_env(name))
        url = f"http://127.0.0.1:{self.ports[name]}/-/ready"

        def ready():
            if not self.procs.alive(name):
                raise RuntimeError(f"{name} exited (log: {WORK}/{name}.log)")
            return http_status(url) == 200

        wait_until(ready, 60, f"replica {name} ready")

    def service_pid(self, name: str) -> int:
        return self.procs.pid(name)

    # --- haproxy -------------------------------------------------------------------------
    def start_haproxy(self):
        self.stats_socket = os.path.join(self.dir, "haproxy.sock")
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f"""global
  maxconn 8000
  stats socket {self.stats_socket} mode 600 level admin
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 15s
  timeout http-keep-alive 10s
  retries 3
  option redispatch 1
frontend front
  bind 127.0.0.1:{self.front_port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /-/ready
  http-check expect status 200
  default-server inter {CHECK_INTER_MS}ms fall {CHECK_FALL} rise {CHECK_RISE}
  server a 127.0.0.1:{self.ports['a']} check
  server b 127.0.0.1:{self.ports['b']} check
""")
        self.procs.start("haproxy", ["haproxy", "-db", "-f", cfg])
        for name in ("a", "b"):
            self.wait_backend(name, "UP")

    def backend_status(self, name: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(self.stats_socket)
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        for line in data.decode().splitlines():
            cols = line.split(",")
            if len(cols) > 17 and cols[0] == "replicas" and cols[1] == name:
                return cols[17]
        return "?"

    def wait_backend(self, name: str, status: str, seconds: float = 30):
        def seen():
            if not self.procs.alive("haproxy"):
                raise RuntimeError(f"haproxy exited (log: {WORK}/haproxy.log)")
            return self.backend_status(name).startswith(status)

        wait_until(seen, seconds, f"HAProxy seeing {name} {status}")

    # --- whole stack ---------------------------------------------------------------------
    def start(self):
        if self.mode == "sentinel":
            self.start_sentinels()
        else:
            self.start_redis()
        self.write_config()
        self.start_service("a")
        self.start_service("b")
        self.start_haproxy()
        return self

    def stop(self):
        for name in ("haproxy", "a", "b", "sentinel-0", "sentinel-1", "sentinel-2", "replica", "redis"):
            self.procs.stop(name)


# --- helpers shared by the scenarios --------------------------------------------------------
def seed_sessions(stack: Stack, pool: traffic.Pool, count: int):
    client = traffic.Client(stack.front)
    for _ in range(count):
        status, _, session = traffic.login(client, USERS, pool)
        if session is None:
            raise RuntimeError(f"seeding a session: /oauth/token answered {status}")
        pool.add(session)
    client.close()


def lost_sessions(stack: Stack, sessions, tries: int = 20):
    """How many of `sessions` answer 401 now (a few retries of 503s while the service settles)."""
    client = traffic.Client(stack.front)
    lost = 0
    for session in sessions:
        for _ in range(tries):
            status, _ = traffic.userinfo(client, session.handle)
            if status in (200, 401):
                break
            time.sleep(0.2)
        lost += status == 401
    client.close()
    return lost


def prune(pool: traffic.Pool, load: traffic.Load):
    for session in pool.snapshot():
        if session.handle in load.unauthorized:
            pool.remove(session)


def tenant_control(tenant_url: str, method: str, path: str, body=None):
    client = traffic.Client(tenant_url)
    status, _, data = client.request(method, path, {"content-type": "application/json"},
                                     json.dumps(body) if body is not None else None)
    client.close()
    if status >= 300:
        raise RuntimeError(f"devtenant {method} {path} answered {status}: {data[:200]!r}")


def failed(events):
    return sum(1 for e in events if not 200 <= e[2] < 400 and not e[1].endswith("after logout"))


def failures_by_kind(events) -> str:
    out = {}
    for e in events:
        if not 200 <= e[2] < 400:
            out[f"{e[1]} {e[2]}"] = out.get(f"{e[1]} {e[2]}", 0) + 1
    return ", ".join(f"{k}: {v}" for k, v in sorted(out.items())) or "none"


def count(events, status):
    return sum(1 for e in events if e[2] == status)


# --- scenarios ------------------------------------------------------------------------------
def rolling(stack: Stack, pool: traffic.Pool) -> dict:
    """SIGTERM a, restart it, wait ready (and UP in HAProxy), then b: no failed request."""
    load = traffic.Load(stack.front, pool, USERS, RPS).start()
    time.sleep(3)
    started = time.time()
    drains = []
    for name in ("a", "b"):
        t0 = time.monotonic()
        stack.procs.signal(name, signal.SIGTERM)
        if not stack.procs.wait(name, DELAY_SHUTDOWN + 30):
            raise RuntimeError(f"replica {name} did not exit after SIGTERM")
        drains.append(time.monotonic() - t0)
        stack.procs.running.pop(name, None)
        stack.start_service(name)
        stack.wait_backend(name, "UP")
    ended = time.time()
    time.sleep(2)
    load.stop()
    events = traffic.window(load.events, started - 3)
    during = traffic.window(load.events, started, ended)
    prune(pool, load)
    return {
        "requests": len(events),
        "failed requests": failed(events),
        "401": count(events, 401),
        "failed logins/refreshes": failed(traffic.window(events, kinds={"login", "refresh"})),
        "p99 during restarts (ms)": round(1000 * traffic.percentile([e[3] for e in during], 0.99)),
        "restart took (s)": round(ended - started, 1),
        "drain per replica (s)": "/".join(f"{d:.1f}" for d in drains),
        "_must_be_zero": ["failed requests", "401"],
        "_errors": load.errors,
        "_statuses": traffic.statuses(events),
    }


def redis_crash(stack: Stack, pool: traffic.Pool) -> dict:
    """kill -9 redis-server under load, restart it from its AOF."""
    load = traffic.Load(stack.front, pool, USERS, RPS).start()
    time.sleep(5)
    crash = time.time()
    older = [s for s in pool.snapshot() if s.written < crash - 1]
    stack.procs.signal("redis", signal.SIGKILL)
    stack.procs.wait("redis", 10)
    stack.procs.running.pop("redis", None)
    time.sleep(3)
    stack.procs.start("redis", stack.redis_argv(stack.redis_port, "redis"))
    wait_until(lambda: redis_ping(stack.redis_port), 60, "redis-server back from its AOF")
    back = time.time()
    time.sleep(5)
    load.stop()
    events = traffic.window(load.events, crash - 5)
    outage = traffic.window(load.events, crash, back)
    after = traffic.window(load.events, back, kinds={"userinfo"})
    first_ok = next((e[0] for e in after if e[2] == 200), None)
    settled = (first_ok or back) + 2
    late_503 = sum(1 for e in traffic.window(load.events, settled) if e[2] == 503)
    other = sum(1 for e in events if e[2] not in (200, 204, 503))
    lost = lost_sessions(stack, older)
    recent = [s for s in pool.snapshot() if s.written >= crash - 1 and s.written < crash]
    recent_lost = lost_sessions(stack, recent)
    prune(pool, load)
    return {
        "requests": len(events),
        "sessions lost (written > 1 s before)": lost,
        "sessions checked": len(older),
        "recent writes lost (< 1 s, everysec)": f"{recent_lost}/{len(recent)}",
        "401": count(events, 401),
        "401 during outage": count(outage, 401),
        "503 later than 2 s after recovery": late_503,
        "answers other than 200/204/503": other,
        "503 answers": count(events, 503),
        "Redis down (s)": round(back - crash, 1),
        "recovery after Redis is back (s)": round(first_ok - back, 2) if first_ok else "never",
        "_must_be_zero": ["sessions lost (written > 1 s before)", "401", "503 later than 2 s after recovery",
                          "answers other than 200/204/503"],
        "_errors": load.errors,
        "_statuses": traffic.statuses(events),
    }


def sentinel(stack: Stack, pool: traffic.Pool) -> dict:
    """kill -9 the master under load; the sentinels promote the replica."""
    load = traffic.Load(stack.front, pool, USERS, RPS).start()
    time.sleep(4)
    old_master = stack.master_port()
    crash = time.time()
    older = [s for s in pool.snapshot() if s.written < crash - 1]
    stack.procs.signal("redis" if old_master == stack.redis_port else "replica", signal.SIGKILL)
    wait_until(lambda: stack.master_port() != old_master, 60, "sentinels promoting the replica", interval=0.2)
    promoted = time.time()
    time.sleep(6)
    load.stop()
    events = traffic.window(load.events, crash - 4)
    after = traffic.window(load.events, crash, kinds={"userinfo"})
    bad = [e[0] for e in after if e[2] != 200]
    lost = lost_sessions(stack, older)
    prune(pool, load)
    return {
        "requests": len(events),
        "sessions lost (written > 1 s before)": lost,
        "sessions checked": len(older),
        "401": count(events, 401),
        "answers other than 200/204/503": sum(1 for e in events if e[2] not in (200, 204, 503)),
        "503 answers": count(events, 503),
        "promotion took (s)": round(promoted - crash, 1),
        "recovered after the kill (s)": round(max(bad) - crash, 1) if bad else 0,
        "_must_be_zero": ["sessions lost (written > 1 s before)", "401", "answers other than 200/204/503"],
        "_errors": load.errors,
        "_statuses": traffic.statuses(events),
    }


def auth0_trouble(stack: Stack, pool: traffic.Pool, tenant_url: str) -> dict:
    """Access tokens of 2 s, so /userinfo refreshes at Auth0 all the time; then Auth0 slow (3 s),
    failing (503) and rate limiting (429) in turn, then healthy again."""
    phase_s = 4 if SHORT else 8
    ttl = {"seconds": 2}
    tenant_control(tenant_url, "POST", "/__devtenant/access-token-ttl", ttl)
    own = traffic.Pool()
    seed_sessions(stack, own, 20)
    time.sleep(2.5)
    load = traffic.Load(stack.front, own, USERS, RPS / 2, login_every=1, refresh_every=1).start()
    time.sleep(phase_s)
    phases = {}
    faults = [
        ("slow", {"pathPrefix": "/oauth/token", "latencyMs": 3000}),
        ("5xx", {"pathPrefix": "/oauth/token", "status": 503}),
        ("429", {"pathPrefix": "/oauth/token", "rateLimit": {"limit": 3, "windowMs": 1000}}),
    ]
    for name, fault in faults:
        tenant_control(tenant_url, "DELETE", "/__devtenant/faults")
        tenant_control(tenant_url, "POST", "/__devtenant/access-token-ttl", ttl)
        tenant_control(tenant_url, "POST", "/__devtenant/faults", fault)
        start = time.time()
        time.sleep(phase_s)
        phases[name] = (start, time.time())
    tenant_control(tenant_url, "DELETE", "/__devtenant/faults")
    tenant_control(tenant_url, "POST", "/__devtenant/access-token-ttl", ttl)
    healthy = time.time()
    time.sleep(phase_s + 2)
    load.stop()
    tenant_control(tenant_url, "DELETE", "/__devtenant/faults")
    first = min(p[0] for p in phases.values())
    trouble = traffic.window(load.events, first, healthy)
    after = traffic.window(load.events, healthy)
    bad_after = [e[0] for e in after if not 200 <= e[2] < 300]
    allowed = {200, 204, 429, 502, 503, 504}
    out = {
        "requests": len(load.events),
        "sessions lost": len(load.unauthorized),
        "401": count(load.events, 401),
        "answers other than 200/429/502/503/504": sum(1 for e in trouble if e[2] not in allowed),
    }
    for name, (start, end) in phases.items():
        events = traffic.window(load.events, start, end)
        out[f"{name}: p99 (ms)"] = round(1000 * traffic.percentile([e[3] for e in events], 0.99))
        out[f"{name}: answers"] = " ".join(f"{k}x{v}" for k, v in sorted(traffic.statuses(events).items()))
    worst = max(traffic.percentile([e[3] for e in traffic.window(load.events, s, e)], 0.99) for s, e in phases.values())
    out["p99 over the bound (Auth0 timeout 5 s + 100 ms)"] = int(worst > AUTH0_TIMEOUT + 0.1)
    out["recovered after healthy (s)"] = round(max(bad_after) - healthy, 1) if bad_after else 0
    out["_must_be_zero"] = ["sessions lost", "401", "answers other than 200/429/502/503/504",
                            "p99 over the bound (Auth0 timeout 5 s + 100 ms)"]
    out["_errors"] = load.errors
    return out


def slow_clients(stack: Stack, pool: traffic.Pool) -> dict:
    """2,000 idle keep-alive connections and 200 slowloris clients on replica a directly."""
    base = f"http://127.0.0.1:{stack.ports['a']}"
    pid = stack.service_pid("a")
    measure_s = 5 if SHORT else 10
    quiet = traffic.Load(base, pool, USERS, RPS, login_every=0, refresh_every=0).start()
    time.sleep(measure_s)
    quiet.stop()
    base_p99 = traffic.percentile([e[3] for e in quiet.events], 0.99)
    base_fds, base_rss = fd_count(pid), memory_kb(pid).get("VmRSS", 0)

    idle, slow = [], []
    request = f"GET /-/healthz HTTP/1.1\r\nHost: 127.0.0.1:{stack.ports['a']}\r\n\r\n".encode()
    refused = 0
    for _ in range(2000):
        try:
            s = socket.create_connection(("127.0.0.1", stack.ports["a"]), timeout=5)
            s.sendall(request)
            s.recv(4096)
            idle.append(s)
        except OSError:
            refused += 1
    for _ in range(200):
        try:
            s = socket.create_connection(("127.0.0.1", stack.ports["a"]), timeout=5)
            s.setblocking(False)
            s.send(b"GET /userinfo HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        except OSError:
            refused += 1
    peak = {"fds": fd_count(pid), "rss": memory_kb(pid).get("VmRSS", 0)}
    loaded = traffic.Load(base, pool, USERS, RPS, login_every=0, refresh_every=0).start()
    slow_closed = 0
    for tick in range(measure_s * 2 if not SHORT else measure_s + 3):
        for s in list(slow):
            try:
                s.send(b"X-a: b\r\n"[tick % 8:tick % 8 + 1])
            except BlockingIOError:
                pass
            except OSError:
                slow_closed += 1
                slow.remove(s)
                s.close()
        peak["fds"] = max(peak["fds"], fd_count(pid))
        peak["rss"] = max(peak["rss"], memory_kb(pid).get("VmRSS", 0))
        time.sleep(1 if tick % 2 else 0.5)
    loaded.stop()
    idle_open = 0
    for s in idle:
        s.setblocking(False)
        try:
            idle_open += s.recv(1) != b""
        except BlockingIOError:
            idle_open += 1
        except OSError:
            pass
        s.close()
    for s in slow:
        s.close()
    loaded_p99 = traffic.percentile([e[3] for e in loaded.events], 0.99)
    return {
        "requests": len(loaded.events),
        "failed requests": failed(loaded.events),
        "p99 unloaded (ms)": round(1000 * base_p99, 1),
        "p99 with 2,000 idle + 200 slowloris (ms)": round(1000 * loaded_p99, 1),
        "p99 ratio (goal <= 2)": round(loaded_p99 / max(base_p99, 1e-6), 2),
        "fds before / peak": f"{base_fds} / {peak['fds']}",
        "RSS before / peak (MB)": f"{base_rss / 1024:.1f} / {peak['rss'] / 1024:.1f}",
        "connections refused": refused,
        "slowloris closed by the server": f"{slow_closed}/200",
        "idle still open at the end": f"{idle_open}/{len(idle)}",
        "_must_be_zero": ["failed requests"],
        "_errors": loaded.errors,
    }


def soak(stack: Stack, tenant_url: str, shared: traffic.Pool) -> dict:
    """Mixed load (logins, refreshes, logouts, /authorize starts, transparent refreshes of
    5 s tokens) for FAULTS_SOAK_SECONDS; memory and fds sampled; Redis keys audited after.
    Redis is emptied first, so the soak's sessions replace the `shared` ones afterwards."""
    r = Redis("127.0.0.1", stack.data_port())
    r.command("FLUSHALL")
    tenant_control(tenant_url, "POST", "/__devtenant/access-token-ttl", {"seconds": 5})
    pool = traffic.Pool()
    seed_sessions(stack, pool, 40)
    load = traffic.Load(stack.front, pool, USERS, RPS, login_every=0.5, refresh_every=0.5,
                        logout_every=0.5, authorize_every=1, min_sessions=40).start()
    pids = {name: stack.service_pid(name) for name in ("a", "b")}
    started = time.monotonic()
    mark = min(60.0, SOAK_SECONDS / 4)
    samples = []
    at_mark = None
    while time.monotonic() - started < SOAK_SECONDS:
        time.sleep(2)
        sample = {n: (memory_kb(p).get("VmRSS", 0), fd_count(p)) for n, p in pids.items()}
        samples.append(sample)
        if at_mark is None and time.monotonic() - started >= mark:
            at_mark = sample
    load.stop()
    end = samples[-1]
    tenant_control(tenant_url, "DELETE", "/__devtenant/faults")
    time.sleep(11)  # moved handles (explicit refresh) keep working for 10 s
    # One more explicit refresh of every session: each rotation prunes its user's index of
    # handles whose grace has ended, so after it no index entry may point at nothing.
    client = traffic.Client(stack.front)
    grace_copies = set()
    final_failures = 0
    for session in pool.snapshot():
        body = json.dumps({"refresh_token": session.refresh})
        status, _, data = client.request("POST", "/oauth/refreshtoken", {
            "authorization": f"Bearer {session.handle}", "content-type": "application/json"}, body)
        if status != 200:
            final_failures += 1
            continue
        answer = json.loads(data)
        grace_copies.add(logins_hash(session.handle))
        session.handle, session.refresh = answer["accessToken"], answer.get("refreshToken") or session.refresh
    client.close()
    with shared.lock:
        shared.sessions[:] = pool.snapshot()
    live = {logins_hash(s.handle) for s in pool.snapshot()}
    keys = r.scan_keys("auth0-client:*")
    kinds = {}
    for key in keys:
        kind = key.split(":", 2)[2].split(":", 1)[0].split("{", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    session_keys = {k.rsplit("{", 1)[1].rstrip("}") for k in keys if ":session:" in k}
    no_ttl = [k for k in keys if not k.endswith("active-users") and r.command("PTTL", k) < 0]
    index_members = set()
    stale_of_live, stale_of_ended = 0, 0
    for key in keys:
        if ":user:" in key:
            members = {m.decode() for m in r.command("SMEMBERS", key)}
            index_members |= members
            if members & session_keys:
                stale_of_live += len(members - session_keys)
            else:
                stale_of_ended += len(members)
    states = [k for k in keys if ":state:" in k]
    states_ttl_ok = all(0 < r.command("PTTL", k) <= 600_000 for k in states)
    r.close()
    rss_growth = max((end[n][0] - at_mark[n][0]) / max(at_mark[n][0], 1) for n in pids) if at_mark else 0
    fd_growth = max(end[n][1] - at_mark[n][1] for n in pids) if at_mark else 0
    return {
        "seconds": int(SOAK_SECONDS),
        "requests": len(load.events),
        "failed requests": failed(load.events),
        "RSS a/b at mark (MB)": "/".join(f"{at_mark[n][0] / 1024:.1f}" for n in pids) if at_mark else "-",
        "RSS a/b at end (MB)": "/".join(f"{end[n][0] / 1024:.1f}" for n in pids),
        "mark (s)": int(mark),
        "RSS growth after mark (%)": round(100 * rss_growth, 1),
        "RSS grew more than 10% (checked in the full version)": int(rss_growth > 0.10) if not SHORT else "-",
        "fds grew by more than 5": int(fd_growth > 5),
        "fds a/b at mark / end": "/".join(str(at_mark[n][1]) for n in pids) + " / " + "/".join(str(end[n][1]) for n in pids) if at_mark else "-",
        "live sessions (clients)": len(live),
        "session keys": len(session_keys),
        "final refreshes failed": final_failures,
        "session keys without a client (beyond the grace copies)": len(session_keys - live - grace_copies),
        "live sessions without a key": len(live - session_keys),
        "state keys (abandoned /authorize, 10 min TTL)": len(states),
        "states without a TTL <= 10 min": int(not states_ttl_ok),
        "lock keys": kinds.get("lock", 0),
        "explicit refreshes (rotations)": sum(1 for e in load.events if e[1] == "refresh" and e[2] == 200),
        "index entries without a session": len(index_members - session_keys),
        "of users with a live session": stale_of_live,
        "of users logged out within 10 s of a rotation": stale_of_ended,
        "keys without a TTL": len(no_ttl),
        "_must_be_zero": ["failed requests", "final refreshes failed",
                          "session keys without a client (beyond the grace copies)", "live sessions without a key",
                          "states without a TTL <= 10 min", "lock keys", "keys without a TTL",
                          "of users with a live session", "fds grew by more than 5"]
        + ([] if SHORT else ["RSS grew more than 10% (checked in the full version)"]),
        "failures by kind and status": failures_by_kind(load.events),
        "_errors": load.errors,
    }


def logins_hash(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


# --- report ---------------------------------------------------------------------------------
def report(results: dict, facts: dict) -> tuple:
    lines = [f"# Fault scenarios, {facts['date']}", ""]
    lines.append(f"Commit {facts['commit']}, {'short (CI) version' if SHORT else 'full version'}, "
                 f"{facts['cores']} cores (shared, load average {facts['load']} at the start), "
                 f"{facts['profile']} binaries, redis {facts['redis']}, {facts['haproxy']}; "
                 f"load {RPS:g} /userinfo per s + a login and a refresh every 0.5 s. "
                 "Figures are indicative: the machine is shared with other work.")
    lines.append("")
    lines.append(f"HAProxy checks `/-/ready` every {CHECK_INTER_MS} ms, fall {CHECK_FALL}, rise {CHECK_RISE}; "
                 f"`DELAY_SHUTDOWN_SECONDS={DELAY_SHUTDOWN}`; Redis `appendonly yes`, `appendfsync everysec`.")
    lines.append("")
    lines.append("| scenario | figure | value | goal |")
    lines.append("| --- | --- | ---: | --- |")
    violations = []
    for scenario, figures in results.items():
        if "error" in figures:
            lines.append(f"| {scenario} | **did not complete** | {figures['error']} | |")
            violations.append(f"{scenario}: {figures['error']}")
            continue
        zero = set(figures.get("_must_be_zero", []))
        for name, value in figures.items():
            if name.startswith("_"):
                continue
            goal = "0" if name in zero else ""
            if name == "RSS growth after mark (%)":
                goal = "<= 10"
            if name == "p99 ratio (goal <= 2)":
                goal = "<= 2"
            lines.append(f"| {scenario} | {name} | {value} | {goal} |")
            if name in zero and value != 0:
                violations.append(f"{scenario}: {name} = {value}")
        if figures.get("_errors"):
            lines.append(f"| {scenario} | first client errors | {'; '.join(f'{k}: {v}' for k, v in figures['_errors'].items())[:300]} | |")
    lines.append("")
    if violations:
        lines.append("**Must-be-zero figures that are not:** " + "; ".join(violations))
    else:
        lines.append("Every must-be-zero figure is 0.")
    lines.append("")
    return "\n".join(lines), violations


def main() -> int:
    procs = Procs(WORK)
    results = {}

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        tenant_file = os.path.join(WORK, "tenant.json")
        with open(tenant_file, "w") as f:
            json.dump(logins.tenant_file(USERS), f)
        tenant_port = free_port()
        tenant_url = f"http://127.0.0.1:{tenant_port}"
        procs.start("devtenant", [os.path.join(BIN, "auth0-devtenant"), "--port", str(tenant_port),
                                  "--config", tenant_file], {"RUST_LOG": "warn"})
        wait_until(lambda: http_status(f"{tenant_url}/.well-known/openid-configuration") == 200, 60, "devtenant")
        standalone = [s for s in SCENARIOS if s != "sentinel"]
        if standalone:
            say("standalone Redis (AOF) + 2 replicas + HAProxy")
            stack = Stack(procs, tenant_url, "standalone").start()
            pool = traffic.Pool()
            seed_sessions(stack, pool, 40)
            for name in standalone:
                say(f"scenario {name}")
                try:
                    if name == "rolling":
                        results[name] = rolling(stack, pool)
                    elif name == "redis-crash":
                        results[name] = redis_crash(stack, pool)
                    elif name == "auth0":
                        results[name] = auth0_trouble(stack, pool, tenant_url)
                    elif name == "slow-clients":
                        results[name] = slow_clients(stack, pool)
                    elif name == "soak":
                        results[name] = soak(stack, tenant_url, pool)
                    else:
                        raise RuntimeError(f"unknown scenario {name}")
                except RuntimeError as err:
                    results[name] = {"error": str(err)}
                say(f"{name}: {json.dumps({k: v for k, v in results[name].items() if not k.startswith('_')})}")
            stack.stop()
        if "sentinel" in SCENARIOS:
            say("sentinel set (master + replica + 3 sentinels) + 2 replicas + HAProxy")
            stack = Stack(procs, tenant_url, "sentinel").start()
            pool = traffic.Pool()
            seed_sessions(stack, pool, 40)
            try:
                results["sentinel"] = sentinel(stack, pool)
            except RuntimeError as err:
                results["sentinel"] = {"error": str(err)}
            say(f"sentinel: {json.dumps({k: v for k, v in results['sentinel'].items() if not k.startswith('_')})}")
            stack.stop()
    finally:
        procs.stop_all()
    facts = json.loads(ENV.get("FAULTS_FACTS", "{}"))
    text, violations = report(results, facts)
    with open(ENV["FAULTS_REPORT"], "w") as f:
        f.write(text)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    print(text)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
