"""Load runs with wrk, and the memory of the process under load sampled from /proc."""

import json
import os
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _process_memory_kb(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def process_tree(pid: int) -> list:
    """`pid` and its descendants (httpd's workers are child processes)."""
    pids, i = [pid], 0
    while i < len(pids):
        try:
            for task in os.listdir(f"/proc/{pids[i]}/task"):
                with open(f"/proc/{pids[i]}/task/{task}/children") as children:
                    pids.extend(int(c) for c in children.read().split())
        except OSError:
            pass
        i += 1
    return pids


def memory_kb(pid: int) -> dict:
    """VmRSS and VmHWM in kB of `pid`, summed over its child processes when it has any (an
    upper bound for them: pages they share are counted in each); empty when it is gone."""
    out = {}
    for member in process_tree(pid):
        for name, value in _process_memory_kb(member).items():
            out[name] = out.get(name, 0) + value
    return out


class RssSampler:
    """Samples VmRSS of a process every `interval` seconds while running."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, memory_kb(self.pid).get("VmRSS", 0))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, memory_kb(self.pid).get("VmRSS", 0))


def wrk(url: str, script: str, args, threads: int, connections: int, seconds: float, timeout_s: int = 10):
    """One wrk run; returns the RESULT line of the script's done() as a dict."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        f"--timeout={timeout_s}s",
        "-s",
        os.path.join(HERE, script),
        url,
        "--",
        *[str(a) for a in args],
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            result["rps"] = result["requests"] * 1e6 / max(result["duration_us"], 1)
            result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
            return result
    raise RuntimeError(f"wrk gave no result (exit {proc.returncode}): {proc.stderr.strip()[:500]}")


def measure(target: dict, threads: int, connections: int, seconds: float) -> dict:
    """GET load on one target (`url`, `path`, `handles`, `pid`) with its peak RSS during the run."""
    with RssSampler(target["pid"]) as rss:
        result = wrk(
            target["url"], "rotate.lua", [target["handles"], target["path"], threads], threads, connections, seconds
        )
    result["peak_rss_kb"] = rss.peak_kb
    result["hwm_kb"] = memory_kb(target["pid"]).get("VmHWM", 0)
    return result


def logins(url: str, handles_file: str, pid: int, threads: int, connections: int, seconds: float) -> dict:
    """POST load at a token endpoint, one request body after another from `handles_file`."""
    with RssSampler(pid) as rss:
        result = wrk(url, "post.lua", [handles_file, "/oauth/token", threads], threads, connections, seconds)
    result["peak_rss_kb"] = rss.peak_kb
    return result


def warm_up(target: dict, threads: int, connections: int, seconds: float = 2) -> None:
    """A short unrecorded run (JIT, connection pools, allocator)."""
    wrk(target["url"], "rotate.lua", [target["handles"], target["path"], threads], threads, connections, seconds)
