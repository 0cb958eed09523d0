"""Processes of the fault harness: started, signalled, restarted and always stopped on exit."""

import os
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Named child processes, each logging to `<work>/<name>.log`; pids listed in `<work>/pids`
    so that the shell trap of faults.sh can stop them even when this process is killed."""

    def __init__(self, work: str):
        self.work = work
        self.running = {}
        self.pid_file = os.path.join(work, "pids")

    def start(self, name: str, argv, env=None, cwd=None) -> subprocess.Popen:
        if name in self.running and self.running[name].poll() is None:
            raise RuntimeError(f"{name} is already running")
        log = open(os.path.join(self.work, f"{name}.log"), "ab")
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        log.close()
        self.running[name] = proc
        with open(self.pid_file, "a") as pids:
            pids.write(f"{proc.pid}\n")
        return proc

    def pid(self, name: str) -> int:
        return self.running[name].pid

    def alive(self, name: str) -> bool:
        proc = self.running.get(name)
        return proc is not None and proc.poll() is None

    def signal(self, name: str, sig: int) -> None:
        proc = self.running.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)

    def wait(self, name: str, seconds: float) -> bool:
        """True when the process exited within `seconds`."""
        try:
            self.running[name].wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, name: str, grace: float = 5.0) -> None:
        proc = self.running.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self.running.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.running.clear()


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def wait_until(check, seconds: float, what: str, interval: float = 0.1):
    """Polls `check()` until it returns a true value (returned), at most `seconds`."""
    deadline = time.monotonic() + seconds
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as err:  # noqa: BLE001 - reported when the wait fails
            last_error = err
        time.sleep(interval)
    raise RuntimeError(f"{what} not within {seconds:g} s" + (f" (last error: {last_error})" if last_error else ""))

